"""The student's notices in JupyterLab (issue 39), in a real browser (Debian's
Chromium through Playwright, a hub from the bundle with its idle culler, loopfile
homes, a warm pool): a student whose server reaches its ``max_age`` within the
idle warning (``max_age`` 3m, ``idle_warning`` 5m: the warning applies at once)
sees it as a JupyterLab notification, on a default server started cold and on a
named server from the warm pool (a profile with members of its own: the notice
is the named server's own); a student with no rule near
sees none; the page logs nothing of the extension's; the class dashboard's
endpoint refuses a request without a user's token. Screenshots are kept."""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

import pytest
import requests
from browserrig import MS, NET, login, wait_for_lab
from conftest import TEST_PREFIX
from hubutil import bundle_config_file, ensure_user, in_client_thread, running_hub
from jupyterhub.tests.utils import auth_header, public_url
from jupyterhub.utils import url_path_join
from traitlets.config.loader import PyFileConfigLoader

from jhub_kit.views.dashboard import SERVICE_NAME
from jhub_kit.views.dashboard.lab_notices import PATH

pytestmark = [pytest.mark.docker, pytest.mark.hub, pytest.mark.root, pytest.mark.browser]

#: the same image under another name: a profile with members of its own
OTHER = f"{TEST_PREFIX}-other:latest"
BEFORE = """\
c.JhubKit.idle_warning = "5m"
c.JhubKit.dashboard_user = ""  # the hub's user (test_teachers_hub runs it as nobody)
"""
EXTRA = """\
c.JupyterHub.allow_named_servers = True
c.Authenticator.admin_users = {{"admin"}}  # the test's API caller
c.QuotaDockerSpawner.disk_limit = "40M"
c.QuotaDockerSpawner.poll_interval = 2
c.QuotaDockerSpawner.pool_dir = {pool!r}
c.QuotaDockerSpawner.quota_users = {{"ann": {{"max_age": "3m"}}, "cat": {{"max_age": "3m"}}}}
c.QuotaDockerSpawner.profile_list = [
    {{"display_name": "Python", "slug": "python", "default": True}},
    {{"display_name": "Python, warm", "slug": "warm", "image": {other!r}, "pool_size": 1}},
]
"""
WARNING = "it reaches its maximum age of 3m"


async def start(app, name: str, profile: str, server: str = "") -> Any:
    """Start ``name``'s server ``server`` ("": the default one) with ``profile``."""
    path = f"users/{name}/servers/{server}" if server else f"users/{name}/server"
    url = url_path_join(public_url(app), "hub/api", path)
    headers = {**auth_header(app.db, "admin"), "Sec-Fetch-Mode": "cors"}
    r = await in_client_thread(
        requests.post, url, headers=headers, json={"profile": profile}, timeout=120
    )
    assert r.status_code in (201, 202), (r.status_code, r.text)
    spawner = app.users[name].spawners[server]
    deadline = time.monotonic() + 120
    while spawner.pending:
        assert time.monotonic() < deadline, f"{name}'s server never became ready"
        await asyncio.sleep(0.2)
    assert spawner.ready, f"{name}'s server {server!r} is not running"
    return spawner


async def lab_with_notices(browser, app, name: str, server: str = ""):
    """``name`` logs in and opens JupyterLab in their server ``server`` (the default
    one: where the login lands); the page, the dashboard's first answer to the
    extension, and what the page logged of the extension's."""
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    said: list[str] = []
    page.on(
        "console",
        lambda m: said.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None,
    )
    page.on("pageerror", lambda e: said.append(f"pageerror: {e}"))
    loaded = []
    page.on("response", lambda r: loaded.append(r) if "jhub-kit-notices/static" in r.url else None)
    asked = f"{SERVICE_NAME}/{PATH}"
    async with page.expect_response(lambda r: asked in r.url, timeout=120 * MS) as answer:
        await login(page, app, name)
        if server:  # the login goes to the default server's page
            await page.wait_for_url(re.compile(r"/hub/(?!login)"), timeout=60 * MS)
            await page.goto(url_path_join(public_url(app), "user", name, server, "lab"))
            await page.wait_for_selector(".jp-LabShell", timeout=120 * MS)
        else:
            await wait_for_lab(page, timeout=120)
    response = await answer.value
    assert response.status == 200, await response.text()
    assert [r.status for r in loaded] == [200], [r.url for r in loaded]  # the extension
    return page, await response.json(), said


@pytest.mark.usefixtures("net", "chp", "mount_area", "docker_debug")
async def test_a_student_sees_the_warning_in_jupyterlab_cold_pooled_and_named(
    browser,
    shots,
    docker_client,
    test_image,
    tmp_path,
):
    docker_client.images.get(test_image).tag(*OTHER.split(":"))
    extra = EXTRA.format(pool=str(tmp_path / "pool"), other=OTHER)
    cfg = bundle_config_file(
        tmp_path, test_image, NET, "admin admin\nann\ncat\nbob\n", extra, before=BEFORE, idle=3600
    )
    t0 = time.monotonic()
    async with running_hub(PyFileConfigLoader(cfg.name, str(tmp_path)).load_config()) as app:
        for name in ("ann", "cat", "bob"):
            ensure_user(app, name)
        pool = app.users["cat"].spawner.warm_pool()
        deadline = time.monotonic() + 120
        while not pool.ready:
            assert time.monotonic() < deadline, f"the pool never filled: {pool.status()}"
            await asyncio.sleep(0.2)
        # ann's default server cold, cat's named server "exam" from the pool
        ann_sp, cat_sp, _ = await asyncio.gather(
            start(app, "ann", "python"),
            start(app, "cat", "warm", "exam"),
            start(app, "bob", "python"),
        )
        assert ann_sp.pool_member == "", "ann's start should be cold"
        assert cat_sp.pool_member, "cat's start should come from the pool"
        started = time.monotonic()

        # no token, or one the hub does not know: refused, and nobody's notices
        url = url_path_join(public_url(app), "services", SERVICE_NAME, PATH)
        for headers in ({}, {"Authorization": "token not-a-token"}):
            r = await asyncio.to_thread(requests.get, url, headers=headers, timeout=30)
            assert r.status_code == 403 and "notices" not in r.text, (r.status_code, r.text)

        ann, cat, bob = await asyncio.gather(
            lab_with_notices(browser, app, "ann"),
            lab_with_notices(browser, app, "cat", "exam"),
            lab_with_notices(browser, app, "bob"),
        )
        for name, server, (page, answer, said) in (("ann", "", ann), ("cat", "exam", cat)):
            assert (answer["user"], answer["server"]) == (name, server)
            assert [n["key"] for n in answer["notices"]] == ["max-age"], answer
            toast = page.get_by_text(re.compile(re.escape(WARNING)))
            await toast.first.wait_for(timeout=30 * MS)
            await shots(page, f"lab-notice-{name}")
            mine = [s for s in said if "jhub-kit" in s]
            assert mine == [], mine
        page, answer, said = bob
        assert (answer["user"], answer["server"], answer["notices"]) == ("bob", "", [])
        await asyncio.sleep(1)  # the answer is shown at once, if at all
        assert await page.get_by_text("will be stopped").count() == 0
        assert [s for s in said if "jhub-kit" in s] == []
        await shots(page, "lab-no-notice-bob")
        print(
            f"\nhub and pool ready, three servers started in {started - t0:.1f} s; "
            f"three labs logged in and checked in {time.monotonic() - started:.1f} s"
        )
        print("what the pages logged:", json.dumps(ann[2] + cat[2] + bob[2], indent=1)[:2000])
