"""Idle rules per group, in real time, with the bundle's idle culler as the hub's
managed service (``jupyterhub-idle-culler --config jhub_kit/culler/idle_culler_config.py``,
every 10 s): the exam group's servers stop after 2 minutes without activity, the lab
group's after 30, and the student's hub page warns 1 minute before. Two students
start their servers and leave them idle (no JupyterLab tab: it would report
activity). In Debian's Chromium, the exam student's hub page warns after a minute,
then, once the culler stopped the server, says why; the lab student is never warned
and keeps running. A third student, of the exam group, works all along (her
server's API every 15 s): her server tells the hub every 30 s (a quarter of her
rule; JupyterHub's own 300 s would get her culled while she works) and she keeps
running. The culler's own log names the one it stopped.

About 2.5 minutes of waiting: the file runs in the lane, beside the suite
(tests/support/lane_runner.py). Screenshots are kept."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests

# the browser and its screenshots of the first browser tests
from browserrig import MS, NET, login
from hubutil import bundle_config_file, ensure_user, running_hub, start_server
from jupyterhub.tests.utils import public_url
from jupyterhub.utils import url_path_join
from traitlets.config.loader import PyFileConfigLoader

pytestmark = [pytest.mark.docker, pytest.mark.hub, pytest.mark.root, pytest.mark.browser]

BEFORE = """\
c.JhubKit.idle_warning = "1m"
c.JhubKit.idle_check_every = 10
c.JhubKit.dashboard = False
"""
EXTRA = """\
c.QuotaDockerSpawner.mem_limit = "256M"
c.QuotaDockerSpawner.disk_limit = "40M"
c.QuotaDockerSpawner.poll_interval = 2
c.Authenticator.admin_users = {"admin"}
c.QuotaDockerSpawner.quota_groups = {
    "exam": {"idle_timeout": "2m"},
    "lab": {"idle_timeout": "30m"},
}
"""
EXAM, LAB = 120, 1800  # s
WARNING = 60  # s
CULL_EVERY = 10  # s
POLL = 5  # s between two looks at the students' pages


async def work(server_url: str, token: str) -> None:
    """A student at work: a request to her server's API every 15 s (each one is
    activity to the server, not to the hub)."""
    url = url_path_join(server_url, "api/contents")
    while True:
        r = await asyncio.to_thread(
            requests.get, url, headers={"Authorization": f"token {token}"}, timeout=10
        )
        assert r.status_code == 200, r.text
        await asyncio.sleep(15)


def since(when: datetime | None) -> float:
    """Seconds from ``when`` (the hub's naive UTC) to now."""
    assert when is not None
    return (datetime.now(timezone.utc) - when.replace(tzinfo=timezone.utc)).total_seconds()


async def test_an_exam_student_is_warned_and_culled_a_lab_student_is_not(
    browser,
    docker_client,
    test_image,
    chp,
    net,
    mount_area,
    tmp_path,
    shots,
    docker_debug,
    capfd,
):
    from playwright.async_api import expect

    userlist = "admin admin\neve group:exam\nivy group:exam\nleo group:lab\n"
    # the culler's own --timeout for servers without a rule: an hour
    cfg = bundle_config_file(tmp_path, test_image, NET, userlist, EXTRA, before=BEFORE, idle=3600)
    c = PyFileConfigLoader(cfg.name, str(tmp_path)).load_config()
    culler = [s for s in c.JupyterHub.services if s["name"] == "idle-culler"]
    assert culler and f"--cull-every={CULL_EVERY}" in culler[0]["command"], c.JupyterHub.services
    # JupyterHub's own scan of the proxy's activity, every 300 s (MockHub's every 2 s
    # would tell the hub of ivy's requests whatever her server reports)
    async with running_hub(c, activity_scan=300) as app:
        ensure_user(app, "eve", ("exam",))
        ensure_user(app, "leo", ("lab",))
        ensure_user(app, "ivy", ("exam",))
        await asyncio.gather(*(start_server(app, n) for n in ("eve", "leo", "ivy")))
        eve, leo, ivy = app.users["eve"], app.users["leo"], app.users["ivy"]
        assert (eve.spawner.quota.idle_timeout, leo.spawner.quota.idle_timeout) == (EXAM, LAB)
        # ivy works all along (her server's API every 15 s, as a script of hers
        # would): her server reports it every quarter of her 2-minute rule, so the
        # culler never finds her idle (every 300 s, JupyterHub's own interval, it would)
        env = docker_client.containers.get(ivy.spawner.container_id).attrs["Config"]["Env"]
        assert f"JUPYTERHUB_ACTIVITY_INTERVAL={EXAM // 4}" in env, env
        busy = asyncio.create_task(work(public_url(app, ivy), ivy.new_api_token()))

        home = url_path_join(public_url(app), "hub/home")
        pages = {}
        for name in ("eve", "leo"):  # the hub's pages only: no JupyterLab, no activity
            page = await (
                await browser.new_context(viewport={"width": 1280, "height": 800})
            ).new_page()
            await login(page, app, name, next_path="hub/home")
            await page.wait_for_url(re.compile(r"/hub/home$"), timeout=60 * MS)
            pages[name] = page

        async def look() -> None:
            """Both students reload their hub page; the lab student is never warned."""
            for page in pages.values():
                await page.goto(home)
            assert await pages["leo"].locator("[data-notice]").count() == 0
            assert leo.spawner.ready

        # -- a minute after the exam student's last activity: the warning --
        warning = pages["eve"].locator("[data-notice='idle']")
        deadline = time.monotonic() + EXAM + 30
        while True:
            await look()
            if await warning.count():
                break
            assert time.monotonic() < deadline, "eve's page never warned"
            await asyncio.sleep(POLL)
        idle_for = since(eve.spawner.orm_spawner.last_activity)
        seen = [f"eve warned {idle_for:.0f} s after her server's last activity"]
        assert EXAM - WARNING <= idle_for < EXAM, idle_for
        assert eve.spawner.ready  # warned before, not after
        await expect(warning).to_contain_text(
            re.compile(
                r"Your server will be stopped at about \d\d:\d\d \(or up to 10s later\) "
                r"for being idle: no activity since \d\d:\d\d, and servers are stopped "
                r"after 2m without activity"
            )
        )
        await shots(pages["eve"], "exam-student-warned")

        # -- the culler stops the exam student's server within its next pass --
        deadline = time.monotonic() + WARNING + 4 * CULL_EVERY
        last = eve.spawner.orm_spawner.last_activity
        looked = time.monotonic()
        while eve.spawner.active:  # the hub's state each second, the pages less often
            assert time.monotonic() < deadline, "eve's server was never culled"
            if time.monotonic() - looked >= POLL and not eve.spawner.pending:
                looked = time.monotonic()
                await look()
            await asyncio.sleep(1)
        idle_for = since(last)
        seen.append(f"eve culled {idle_for:.0f} s after her server's last activity")
        assert EXAM <= idle_for <= EXAM + 3 * CULL_EVERY, idle_for
        await look()
        why = pages["eve"].locator("#jhub-kit-last-event")
        await expect(why).to_contain_text(
            "Your last server was stopped by the idle culler after 2m without activity"
        )
        await expect(warning).to_have_count(0)
        await shots(pages["eve"], "exam-student-sees-why")
        await shots(pages["leo"], "lab-student-still-running")
        assert leo.spawner.ready and since(leo.spawner.orm_spawner.started) > EXAM

        # -- what the culler says: eve, only eve --
        logged = "".join(capfd.readouterr())
        culled = re.findall(r"Culling server (\S+) \(inactive for ([\d:]+)\)", logged)
        assert [name for name, _ in culled] == ["eve"], culled
        seen += [line for line in logged.splitlines() if "Culling" in line]
        print(*seen, sep="\n")  # after readouterr(), which takes what was printed before
        h, m, s = (int(x) for x in culled[0][1].split(":"))
        assert timedelta(hours=h, minutes=m, seconds=s) >= timedelta(seconds=EXAM)
        # ivy, in the same group, busy all along: still running, the hub's word on
        # her activity at most one report (30 s) and one request (15 s) old
        assert ivy.spawner.ready and since(ivy.spawner.orm_spawner.started) > EXAM
        assert since(ivy.spawner.orm_spawner.last_activity) <= EXAM // 4 + 15 + 5
        busy.cancel()
