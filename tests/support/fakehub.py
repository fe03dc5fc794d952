"""A small stand-in for the hub's REST API on 127.0.0.1, for the CLI's tests: it
answers each route with what it was told to, and records what was asked."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeHub:
    """Routes ``(method, path)`` to ``(status, body, content_type)``; records requests."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], tuple[int, object, str]] = {}
        self.requests: list[tuple[str, str, object]] = []
        self.default = (404, {"status": 404, "message": "Not Found"}, "application/json")
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"null") if length else None
                path = self.path.split("?")[0]
                hub.requests.append((self.command, path, body))
                status, payload, ctype = hub.routes.get((self.command, path), hub.default)
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", ctype)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _serve

            def log_message(self, *a: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        # polls for shutdown every 50 ms (the default 0.5 s made each close() wait that long)
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def route(
        self, method: str, path: str, status: int, body: object = None, ctype="application/json"
    ):
        self.routes[(method, "/hub/api" + path)] = (status, body, ctype)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
