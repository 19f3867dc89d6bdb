"""`aidbench human-eval make|serve|score`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aidbench.cli.options import Overrides, Preset, resolve

app = typer.Typer(
    help="Human evaluation as the paper ran it: a blinded questionnaire, its answers, preferences."
)

Host = Annotated[str, typer.Option("--host", help="Address to listen on (127.0.0.1: this machine only).")]
Port = Annotated[int, typer.Option("--port", help="Port to listen on.")]


def _serve(folder: Path, host: str, port: int) -> None:
    from aidbench.human.serve import server

    httpd = server(folder, host, port)
    address = f"http://{host}:{httpd.server_address[1]}/index.html"
    typer.echo(
        f"serving {folder / 'site'} at {address}; raters' links: {folder / 'links.txt'}; Ctrl-C stops."
    )
    try:
        httpd.serve_forever()
    finally:
        httpd.server_close()


@app.command(epilog="Example: aidbench human-eval make --a SEER_RUN --b AID_RUN --pairs 100 --out study/")
def make(
    runs_a: Annotated[
        list[str], typer.Option("--a", help="System A's sample run (id or folder); one per dataset.")
    ],
    runs_b: Annotated[
        list[str], typer.Option("--b", help="System B's sample run of the same clips; one per dataset.")
    ],
    out: Annotated[Path, typer.Option("--out", help="A new folder for the study.")],
    pairs: Annotated[
        int | None, typer.Option("--pairs", help="Pairs in all, split evenly over the datasets.")
    ] = None,
    per_dataset: Annotated[
        str | None, typer.Option("--per-dataset", help="Pairs per dataset, e.g. ssv2=50,bridge=25,epic=25.")
    ] = None,
    raters: Annotated[int, typer.Option("--raters", help="Rater tokens (one link each) to issue.")] = 30,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the clip draw and the video order.")] = 0,
    questions: Annotated[
        Path | None, typer.Option("--questions", help="YAML: {intro, questions: [{id, text}], allow_tie}.")
    ] = None,
    serve: Annotated[bool, typer.Option("--serve", help="Then serve it and collect the answers.")] = False,
    host: Host = "127.0.0.1",
    port: Port = 8000,
    preset: Preset = None,
    overrides: Overrides = None,
) -> None:
    """A self-contained blinded questionnaire of two systems' samples, side by side (supplementary A.3)."""
    from aidbench.human import study

    cfg = resolve(preset, None, overrides)
    key = study.make(
        Path(cfg.paths.results),
        runs_a,
        runs_b,
        out,
        pairs=pairs,
        per_dataset=study.parse_quota(per_dataset),
        raters=raters,
        seed=seed,
        questions=study.questionnaire(questions),
    )
    counts = ", ".join(f"{d} {n}" for d, n in key["per_dataset"].items())
    typer.echo(
        f"study {key['study']}: {len(key['pairs'])} pairs ({counts}) of {key['systems']['a']} vs "
        f"{key['systems']['b']} → {out / 'site/index.html'}; {raters} rater links in {out / 'links.txt'}; "
        f"the key (keep it from raters): {out / 'key.json'}"
    )
    if serve:
        _serve(out, host, port)


@app.command(name="serve", epilog="Example: aidbench human-eval serve study/ --port 8000")
def serve_command(
    folder: Annotated[Path, typer.Argument(help="A study folder made by `human-eval make`.")],
    host: Host = "127.0.0.1",
    port: Port = 8000,
) -> None:
    """Serve a questionnaire and append every rater's answers to the study's answers.jsonl."""
    _serve(folder, host, port)


@app.command(epilog="Example: aidbench human-eval score study/ answers-*.json")
def score(
    sources: Annotated[list[Path], typer.Argument(help="Study folders, then any exported answer files.")],
    preset: Preset = None,
    overrides: Overrides = None,
) -> None:
    """Preference per question and system with intervals, ties, agreement; Bradley–Terry over >2 systems."""
    from aidbench.errors import UsageError
    from aidbench.human.score import run_score

    folders = [p for p in sources if p.is_dir()]
    files = [p for p in sources if not p.is_dir()]
    if not folders:
        raise UsageError("give the study folder (made by `human-eval make`) before any answer files.")
    missing = [str(p) for p in files if not p.is_file()]
    if missing:
        raise UsageError(f"no such answer file: {', '.join(missing)}.")
    found, path = run_score(resolve(preset, None, overrides), folders, files)
    for study in found["studies"]:
        a, b = study["systems"]["a"], study["systems"]["b"]
        typer.echo(
            f"study {study['study']}: A {a} vs B {b}"
            + (f"; skipped {study['skipped']}" if study["skipped"] else "")
        )
        for question, p in study["questions"].items():
            alpha = "–" if p["alpha"] is None else f"{p['alpha']:.2f}"
            typer.echo(
                f"  {question:<12} A {p['a']['value']:.1%} [{p['a']['ci_low']:.1%}, {p['a']['ci_high']:.1%}]  "
                f"tie {p['tie']['value']:.1%}  B {p['b']['value']:.1%} [{p['b']['ci_low']:.1%}, "
                f"{p['b']['ci_high']:.1%}]  ({p['answers']} answers, {p['raters']} raters, {p['pairs']} pairs, "
                f"α {alpha})"
            )
    for question, strengths in found["bradley_terry"].items():
        typer.echo(f"Bradley–Terry {question}: " + ", ".join(f"{s} {v:.3f}" for s, v in strengths.items()))
    typer.echo(f"scores: {path}")
