"""Idle rules per group on a real hub and engine: jupyterhub-idle-culler's own
``cull_idle`` pass, with the kit's arbiter and exactly the bundle's roles for it
(:data:`jhub_kit.config.IDLE_CULLER_SCOPES`), stops the servers whose own rule says
so and leaves the others to the culler's ``--timeout``; a student of the exam whose
teacher gave more idle time for today (the extensions file) is left running. Before
the pass the student's notices warn those about to be stopped (not the others);
after it their last stop reason names the idle culler."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from datetime import datetime, timezone

import pytest
from hubutil import ensure_user, kit_config, running_hub
from jupyterhub.tests.utils import public_url
from jupyterhub.utils import url_path_join
from jupyterhub_idle_culler import cull_idle

from jhub_kit.config import IDLE_CULLER_SCOPES
from jhub_kit.idle import arbiter_with_extensions
from jhub_kit.quota.extensions import end_of_day, extend
from jhub_kit.views.notices import StudentNotices

pytestmark = [pytest.mark.docker, pytest.mark.hub]


async def test_each_server_is_culled_by_its_own_rule(docker_client, test_image, tmp_path):
    token = secrets.token_hex(16)
    now = datetime.now(timezone.utc)
    extensions = tmp_path / "idle_extensions.json"  # a teacher's "more idle time today"
    extensions.write_text(json.dumps(extend({}, ["xia"], end_of_day(now), "ada", now)))
    cull_arbiter = arbiter_with_extensions(str(extensions))
    notices = StudentNotices("", str(extensions), warning=60, culler_timeout=3600, check_every=5)
    c = kit_config(
        test_image,
        mem_limit="200M",
        quota_groups={
            "exam": {"idle_timeout": "4s"},  # an exam: stopped when idle a moment
            "day": {"idle_timeout": "unlimited", "max_age": "4s"},  # a class day's end
            "research": {"idle_timeout": "8h"},
        },
    )
    c.JupyterHub.services = [{"name": "idle-culler", "api_token": token}]
    c.JupyterHub.load_roles = [
        {"name": "idle-culler", "scopes": IDLE_CULLER_SCOPES, "services": ["idle-culler"]}
    ]
    users = {"eve": "exam", "dan": "day", "rae": "research", "ann": None, "xia": "exam"}
    async with running_hub(c) as app:
        for name, group in users.items():
            ensure_user(app, name, groups=(group,) if group else ())
        for name in users:
            await app.users[name].spawn()
        for name in users:
            assert app.users[name].spawner.ready, name
        assert app.users["eve"].spawner.quota.idle_timeout == 4
        assert app.users["dan"].spawner.quota.idle_timeout == 0
        await asyncio.sleep(6)
        # what each student's hub page says now: a warning for those about to stop
        said = {n: {x["key"] for x in notices(app.users[n])} for n in users}
        assert said == {
            "eve": {"idle"},
            "dan": {"max-age"},
            "rae": set(),
            "ann": set(),
            "xia": {"extended"},
        }, said
        url = url_path_join(public_url(app), "hub/api")
        # the culler's pass, as its service runs it every --cull-every seconds
        await cull_idle(
            url, token, 3600, logging.getLogger("idle-culler"), cull_arbiter=cull_arbiter
        )
        for _ in range(150):
            if not any(app.users[n].spawner.active for n in ("eve", "dan")):
                break
            await asyncio.sleep(0.2)
        running = {n for n in users if app.users[n].spawner.ready}
        assert running == {"rae", "ann", "xia"}, running
        # why they stopped, on their pages and the dashboard
        eve, dan = (app.users[n].spawner.last_event["text"] for n in ("eve", "dan"))
        assert "stopped by the idle culler after 4s without activity" in eve, eve
        assert "maximum age of 4s" in dan, dan
        # a second pass leaves the servers within their rules alone
        await cull_idle(
            url, token, 3600, logging.getLogger("idle-culler"), cull_arbiter=cull_arbiter
        )
        await asyncio.sleep(1)
        assert {n for n in users if app.users[n].spawner.ready} == {"rae", "ann", "xia"}
