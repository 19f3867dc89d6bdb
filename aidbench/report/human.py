"""The report's human evaluation: the newest `human-eval score` run, as a table and a chart of each
study's preferences per question (the paper's Fig. 7: each system's share, ties between them)."""

from __future__ import annotations

import io
from html import escape
from typing import Any

from aidbench.report.html import data_uri


def _percent(cell: dict[str, float]) -> str:
    return f"{100 * cell['value']:.0f}% [{100 * cell['ci_low']:.0f}, {100 * cell['ci_high']:.0f}]"


def _alpha(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def markdown(summary: dict[str, Any] | None) -> str:
    if summary is None:
        return ""
    lines = [
        "## Human evaluation (ours)",
        "",
        f"From `aidbench human-eval score` run {summary['run']}: each system's share of the answers with a 95% "
        "interval (crossed bootstrap over raters and pairs), ties apart; α is Krippendorff's agreement.",
        "",
        "| study | question | systems | A | ties | B | answers | α |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for study in summary["studies"]:
        a, b = study["systems"]["a"], study["systems"]["b"]
        for question, p in study["questions"].items():
            lines.append(
                f"| {study['study']} | {escape(question)} | {escape(a)} (A) vs {escape(b)} (B) | {_percent(p['a'])} "
                f"| {_percent(p['tie'])} | {_percent(p['b'])} | {p['answers']} ({p['raters']} raters × "
                f"{p['pairs']} pairs) | {_alpha(p['alpha'])} |"
            )
    for question, strengths in summary.get("bradley_terry", {}).items():
        ranked = ", ".join(f"{escape(s)} {v:.2f}" for s, v in sorted(strengths.items(), key=lambda x: -x[1]))
        lines.append(f"\nBradley–Terry strengths, {escape(question)}: {ranked}.")
    return "\n".join(lines) + "\n\n"


def chart(study: dict[str, Any]) -> bytes:
    """Stacked horizontal bars per question: A's share, ties, B's share, with A's and B's intervals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    questions = list(study["questions"])
    a, b = study["systems"]["a"], study["systems"]["b"]
    fig, ax = plt.subplots(figsize=(7, 0.6 + 0.55 * len(questions)))
    for y, question in enumerate(questions):
        p = study["questions"][question]
        share_a, tie, share_b = p["a"]["value"], p["tie"]["value"], p["b"]["value"]
        ax.barh(y, share_a, color="#3b6fb6", label=a if y == 0 else None)
        ax.barh(y, tie, left=share_a, color="#bbbbbb", label="tie" if y == 0 else None)
        ax.barh(y, share_b, left=share_a + tie, color="#d9822b", label=b if y == 0 else None)
        ax.errorbar(
            share_a,
            y,
            xerr=[[share_a - p["a"]["ci_low"]], [p["a"]["ci_high"] - share_a]],
            color="k",
            capsize=3,
        )
        right = share_a + tie
        ax.errorbar(
            right, y, xerr=[[p["b"]["ci_high"] - share_b], [share_b - p["b"]["ci_low"]]], color="k", capsize=3
        )
    ax.set_yticks(range(len(questions)), questions)
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of answers")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, frameon=False)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()


def html(summary: dict[str, Any] | None) -> str:
    if summary is None:
        return ""
    parts = [
        "<h2>Human evaluation (ours)</h2>",
        f"<p>From <code>aidbench human-eval score</code> run {escape(summary['run'])}: each system's share "
        "of the answers with a 95% interval (crossed bootstrap over raters and pairs), ties apart.</p>",
    ]
    for study in summary["studies"]:
        title = f"study {study['study']}: {study['systems']['a']} vs {study['systems']['b']}"
        parts.append(
            f'<figure><img class="chart" src="{data_uri("image/png", chart(study))}" '
            f'alt="chart human {escape(title)}"><figcaption>{escape(title)}</figcaption></figure>'
        )
    return "".join(parts)
