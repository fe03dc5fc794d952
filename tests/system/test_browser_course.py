"""A course in a real browser (Debian's Chromium through Playwright), on the bundle's
bridge network with loopfile homes: picking a profile on the spawn page after logging
in, getting a server from the warm pool and reading its limits in a notebook cell; the
refusals a student reads (another group's profile, a server beyond max_servers);
the class dashboard's roster, charts and filters. Screenshots are kept."""

from __future__ import annotations

import asyncio
import re

import pytest

# the browser and its screenshots of the first browser tests
from browserrig import MS, hub_config, login, wait_for_lab
from hubutil import ensure_user, running_hub, start_server
from jupyterhub.tests.utils import public_url
from jupyterhub.utils import url_path_join
from notebook_page import open_notebook, put_notebook, run_cell

pytestmark = [pytest.mark.docker, pytest.mark.hub, pytest.mark.root, pytest.mark.browser]

USERLIST = "teacher admin group:teachers\nann\nbob\ndan\ncarl\n"

COURSE = """\
c.QuotaDockerSpawner.mem_limit = "400M"
c.QuotaDockerSpawner.disk_limit = "40M"
c.QuotaDockerSpawner.poll_interval = 2
c.QuotaDockerSpawner.usage_interval = 1
c.QuotaDockerSpawner.quota_ceiling = {"mem_limit": "600M"}
c.QuotaDockerSpawner.quota_ceiling_groups = {"teachers": {"mem_limit": "1G"}}
c.QuotaDockerSpawner.max_servers = 1
c.QuotaDockerSpawner.quota_groups = {"teachers": {"max_servers": 3}}
c.JupyterHub.allow_named_servers = True
c.QuotaDockerSpawner.profile_list = [
    {"display_name": "Python", "slug": "python", "default": True,
     "description": "the course's notebooks"},
    {"display_name": "Python, more memory", "slug": "big", "mem_limit": "600M",
     "cpu_limit": 1, "spawner_override": {"environment": {"COURSE_PROFILE": "big"}}},
    {"display_name": "Project", "slug": "project", "mem_limit": "1G",
     "allowed_groups": ["teachers"]},
]
"""


def course_config(tmp_path, image: str, pool: int = 0):
    c = hub_config(tmp_path, image, USERLIST)
    exec(COURSE, {"c": c})  # the course's settings, as a config file would add them
    c.Authenticator.admin_users = {"admin"}
    if pool:
        c.QuotaDockerSpawner.pool_size = pool
        c.QuotaDockerSpawner.pool_dir = str(tmp_path / "pool")
    return c


@pytest.fixture
async def course(docker_client, test_image, chp, net, mount_area, tmp_path):
    async with running_hub(course_config(tmp_path, test_image, pool=1)) as app:
        yield app


async def pool_ready(app, n: int = 1) -> None:
    ensure_user(app, "ann")
    pool = app.users["ann"].spawner.warm_pool()
    for _ in range(900):
        if len(pool.ready) >= n:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"the pool never filled: {pool.status()}")


async def test_profile_picked_after_logging_in_pooled_limits_in_a_cell(
    browser,
    course,
    shots,
    docker_client,
):
    """A student logs in, picks a profile on the spawn page, gets a server from the
    warm pool (same image: the profile's limits and environment handed over) and
    reads its limits in a notebook cell."""
    app = course
    await pool_ready(app)
    page = await (await browser.new_context(viewport={"width": 1280, "height": 800})).new_page()
    await login(page, app, "ann")
    await page.wait_for_selector("#jhub-kit-profiles", timeout=60 * MS)
    form = await page.locator("#jhub-kit-profiles").inner_text()
    assert "Python, more memory (memory 600M, 1 CPU)" in form
    assert "Project" not in form  # the teachers' profile is not offered
    await page.check("input[name=profile][value=big]")
    await shots(page, "spawn-page-profiles")
    t0 = asyncio.get_running_loop().time()
    await page.click("form#spawn_form [type=submit]")
    await wait_for_lab(page)
    took = asyncio.get_running_loop().time() - t0
    spawner = app.users["ann"].spawner
    assert spawner.pool_member, "the start should have come from the pool"
    assert spawner.profile_label == {"slug": "big", "name": "Python, more memory"}
    print(f"pooled start with a profile, submit to JupyterLab: {took:.1f} s")
    await put_notebook(
        app,
        "ann",
        "limits.ipynb",
        ["import os; print(os.environ['MEM_LIMIT'], os.environ['COURSE_PROFILE'])"],
    )
    await open_notebook(
        page, url_path_join(public_url(app, app.users["ann"]), "lab/tree/limits.ipynb")
    )
    assert f"{600 * 1024**2} big" in await run_cell(page, 0, timeout=180)
    await shots(page, "profile-limits-in-a-cell")
    info = docker_client.api.inspect_container(spawner.object_id)  # a member's name
    assert info["HostConfig"]["Memory"] == 600 * 1024**2


async def test_refusals_a_student_reads(browser, course, shots):
    app = course
    page = await (await browser.new_context(viewport={"width": 1280, "height": 800})).new_page()
    await login(page, app, "bob")
    await page.wait_for_selector("#jhub-kit-profiles", timeout=60 * MS)
    # a link to the teachers' profile: refused on the spawn page, in words
    r = await page.goto(url_path_join(public_url(app), "hub/spawn?profile=project"))
    assert r.status == 400
    await page.get_by_text("is for the group(s) teachers").wait_for(timeout=30 * MS)
    await shots(page, "refused-another-groups-profile")
    assert not app.users["bob"].running
    # one server is bob's most: a second (named) one is refused
    await page.goto(url_path_join(public_url(app), "hub/spawn"))
    await page.click("form#spawn_form [type=submit]")
    await wait_for_lab(page)
    r = await page.goto(url_path_join(public_url(app), "hub/spawn/bob/second?profile=python"))
    assert r.status == 400
    await page.get_by_text("the most you may run at once (1)").wait_for(timeout=30 * MS)
    await shots(page, "refused-beyond-max-servers")
    assert (
        "second" not in app.users["bob"].spawners or not app.users["bob"].spawners["second"].active
    )


async def shown_users(page) -> list[str]:
    """The users of the dashboard's rows, as shown (read through locators: the
    dashboard's CSP refuses string-evaluated scripts)."""
    return [await r.get_attribute("data-user") for r in await page.locator("#class tbody tr").all()]


async def test_dashboard_roster_history_and_filters(browser, course, shots):
    from playwright.async_api import expect

    app = course
    ensure_user(app, "ann")
    await start_server(app, "ann")
    teacher = await (await browser.new_context(viewport={"width": 1500, "height": 700})).new_page()
    await login(teacher, app, "teacher")
    await teacher.wait_for_url(re.compile(r"/(hub|user)/"), timeout=60 * MS)
    await teacher.goto(url_path_join(public_url(app), "services/class-dashboard/"))
    carl = teacher.locator("tr[data-user='carl'] td[data-key='server']")
    await expect(carl).to_have_text("never logged in", timeout=60 * MS)  # the roster
    ann = teacher.locator("tr[data-user='ann']")
    await expect(ann.locator("td[data-key='server']")).to_have_text("running", timeout=60 * MS)
    await expect(ann.locator("td[data-key='profile']")).to_have_text("Python", timeout=60 * MS)
    # a reading draws ann's chart (a stub at its right end: a minute's bucket) and a peak
    line = ann.locator("td[data-key='history'] svg polyline.mem")
    await expect(line).to_have_attribute(
        "points", re.compile(r"^\d+\.\d,\d+\.\d \d+\.\d,\d+\.\d"), timeout=60 * MS
    )
    await expect(ann.locator("td[data-key='memory_peak']")).not_to_have_text("-", timeout=60 * MS)
    running = teacher.locator("#class-chart svg polyline.running")
    await expect(running).to_have_count(1)
    # drawn from the first reading on (a stub one minute wide, never an invisible point)
    await expect(running).to_have_attribute("points", re.compile(r"^[\d.]+,[\d.]+ [\d.]+,[\d.]+"))
    await shots(teacher, "dashboard-with-history")
    # filter by group: only the teachers
    await teacher.select_option("#filter-group", "teachers")
    users = await shown_users(teacher)
    assert users == ["teacher"], users
    await teacher.select_option("#filter-group", "")
    await teacher.select_option("#filter-profile", "Python")
    users = await shown_users(teacher)
    assert users == ["ann"], users


async def test_named_server_from_the_home_page_listed_for_student_and_teacher(
    browser,
    course,
    shots,
):
    """The teacher (up to 3 servers) adds a named server on JupyterHub's home page,
    starts it with the teachers' profile from its spawn page; the kit's part of the
    home page lists it with its state, profile and memory, and the class dashboard
    gives it its own row beside the default server's."""
    from playwright.async_api import expect

    app = course
    page = await (await browser.new_context(viewport={"width": 1400, "height": 800})).new_page()
    await login(page, app, "teacher")
    await page.wait_for_url(re.compile(r"/(hub|user)/"), timeout=60 * MS)
    await page.goto(url_path_join(public_url(app), "hub/home"))
    await page.fill(".new-server-name", "project")
    await page.click(".new-server-btn")  # JupyterHub makes it; its row has a start button
    start = page.locator("tr.home-server-row[data-server-name='project'] .start-server")
    await start.click(timeout=60 * MS)
    # the spawn page of the named server: the teacher picks the teachers' profile
    await page.wait_for_selector("#jhub-kit-profiles", timeout=60 * MS)
    await page.check("input[name=profile][value=project]")
    await page.click("form#spawn_form [type=submit]")
    await page.wait_for_url(re.compile(r"/user/teacher/project/lab"), timeout=180 * MS)
    await page.wait_for_selector(".jp-LabShell", timeout=180 * MS)
    await page.goto(url_path_join(public_url(app), "hub/home"))
    row = page.locator("#jhub-kit-servers tr[data-server='project']")
    await expect(row).to_contain_text("running", timeout=60 * MS)
    assert (await row.locator("td").all_inner_texts())[2:] == ["Project", "1G"]
    await shots(page, "home-named-server-listed")
    spawner = app.users["teacher"].spawners["project"]
    assert spawner.ready and spawner.profile_label["slug"] == "project"
    # the dashboard: the named server's own row (the default server's row: stopped)
    await page.goto(url_path_join(public_url(app), "services/class-dashboard/"))
    named = page.locator("tr[data-user='teacher'][data-server='project']")
    await expect(named.locator("td[data-key='server']")).to_have_text("running", timeout=60 * MS)
    await expect(named.locator("td[data-key='server_name']")).to_have_text("project")
    await expect(named.locator("td[data-key='profile']")).to_have_text("Project")
    await expect(named.locator("td[data-key='memory']")).to_have_text("1G")
    default = page.locator("tr[data-user='teacher'][data-server='']")
    await expect(default.locator("td[data-key='server']")).to_have_text("stopped")
    await shots(page, "dashboard-named-server")
