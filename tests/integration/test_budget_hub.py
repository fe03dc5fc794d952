"""Named servers on a real hub and engine, with a budget per user: a group's
``max_servers`` and ``mem_budget`` bound the user's running servers together; a
start beyond them is answered 400 in words and nothing is created; a profile's
memory counts toward the budget; a stopped server frees its share."""

from __future__ import annotations

import asyncio

import pytest
from conftest import TEST_PREFIX
from hubutil import ensure_user, in_client_thread, kit_config, running_hub
from jupyterhub.tests.utils import api_request, auth_header, public_url
from jupyterhub.utils import url_path_join

pytestmark = [pytest.mark.docker, pytest.mark.hub]


async def post_server(app, name: str, server: str, options: dict | None = None):
    import requests

    url = url_path_join(public_url(app), "hub/api/users", name, "servers", server)
    headers = {**auth_header(app.db, "admin"), "Sec-Fetch-Mode": "cors"}
    return await in_client_thread(requests.post, url, headers=headers, json=options, timeout=300)


async def ready(app, name: str, server: str) -> None:
    spawner = app.users[name].spawners[server]
    for _ in range(900):
        if not spawner.pending:
            break
        await asyncio.sleep(0.2)
    assert spawner.ready, f"{name}/{server} is not running"


async def stop(app, name: str, server: str) -> None:
    r = await api_request(app, "users", name, "servers", server, method="delete")
    assert r.status_code in (202, 204), r.text
    spawner = app.users[name].spawners.get(server)
    while spawner is not None and (spawner.pending or spawner.ready):
        await asyncio.sleep(0.2)


async def test_named_servers_within_the_users_budget(docker_client, test_image):
    c = kit_config(
        test_image,
        mem_limit="300M",
        quota_groups={"project": {"max_servers": 3, "mem_budget": "700M"}},
        max_servers=2,
        profile_list=[
            {"display_name": "Small", "slug": "small", "default": True},
            {"display_name": "Big", "slug": "big", "mem_limit": "450M"},
        ],
    )
    c.JupyterHub.allow_named_servers = True
    async with running_hub(c) as app:
        ensure_user(app, "ann")
        ensure_user(app, "pat", groups=("project",))
        # ann: two servers at most (the default)
        for server in ("a", "b"):
            r = await post_server(app, "ann", server)
            assert r.status_code in (201, 202), r.text
            await ready(app, "ann", server)
        r = await post_server(app, "ann", "c")
        assert r.status_code == 400, (r.status_code, r.text)
        assert "the most you may run at once (2)" in r.json()["message"]
        named_c = {"name": f"{TEST_PREFIX}-ann--c"}
        assert not docker_client.containers.list(all=True, filters=named_c)
        await stop(app, "ann", "a")
        r = await post_server(app, "ann", "c")  # a stopped server frees its place
        assert r.status_code in (201, 202), r.text
        await ready(app, "ann", "c")
        for server in ("b", "c"):
            await stop(app, "ann", server)

        # pat's group: three servers, 700M together; a big profile does not fit beside one
        r = await post_server(app, "pat", "one")
        assert r.status_code in (201, 202), r.text
        await ready(app, "pat", "one")
        r = await post_server(app, "pat", "two", {"profile": "big"})
        assert r.status_code == 400, (r.status_code, r.text)
        assert r.json()["message"].startswith(
            "This server's memory (450M) and your running servers' (300M)"
        )
        r = await post_server(app, "pat", "two", {"profile": "small"})
        assert r.status_code in (201, 202), r.text
        await ready(app, "pat", "two")
        info = docker_client.api.inspect_container(f"{TEST_PREFIX}-pat--two")
        assert info["HostConfig"]["Memory"] == 300 * 1024**2
        for server in ("one", "two"):
            await stop(app, "pat", server)


# -- starts that arrive together ---------------------------------------------------------

#: (servers posted at once, the user's group, how many fit, the refusals' words)
TOGETHER = [
    (4, "two", 2, "You already run 2 servers, the most you may run at once (2);"),
    (3, "one", 1, "You already run 1 server, the most you may run at once (1);"),
    (4, "mem", 2, "This server's memory (200M) and your running servers' (400M) would be"),
]


async def post_together(app, name: str, servers: list[str]):
    """POST every server of ``servers`` at the same moment (a barrier in the clients)."""
    import threading

    import requests

    barrier = threading.Barrier(len(servers))
    headers = {**auth_header(app.db, "admin"), "Sec-Fetch-Mode": "cors"}

    def post(server: str):
        url = url_path_join(public_url(app), "hub/api/users", name, "servers", server)
        barrier.wait(timeout=60)
        return requests.post(url, headers=headers, timeout=300)

    return await asyncio.gather(*(in_client_thread(post, s) for s in servers))


async def test_named_servers_started_together_hold_the_budget(docker_client, test_image):
    """Issue 37: four named servers POSTed at once with max_servers = 2 started 0-1,
    each refusal counting the others' starts ("You already run 3 servers"). Exactly
    the budget starts; each refusal names what really runs; nothing refused exists."""
    c = kit_config(
        test_image,
        mem_limit="200M",
        quota_groups={
            "two": {"max_servers": 2},
            "one": {"max_servers": 1},
            "mem": {"mem_budget": "400M"},
        },
    )
    c.JupyterHub.allow_named_servers = True
    c.JupyterHub.named_server_limit_per_user = 0
    async with running_hub(c) as app:
        for n, group, fits, words in TOGETHER:
            user = f"u{group}"
            ensure_user(app, user, groups=(group,))
            servers = [f"s{i}" for i in range(n)]
            replies = await post_together(app, user, servers)
            codes = {s: r.status_code for s, r in zip(servers, replies, strict=True)}
            started = [s for s in servers if codes[s] in (201, 202)]
            refused = [s for s in servers if codes[s] == 400]
            assert (len(started), len(refused)) == (fits, n - fits), (group, codes)
            for s, r in zip(servers, replies, strict=True):
                if s in refused:
                    assert r.json()["message"].startswith(words), (group, r.text)
            for s in started:
                await ready(app, user, s)
            for s in refused:
                gone = {"name": f"{TEST_PREFIX}-{user}--{s}"}
                assert not docker_client.containers.list(all=True, filters=gone), s
            # a place freed by a stop is taken by the next start, and only one
            await stop(app, user, started[0])
            again = await post_together(app, user, refused[:2] if len(refused) > 1 else refused)
            assert sorted(r.status_code for r in again)[0] in (201, 202), [r.text for r in again]
            if len(again) > 1:
                assert sorted(r.status_code for r in again)[1] == 400, [r.text for r in again]
            for s in servers:
                if s in app.users[user].spawners:
                    sp = app.users[user].spawners[s]
                    while sp.pending == "spawn":
                        await asyncio.sleep(0.2)
                    if sp.ready:
                        await stop(app, user, s)
