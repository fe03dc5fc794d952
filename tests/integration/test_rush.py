"""A class logging in at once: more starts than the admission limit, all become ready."""

from __future__ import annotations

import asyncio

import pytest
from hubutil import ensure_user, kit_config, running_hub, server_get, start_server, stop_server

pytestmark = [pytest.mark.docker, pytest.mark.hub]

N = 6


async def test_rush_queues_and_everyone_gets_a_server(docker_client, test_image, chp, docker_debug):
    config = kit_config(test_image, mem_limit="300M", concurrent_starts=2)
    async with running_hub(config) as app:
        names = [f"rush{i}" for i in range(N)]
        for n in names:
            ensure_user(app, n)
        await asyncio.gather(*(start_server(app, n) for n in names))
        try:
            for n in names:
                r = await server_get(app, n)
                assert r.status_code == 200, (n, r.status_code)
            messages = [e["message"] for n in names for e in app.users[n].spawner._progress_events]
            waits = [m for m in messages if m.startswith("Waiting to start")]
            assert any(m.endswith("ahead of you") for m in waits), messages
            assert any(m == "Waiting to start: you are next" for m in waits), messages
            assert sum(m == "Server is answering" for m in messages) == N
            gate = app.users[names[0]].spawner.start_gate()
            assert gate.active == 0 and gate.queued == 0
        finally:
            await asyncio.gather(*(stop_server(app, n) for n in names))
