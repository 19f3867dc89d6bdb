"""The questionnaire page: one static HTML file, its study embedded as JSON, its script inline.

The rater's token comes from the link (`index.html#rater=TOKEN`; without one the page draws an anonymous
token and keeps it). For each rater the page shuffles the pairs and, per pair, which video is shown first,
from a generator seeded by (study, rater, pair): the same rater always sees the same page, and the answers
record what was on the left and on the right. Answers stay in the browser's storage until exported as a
JSON file ("Export answers"); when the page is served by `aidbench human-eval serve` each answer is also
sent to it. All text from the study is set as text, never as markup.
"""

from __future__ import annotations

import json
from typing import Any

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 980px; margin: 0 auto; padding: 0 1em 4em; color: #222; }
header { position: sticky; top: 0; background: #fff; padding: .6em 0; border-bottom: 1px solid #ddd; z-index: 1; }
.pair { border: 1px solid #ccc; border-radius: 6px; padding: 1em; margin: 1.2em 0; }
.media { display: flex; gap: 1.5em; align-items: flex-start; flex-wrap: wrap; }
.media figure { margin: 0; text-align: center; }
.media img { width: 224px; height: 224px; object-fit: contain; image-rendering: pixelated; background: #000; }
.question { margin: .8em 0 .2em; }
.choices label { margin-right: 1.5em; cursor: pointer; }
.done { color: #2a7a2a; }
button { font-size: 1em; padding: .3em 1em; }
pre#exported { white-space: pre-wrap; word-break: break-all; font-size: 11px; max-height: 12em; overflow: auto; }
"""

_SCRIPT = r"""
(function () {
  const study = JSON.parse(document.getElementById("study").textContent);
  function fnv(text) {
    let h = 0x811c9dc5;
    for (let i = 0; i < text.length; i++) { h ^= text.charCodeAt(i); h = Math.imul(h, 0x01000193) >>> 0; }
    return h >>> 0;
  }
  function generator(text) {  // mulberry32 seeded by the text's FNV-1a hash
    let a = fnv(text);
    return function () {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }
  const fromLink = new URLSearchParams(location.hash.slice(1)).get("rater")
    || new URLSearchParams(location.search).get("rater");
  const tokenKey = "aidbench-rater-" + study.study;
  let rater = fromLink || localStorage.getItem(tokenKey);
  if (!rater) { rater = "anonymous-" + Math.random().toString(36).slice(2, 10); }
  try { localStorage.setItem(tokenKey, rater); } catch (e) { /* storage may be off: answers stay in memory */ }
  const storeKey = "aidbench-answers-" + study.study + "-" + rater;
  let answers = {};
  try { answers = JSON.parse(localStorage.getItem(storeKey) || "{}"); } catch (e) { answers = {}; }
  const served = location.protocol === "http:" || location.protocol === "https:";
  const status = document.getElementById("server");
  const total = study.pairs.length * study.questions.length;

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function progress() {
    const n = Object.keys(answers).length;
    const p = document.getElementById("progress");
    p.textContent = n + " / " + total + " answered";
    p.className = n === total ? "done" : "";
  }
  function send(answer) {
    if (!served) return;
    fetch("answers", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ study: study.study, rater: rater, answer: answer }) })
      .then(r => { status.textContent = r.ok ? "Answers are saved on the server as you go."
        : "Not saved on a server: export your answers when you are done."; })
      .catch(() => { status.textContent = "Not saved on a server: export your answers when you are done."; });
  }
  function record(pair, question, choice, left, right) {
    const answer = { pair: pair, question: question, choice: choice, left: left, right: right,
      answered_at: new Date().toISOString() };
    answers[pair + "/" + question] = answer;
    try { localStorage.setItem(storeKey, JSON.stringify(answers)); } catch (e) { /* in memory only */ }
    progress();
    send(answer);
  }

  document.getElementById("intro").textContent = study.intro;
  document.getElementById("rater").textContent = rater;
  const order = study.pairs.map((p, i) => i);
  const shuffle = generator(study.study + "|" + rater);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(shuffle() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const list = document.getElementById("pairs");
  order.forEach((index, shown) => {
    const pair = study.pairs[index];
    const swap = generator(study.study + "|" + rater + "|" + pair.id)() < 0.5;
    const left = swap ? pair.videos[1] : pair.videos[0];
    const right = swap ? pair.videos[0] : pair.videos[1];
    const box = el("section", { class: "pair", "data-pair": pair.id });
    box.appendChild(el("h2", {}, "Pair " + (shown + 1) + " of " + study.pairs.length));
    const media = el("div", { class: "media" });
    [["Reference frame", pair.reference], ["Video 1", left], ["Video 2", right]].forEach(([label, src]) => {
      const fig = el("figure");
      fig.appendChild(el("img", { src: src, alt: label }));
      fig.appendChild(el("figcaption", {}, label));
      media.appendChild(fig);
    });
    box.appendChild(media);
    study.questions.forEach((q, qi) => {
      box.appendChild(el("p", { class: "question" }, (qi + 1) + ". " + q.text.split("{instruction}").join(pair.instruction)));
      const choices = el("div", { class: "choices" });
      const options = [["left", "Video 1"], ["right", "Video 2"]];
      if (study.allow_tie) options.push(["tie", "Same / cannot tell"]);
      options.forEach(([value, label]) => {
        const input = el("input", { type: "radio", name: pair.id + "/" + q.id, value: value,
          "data-question": q.id });
        const previous = answers[pair.id + "/" + q.id];
        if (previous && previous.choice === value) input.checked = true;
        input.addEventListener("change", () => record(pair.id, q.id, value, left, right));
        const wrap = el("label");
        wrap.appendChild(input);
        wrap.appendChild(document.createTextNode(" " + label));
        choices.appendChild(wrap);
      });
      box.appendChild(choices);
    });
    list.appendChild(box);
  });
  progress();
  if (!served) status.textContent = "Opened from a file: export your answers when you are done.";

  document.getElementById("export").addEventListener("click", () => {
    const payload = { study: study.study, rater: rater, exported_at: new Date().toISOString(),
      answers: Object.values(answers) };
    const text = JSON.stringify(payload, null, 1);
    document.getElementById("exported").textContent = text;
    const link = el("a", { href: URL.createObjectURL(new Blob([text], { type: "application/json" })),
      download: "answers-" + study.study + "-" + rater + ".json" });
    document.body.appendChild(link);
    link.click();
    link.remove();
  });
})();
"""


def _json_for_script(value: Any) -> str:
    """JSON that cannot end its <script> element or open markup, whatever the dataset's text holds."""
    text = json.dumps(value, ensure_ascii=False)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def page(study: dict[str, Any]) -> str:
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Text-conditioned video prediction: which video is better?</title>
<style>{_STYLE}</style>
</head>
<body>
<header>
<strong>Text-conditioned video prediction</strong> · rater <code id="rater"></code> ·
<span id="progress"></span> · <button id="export" type="button">Export answers</button>
<div id="server"></div>
</header>
<p id="intro"></p>
<div id="pairs"></div>
<pre id="exported"></pre>
<script type="application/json" id="study">{_json_for_script(study)}</script>
<script>{_SCRIPT}</script>
</body>
</html>
"""
