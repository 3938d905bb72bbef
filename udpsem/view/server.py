"""The browser explorer: a small JSON API over a `Session` and a static page, served by the
standard library's `http.server` on 127.0.0.1 only.

API (all GET, JSON unless said otherwise; `path` names a state, see `session.parse_path`):

  /api/info                  program, hosts, title, number of trace steps, source file
  /api/state?path=P          the state P names: the step that led there (rule, partner, label,
                             the rule's documentation), the rendered state with what changed,
                             the property verdicts, the enabled successors (each with the path
                             it leads to), and the paths one step back and forward
  /api/chart?path=P          the sequence chart (SVG text) of the run P lies on, the current
                             time marked; elements carry data-i, the step that drew them
  /api/successors?path=P     just the successors

Errors are JSON `{"error": ...}` with status 400 (a bad path) or 404.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from udpsem.view.events import describe, events, label_text
from udpsem.view.session import PathError, Session, StatePath, format_path, parse_path
from udpsem.view.state import fmt_time, mark_changes, render

STATIC = {"/": ("index.html", "text/html; charset=utf-8"),
          "/index.html": ("index.html", "text/html; charset=utf-8"),
          "/static/app.js": ("app.js", "text/javascript; charset=utf-8"),
          "/static/style.css": ("style.css", "text/css; charset=utf-8")}


def choices_text(choices: list[list[Any]]) -> str:
    return ", ".join(f"{k} {v}" for k, v in choices if k != "pick") or "no choices"


class Explorer:
    """The state behind the API (one loaded session)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.lock = threading.Lock()
        import udpsem.core.system  # noqa: F401  (registers every rule)
        from udpsem.base.registry import RULES

        self.rules = RULES

    def info(self) -> dict[str, Any]:
        s = self.session
        return {"program": s.header.get("program"), "title": describe(s.header),
                "hosts": [h["name"] for h in s.header.get("hosts", [])],
                "trace_steps": len(s.steps),
                "source": Path(s.source).name if s.source else ""}

    def _rule_doc(self, name: str | None) -> dict[str, Any] | None:
        if name is None:
            return None
        info = self.rules.get(name)
        if info is None:
            return {"name": name, "summary": "", "doc": ""}
        return {"name": name, "summary": info.summary, "doc": info.doc,
                "category": info.category}

    def successors(self, path: StatePath) -> list[dict[str, Any]]:
        s = self.session
        out = []
        on_trace = not path.branch and path.trace_steps < len(s.steps)
        nxt = s.records[path.trace_steps]["choices"] if on_trace else None
        succs = s.successors(path)
        if on_trace and not any(x["choices"] == nxt for x in succs):
            # the trace's own step (e.g. a delay off the exploration grid) comes first
            rec = s.records[path.trace_steps]
            succs.insert(0, {"rule": rec["rule"], "partner": rec["partner"],
                             "label": rec["label"], "choices": rec["choices"], "t": rec["t"]})
        for k, succ in enumerate(succs):
            choices = [tuple(c) for c in succ["choices"]]
            if on_trace and [list(c) for c in choices] == nxt:
                new = StatePath(path.trace_steps + 1)
                follows = True
            else:
                new = StatePath(path.trace_steps, (*path.branch, tuple(choices)))
                follows = False
            out.append({"n": k, "rule": succ["rule"], "partner": succ["partner"],
                        "label": label_text(succ["label"]),
                        "choices": succ["choices"], "choices_text": choices_text(
                            succ["choices"]), "time": fmt_time(succ["t"]),
                        "path": format_path(new), "follows_trace": follows})
        return out

    def state(self, path: StatePath) -> dict[str, Any]:
        s = self.session
        with self.lock:
            worlds, steps = s.resolve(path)
            n = len(steps)
            prev_view = render(worlds[-2]) if n else None
            view = mark_changes(prev_view, render(worlds[-1]))
            step = None
            if n:
                from udpsem.view.session import step_record

                rec = step_record(n - 1, steps[-1])
                step = {"i": n - 1, "rule": rec["rule"], "partner": rec["partner"],
                        "label": label_text(rec["label"]), "time": fmt_time(rec["t"]),
                        "choices_text": choices_text(rec["choices"]),
                        "rule_doc": self._rule_doc(rec["rule"]),
                        "partner_doc": self._rule_doc(rec["partner"])}
            back: StatePath | None
            fwd: StatePath | None
            if path.branch:
                back = StatePath(path.trace_steps, path.branch[:-1])
                fwd = None
            else:
                back = StatePath(path.trace_steps - 1) if path.trace_steps > 0 else None
                fwd = (StatePath(path.trace_steps + 1)
                       if path.trace_steps < len(s.steps) else None)
            return {"path": format_path(path), "index": n, "trace_steps": len(s.steps),
                    "branched": len(path.branch), "time": fmt_time(worlds[-1].now),
                    "now": worlds[-1].now, "step": step, "state": view.as_json(),
                    "verdicts": s.verdicts(path), "successors": self.successors(path),
                    "back": None if back is None else format_path(back),
                    "forward": None if fwd is None else format_path(fwd)}

    def chart(self, path: StatePath) -> str:
        from udpsem.view.chart import add_violations, svg

        s = self.session
        with self.lock:
            worlds, _ = s.resolve(path)
            line = path if path.branch else StatePath(len(s.steps))
            records = s.records_of(line)
            data = events(s.header, records)
            add_violations(data, s.first_violations(line))
            s.session_lanes(line).apply(data)
            return svg(data, marker_t=worlds[-1].now, width=1400)


class _Handler(BaseHTTPRequestHandler):
    explorer: Explorer
    quiet = True

    def log_message(self, format: str, *args: Any) -> None:
        if not self.quiet:
            super().log_message(format, *args)

    def _send(self, status: int, body: bytes, ctype: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, obj: Any) -> None:
        self._send(status, json.dumps(obj).encode(), "application/json")

    def do_GET(self) -> None:
        url = urlparse(self.path)
        if url.path in STATIC:
            name, ctype = STATIC[url.path]
            body = resources.files("udpsem.view").joinpath("static", name).read_bytes()
            self._send(200, body, ctype)
            return
        q = parse_qs(url.query)
        try:
            path = parse_path(q.get("path", ["0"])[0])
            if url.path == "/api/info":
                self._json(200, self.explorer.info())
            elif url.path == "/api/state":
                self._json(200, self.explorer.state(path))
            elif url.path == "/api/successors":
                self._json(200, self.explorer.successors(path))
            elif url.path == "/api/chart":
                self._send(200, self.explorer.chart(path).encode(), "image/svg+xml")
            else:
                self._json(404, {"error": f"no such page: {url.path}"})
        except PathError as e:
            self._json(400, {"error": str(e)})


def make_server(session: Session, port: int = 0) -> ThreadingHTTPServer:
    """An HTTP server for `session` bound to 127.0.0.1 (port 0: a free one); call
    `serve_forever()` on it, `server_address[1]` is the port."""
    handler = type("Handler", (_Handler,), {"explorer": Explorer(session)})
    srv = ThreadingHTTPServer(("127.0.0.1", port), handler)
    srv.daemon_threads = True
    return srv
