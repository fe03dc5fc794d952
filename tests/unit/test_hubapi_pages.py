"""HubAPI.users() against a small real HTTP server that pages as JupyterHub does
(``jupyterhub/apihandlers/base.py`` ``get_api_pagination`` and ``paginated_model``)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlparse

import pytest

from jhub_kit.hubapi import HubAPI, HubAPIError

TOKEN = "secret-token"
PAGINATION = "application/jupyterhub-pagination+json"


class FakeHub:
    """``/hub/api/users`` of ``n`` users, paged with ``max_limit``; ``mode``:
    ``"paginated"`` (JupyterHub 2+), ``"list"`` (before 2.0: every user at once) or
    ``"stuck"`` (a ``next`` that does not move on)."""

    def __init__(self, n: int, max_limit: int, mode: str = "paginated"):
        self.users = [{"name": f"user{i:03d}", "kind": "user"} for i in range(n)]
        self.max_limit, self.mode = max_limit, mode
        self.requests: list[tuple[str, str | None]] = []  # (path with query, Accept)

    def answer(self, handler: BaseHTTPRequestHandler) -> tuple[int, object]:
        url = urlparse(handler.path)
        self.requests.append((handler.path, handler.headers.get("Accept")))
        if handler.headers.get("Authorization") != f"token {TOKEN}":
            return 403, {"status": 403, "message": "no token"}
        if url.path != "/hub/api/users":
            return 404, {"status": 404, "message": "Not Found"}
        if self.mode == "list":
            return 200, self.users
        query = parse_qs(url.query)
        offset = int(query.get("offset", ["0"])[0])
        limit = min(int(query.get("limit", [self.max_limit])[0]), self.max_limit)
        items = self.users[offset : offset + limit]
        if PAGINATION not in (handler.headers.get("Accept") or ""):
            return 200, items  # JupyterHub without the header: one page, as a list
        following = None
        if offset + limit < len(self.users):
            next_offset = offset if self.mode == "stuck" else offset + limit
            q = {**query, "offset": [next_offset], "limit": [limit]}
            # the hub's own idea of its address: this client must not need it
            next_url = f"http://hub.invalid:8081{url.path}?{urlencode(q, doseq=True)}"
            following = {"offset": next_offset, "limit": limit, "url": next_url}
        page = {"offset": offset, "limit": limit, "total": len(self.users), "next": following}
        return 200, {"items": items, "_pagination": page}


@pytest.fixture
def serve() -> Iterator:
    servers: list[ThreadingHTTPServer] = []

    def start(hub: FakeHub) -> str:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, body = hub.answer(self)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_every_page_is_followed(serve):
    hub = FakeHub(120, max_limit=50)
    users = HubAPI(serve(hub), TOKEN).users()
    assert [u["name"] for u in users] == [f"user{i:03d}" for i in range(120)]
    assert [(urlparse(p).query, accept) for p, accept in hub.requests] == [
        ("offset=0&limit=200", PAGINATION),
        ("offset=50&limit=50", PAGINATION),
        ("offset=100&limit=50", PAGINATION),
    ]


@pytest.mark.parametrize("n", [0, 1, 49, 50, 51, 200, 201])
def test_page_boundaries(serve, n):
    hub = FakeHub(n, max_limit=50)
    assert len(HubAPI(serve(hub), TOKEN).users()) == n
    assert len(hub.requests) == max(1, -(-n // 50))


def test_a_hub_before_pagination_answers_with_a_list(serve):
    hub = FakeHub(120, max_limit=50, mode="list")
    assert len(HubAPI(serve(hub), TOKEN).users()) == 120
    assert len(hub.requests) == 1


def test_a_next_page_that_does_not_move_on_is_an_error(serve):
    with pytest.raises(HubAPIError, match=r"next page \(offset=0, limit=50\) does not move on"):
        HubAPI(serve(FakeHub(120, max_limit=50, mode="stuck")), TOKEN).users()
