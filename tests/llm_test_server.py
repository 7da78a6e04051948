"""A tiny, deterministic OpenAI-compatible server for tests (standard library only).

It listens on 127.0.0.1 at a free port, in a daemon thread, and serves:

* ``GET  /v1/models`` -- one model, ``echo-model``;
* ``POST /v1/chat/completions`` -- the reply is ``"ECHO: "`` + the last user message's text, upper-cased,
  cut to ``max_tokens`` words, then `` [seed=S temperature=T]`` when the request has ``temperature > 0``,
  and `` [images=N]`` when that message carries N ``image_url`` parts.

``fail_next(n, status=500)`` makes the next ``n`` chat requests fail with ``status``; ``requests`` records
every chat request's body and headers. Use it as a context manager; it stops (and closes its socket) on exit.

Run as a script it stands in for llama.cpp's ``llama-server`` (``--port P`` and the other flags; ``GET /health``;
``--version``): it appends its arguments and every chat request's body, one JSON line each, to
``$FAKE_LLAMA_LOG``.
"""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODEL = "echo-model"


def reply_for(body: dict) -> str:
    """The server's deterministic answer to a chat-completion request body."""
    user = [m for m in body.get("messages", []) if m.get("role") == "user"]
    content = user[-1]["content"] if user else ""
    images = 0
    if isinstance(content, list):
        images = sum(1 for p in content if p.get("type") == "image_url")
        content = " ".join(p.get("text", "") for p in content if p.get("type") == "text")
    words = content.upper().split()[: int(body.get("max_tokens", 16))]
    text = "ECHO: " + " ".join(words)
    if float(body.get("temperature", 0) or 0) > 0:
        text += f" [seed={body.get('seed')} temperature={body.get('temperature')}]"
    if images:
        text += f" [images={images}]"
    return text


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"

    def log_message(self, *args):  # keep test output quiet
        pass

    def _send(self, status: int, obj: dict) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path.rstrip("/") == "/health":
            self._send(200, {"status": "ok"})
        elif self.path.rstrip("/") == "/v1/models":
            self._send(200, {"object": "list", "data": [{"id": MODEL, "object": "model"}]})
        else:
            self._send(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self):
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._send(404, {"error": {"message": f"no route {self.path}"}})
            return
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            self._send(400, {"error": {"message": "invalid JSON"}})
            return
        srv = self.server.owner
        with srv.lock:
            srv.requests.append({"body": body, "headers": dict(self.headers)})
            srv.record({"body": body})
            fail = srv._fail.pop(0) if srv._fail else None
        if fail is not None:
            self._send(fail, {"error": {"message": f"simulated error {fail}"}})
            return
        if "messages" not in body or "model" not in body:
            self._send(400, {"error": {"message": "model and messages are required"}})
            return
        text = reply_for(body)
        self._send(200, {"id": "chatcmpl-test", "object": "chat.completion", "model": body["model"],
                         "choices": [{"index": 0, "finish_reason": "stop",
                                      "message": {"role": "assistant", "content": f"  {text}\n"}}],
                         "usage": {"completion_tokens": len(text.split())}})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: "LLMTestServer"


class LLMTestServer:
    """``with LLMTestServer() as srv: build_generator(srv.url + "#echo-model")``."""

    def __init__(self, port: int = 0, log_path: str | None = None):
        self.port_wanted, self.log_path = port, log_path
        self.lock = threading.Lock()
        self.requests: list[dict] = []
        self._fail: list[int] = []
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> "LLMTestServer":
        self._httpd = _Server(("127.0.0.1", self.port_wanted), _Handler)  # loopback only, a free port by default
        self._httpd.owner = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="llm-test-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join(timeout=5)
            self._httpd = None

    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def record(self, entry: dict) -> None:
        if self.log_path:
            with open(self.log_path, "a") as f:
                f.write(json.dumps(entry) + "\n")

    def fail_next(self, n: int = 1, status: int = 500) -> None:
        with self.lock:
            self._fail.extend([status] * n)

    def __enter__(self) -> "LLMTestServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


if __name__ == "__main__":  # a stand-in for llama-server
    import os
    import sys

    if "--version" in sys.argv:
        print("version: 0 (fake llama-server)")
        raise SystemExit(0)
    argv = sys.argv[1:]
    srv = LLMTestServer(int(argv[argv.index("--port") + 1]), os.environ.get("FAKE_LLAMA_LOG"))
    srv.record({"argv": argv})
    srv.start()
    srv._thread.join()
