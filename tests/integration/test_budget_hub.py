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
