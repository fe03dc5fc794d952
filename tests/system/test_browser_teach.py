"""A teacher acts from the class dashboard in a real browser (Debian's Chromium through
Playwright): the teacher of class-a raises a student's memory from 512M to 1G with
the dashboard's form, sees the change in the record, stops the student's server
with its button and starts it again, and the new container has 1G; no button for
a student of another group. Screenshots are kept."""

from __future__ import annotations

import asyncio
import re
import time

import pytest
from hubutil import bundle_config_file, ensure_user, running_hub, start_server
from jupyterhub.tests.utils import public_url
from jupyterhub.utils import url_path_join

# the browser and its screenshots of the first browser tests
from test_browser import (  # noqa: F401 - fixtures are found by name
    MS,
    NET,
    browser,
    chromium_path,
    login,
    net,
    put_notebook,
    shots,
)
from traitlets.config.loader import PyFileConfigLoader

pytestmark = [pytest.mark.docker, pytest.mark.hub, pytest.mark.root, pytest.mark.browser]

BEFORE = """\
c.JhubKit.teachers = {"teach-a": ["class-a"]}
c.JhubKit.teacher_ceiling = {"mem_limit": "1G", "idle_timeout": "4h"}
c.JhubKit.dashboard_user = ""  # the hub's user (test_teachers_hub runs it as nobody)
"""
EXTRA = """\
c.QuotaDockerSpawner.mem_limit = "512M"
c.QuotaDockerSpawner.quota_policy_file = {policy!r}
c.QuotaDockerSpawner.disk_limit = "40M"
c.QuotaDockerSpawner.poll_interval = 2
c.Authenticator.admin_users = {{"admin"}}
"""


async def teachers_dashboard(browser, app, width: int, height: int):  # noqa: F811
    """teach-a's class dashboard in a new browser window of ``width`` x ``height``."""
    page = await (await browser.new_context(viewport={"width": width, "height": height})).new_page()
    await login(page, app, "teach-a")
    await page.wait_for_url(re.compile(r"/(hub|user)/"), timeout=60 * MS)
    await page.goto(url_path_join(public_url(app), "services/class-dashboard/"))
    return page


async def until(check, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.3)


async def test_a_teacher_raises_memory_stops_and_starts_from_the_dashboard(
    browser,  # noqa: F811
    docker_client,
    test_image,
    chp,
    net,  # noqa: F811
    mount_area,
    tmp_path,
    shots,  # noqa: F811
    docker_debug,
):
    from playwright.async_api import expect

    policy = tmp_path / "quotas.toml"
    policy.write_text("[defaults]\npids_limit = 512\n")
    # a login keeps the groups the userlist gives (ann logs in below)
    userlist = "admin admin\nteach-a group:teachers\nann group:class-a\nbob group:class-b\n"
    cfg = bundle_config_file(
        tmp_path, test_image, NET, userlist, EXTRA.format(policy=str(policy)), before=BEFORE
    )
    c = PyFileConfigLoader(cfg.name, str(tmp_path)).load_config()
    async with running_hub(c) as app:
        ensure_user(app, "ann", ("class-a",))
        ensure_user(app, "bob", ("class-b",))
        await start_server(app, "ann")
        sp = app.users["ann"].spawner
        memory = docker_client.containers.get(sp.container_id).attrs["HostConfig"]["Memory"]
        assert memory == 512 * 1024**2

        page = await teachers_dashboard(browser, app, 1280, 900)
        ann = page.locator("tr[data-user='ann']")
        await expect(ann.locator("td[data-key='server']")).to_have_text("running", timeout=60 * MS)
        stop = ann.locator("button[data-action='stop']")
        await expect(stop).to_have_count(1)
        # bob is in class-b: no button, and not in the form's choices
        await expect(page.locator("tr[data-user='bob'] button")).to_have_count(0)
        choices = await page.locator("#limits-target option").all_inner_texts()
        assert choices == ["group class-a", "ann"], choices

        await page.select_option("#limits-target", label="ann")
        await page.fill("#limits-memory", "1G")
        await page.click("#limits-form button[type=submit]")
        await expect(page.locator("#action-status")).to_contain_text(
            "user:ann mem_limit: - → 1G", timeout=30 * MS
        )
        # the teachers' own file (the bundle's), over the admin's, which stays as it was
        teachers = tmp_path / "data" / "teachers" / "policy.toml"
        assert "[users.ann]" in teachers.read_text()
        assert policy.read_text() == "[defaults]\npids_limit = 512\n"
        row = page.locator("#audit tbody tr").first
        await expect(row).to_contain_text("teach-a", timeout=30 * MS)
        await expect(row).to_contain_text("mem_limit")
        await shots(page, "teacher-raised-memory")
        page_width = await page.evaluate("document.documentElement.scrollWidth")
        assert page_width <= 1280, page_width  # no horizontal page scroll

        # over the ceiling: the form says why
        await page.fill("#limits-memory", "4G")
        await page.click("#limits-form button[type=submit]")
        await expect(page.locator("#action-status")).to_contain_text("ceiling", timeout=30 * MS)

        await stop.click()
        user = app.users["ann"]
        await until(lambda: not user.running and not user.spawner.pending, "never stopped")
        start = ann.locator("button[data-action='start']")
        await expect(start).to_have_count(1, timeout=60 * MS)
        await start.click()
        await until(lambda: user.running and not user.spawner.pending, "never started")
        sp = user.spawner
        memory = docker_client.containers.get(sp.container_id).attrs["HostConfig"]["Memory"]
        assert memory == 1024**3
        await expect(ann.locator("td[data-key='memory']")).to_have_text("1G", timeout=90 * MS)
        await shots(page, "teacher-restarted-student")

        # -- the teacher opens ann's server to help her and reads her notebook --
        await put_notebook(app, "ann", "help.ipynb", ["print('where is my mistake?')"])
        async with page.context.expect_page() as opened:
            await ann.locator("button[data-action='open']").click()
        tab = await opened.value
        await tab.wait_for_url(re.compile(r"oauth2/authorize"), timeout=60 * MS)
        await shots(tab, "teacher-asked-to-authorize")
        await tab.get_by_role("button", name="Authorize").click()
        await tab.wait_for_url(re.compile(r"/user/ann/"), timeout=60 * MS)
        await tab.goto(url_path_join(public_url(app, app.users["ann"]), "lab/tree/help.ipynb"))
        await expect(tab.locator(".jp-Notebook .jp-Cell").first).to_contain_text(
            "where is my mistake?", timeout=120 * MS
        )
        await shots(tab, "teacher-reads-students-notebook")
        await tab.close()

        # -- more idle time for today --
        await ann.locator("button[data-action='extend']").click()
        await expect(page.locator("#action-status")).to_contain_text(
            "not stopped for being idle until", timeout=30 * MS
        )

        # -- the student's hub page says both --
        student = await (
            await browser.new_context(viewport={"width": 1280, "height": 900})
        ).new_page()
        await login(student, app, "ann")
        await student.goto(url_path_join(public_url(app), "hub/home"))
        await expect(student.locator("[data-notice='opened']").first).to_contain_text(
            re.compile(r"Your teacher teach-a opened your server at \d\d:\d\d")
        )
        await expect(student.locator("[data-notice='extended']")).to_contain_text(
            "gave you more idle time today"
        )
        await shots(student, "student-sees-the-teacher")

        # -- a phone: the buttons are reachable, the page does not scroll sideways --
        phone = await teachers_dashboard(browser, app, 390, 844)
        row = phone.locator("tr[data-user='ann']")
        await expect(row.locator("td[data-key='server']")).to_have_text("running", timeout=60 * MS)
        for action in ("open", "stop", "extend"):
            button = row.locator(f"button[data-action='{action}']")
            await expect(button).to_have_count(1, timeout=60 * MS)
            await button.scroll_into_view_if_needed()
            box = await button.bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, (action, box)
        await phone.locator("#extend-today").scroll_into_view_if_needed()
        width = await phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, width
        await shots(phone, "teacher-on-a-phone")
