"""`aidbench human-eval serve`: the questionnaire on a local web server that collects every rater's answers.

It serves the study's site/ folder and nothing above it (the key stays private), and appends each answer
the page sends (POST /answers) to the study's answers.jsonl: one JSON line per answer, flushed and synced
to disk before the page hears "saved". Raters are known by the token in their link; with rater tokens in
raters.json, answers under any other token are refused. Bound to 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import json
import os
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from aidbench.errors import UserError
from aidbench.human.study import ANSWERS, RATERS, SITE, read_key

MAX_BODY = 64 * 1024


class _Handler(SimpleHTTPRequestHandler):
    study: str
    tokens: set[str] | None
    answers: Path
    lock: threading.Lock

    def log_message(self, format, *args):  # one line per request is noise for a rater session
        pass

    def do_POST(self):
        if self.path.split("?")[0].rstrip("/") != "/answers":
            return self._reply(404, "not found")
        length = int(self.headers.get("Content-Length") or 0)
        if not 0 < length <= MAX_BODY:
            return self._reply(413, "an answer is a small JSON object")
        try:
            item = json.loads(self.rfile.read(length))
            answer = item["answer"]
            valid = (
                item["study"] == self.study and isinstance(answer, dict) and isinstance(item["rater"], str)
            )
        except (ValueError, KeyError, TypeError):
            valid = False
        if not valid:
            return self._reply(400, "not an answer of this study")
        if self.tokens is not None and item["rater"] not in self.tokens:
            return self._reply(403, "unknown rater token")
        line = json.dumps({"study": self.study, "rater": item["rater"], "answer": answer}) + "\n"
        with self.lock, self.answers.open("a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
        return self._reply(200, "saved")

    def _reply(self, code: int, text: str):
        body = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def server(folder: Path, host: str = "127.0.0.1", port: int = 8000) -> ThreadingHTTPServer:
    """A server for the study in `folder` (call serve_forever on it; port 0 picks a free one)."""
    folder = Path(folder)
    key = read_key(folder)
    if not (folder / SITE / "index.html").is_file():
        raise UserError(f"{folder} has no {SITE}/index.html; make the study with `aidbench human-eval make`.")
    tokens = None
    if (folder / RATERS).is_file():
        tokens = set(json.loads((folder / RATERS).read_text()).get("raters") or []) or None
    handler = type(
        "StudyHandler",
        (_Handler,),
        {"study": key["study"], "tokens": tokens, "answers": folder / ANSWERS, "lock": threading.Lock()},
    )
    try:
        return ThreadingHTTPServer((host, port), partial(handler, directory=str(folder / SITE)))
    except OSError as err:
        raise UserError(f"cannot listen on {host}:{port}: {err.strerror or err}") from err
