"""What students and teachers see, in a real browser: Debian's Chromium driven by
Playwright, against a real hub from the bundle (engine, proxy, loopfile homes,
the dashboard service). Every step leaves a screenshot in ``SHOTS`` (printed at
the end of the run); the docs show the key ones.

- a student logs in, waits on the pending page, lands in JupyterLab whose status
  bar shows their memory limit, runs cells: a write past the home quota fails
  with "No space left on device" while the server keeps running, and the hub's
  home page then reads the home as full; an allocation past the memory limit
  kills the kernel and the hub's home page says why;
- six students start at once with a start limit of 2: a pending page shows their
  place in line ("ahead of you");
- the teacher's class dashboard (sortable, CSV), and 403 for a student;
- seed 000's flow: sign up with NativeAuthenticator, the admin authorizes on the
  authorize page, the student logs in, spawns and runs a cell.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from browserrig import MS, hub_config, login, wait_for_lab
from hubutil import running_hub
from jupyterhub.tests.utils import public_url
from jupyterhub.utils import url_path_join
from notebook_page import open_notebook, put_notebook, run_cell

pytestmark = [pytest.mark.docker, pytest.mark.hub, pytest.mark.root, pytest.mark.browser]


async def test_student_sees_limits_and_why(browser, app_env, shots, docker_client, docker_debug):
    app = app_env
    page = await (await browser.new_context(viewport={"width": 1280, "height": 800})).new_page()
    page.on("console", lambda m: print("CONSOLE", m.type, m.text[:300]))
    page.on(
        "websocket",
        lambda ws: (
            print("WS", ws.url)
            or ws.on("close", lambda w: print("WS CLOSED", w.url))
            or ws.on("socketerror", lambda e: print("WS ERROR", e))
        ),
    )
    await page.goto(url_path_join(public_url(app), "hub/login"))
    await shots(page, "login")
    await login(page, app, "ann")
    await page.wait_for_url(re.compile(r"/(spawn-pending|user)/ann"), timeout=60 * MS)
    if "spawn-pending" in page.url:
        await shots(page, "pending")
    await wait_for_lab(page)

    # jupyter-resource-usage in the status bar, against the kit's MEM_LIMIT
    usage = page.locator("#jp-main-statusbar").get_by_text(re.compile(r"Mem: .* / 500"))
    await usage.first.wait_for(timeout=60 * MS)
    await shots(page, "lab-memory-limit")

    await put_notebook(
        app,
        "ann",
        "limits.ipynb",
        [
            "import os; print('MEM_LIMIT', os.environ['MEM_LIMIT'], end=' ')\n"
            "print('CPU_LIMIT', os.environ['CPU_LIMIT'])",
            "open('big.bin', 'wb').write(b'x' * 60_000_000)",  # what fits stays: home full
            "b = bytearray(800 * 1024 * 1024)",
        ],
    )
    await open_notebook(
        page, url_path_join(public_url(app, app.users["ann"]), "lab/tree/limits.ipynb?reset")
    )
    assert "MEM_LIMIT 524288000 CPU_LIMIT 1" in await run_cell(page, 0, timeout=180)
    err = await run_cell(page, 1)
    assert "No space left on device" in err, err
    await shots(page, "disk-full-in-notebook")
    assert app.users["ann"].running  # the server lives on

    # what fitted of big.bin fills the home: the hub's home page reads it as full
    home = await browser.new_page()
    await home.context.add_cookies(await page.context.cookies())
    for _ in range(20):
        await home.goto(url_path_join(public_url(app), "hub/home"))
        text = await home.locator("#jhub-kit-quota").inner_text()
        if "nearly full, writes may fail" in text:
            break
        await asyncio.sleep(1)
    assert "nearly full, writes may fail" in text, text
    assert "500M" in text and "1 core" in text
    await shots(home, "home-quota-full")

    # past the memory limit: the kernel dies; the hub's home page says why
    cell = page.locator(".jp-Notebook .jp-Cell").nth(2)
    await cell.locator(".jp-InputArea-editor").click()
    await page.keyboard.press("Control+Enter")
    await page.get_by_text(
        re.compile("kernel .* (appears to have )?died|Kernel Restarting", re.I)
    ).first.wait_for(timeout=60 * MS)
    await shots(page, "kernel-died")
    for _ in range(30):
        await home.goto(url_path_join(public_url(app), "hub/home"))
        if await home.locator("#jhub-kit-last-event").count():
            break
        await asyncio.sleep(1)
    reason = await home.locator("#jhub-kit-last-event").inner_text()
    assert "used more than your memory limit of 500M" in reason
    await shots(home, "home-why-kernel-died")


@pytest.fixture
async def app_env(docker_client, test_image, chp, net, mount_area, tmp_path):
    c = hub_config(
        tmp_path,
        test_image,
        "teacher admin group:teachers\nann\nbob\n" + "".join(f"s{i}\n" for i in range(6)),
    )
    c.Authenticator.admin_users = {"admin"}
    async with running_hub(c) as app:
        yield app


async def test_queue_place_on_the_pending_page(browser, app_env, shots):
    """Four students at once, two starts at a time: someone is told they wait, and
    everyone gets JupyterLab. Each page is watched until it shows its place in line
    or JupyterLab, whichever comes first (a page served at once never shows a place:
    waiting for one there only ran out the timeout, 60 s of the suite)."""
    app = app_env
    pages = []
    for _ in range(4):
        ctx = await browser.new_context(viewport={"width": 1000, "height": 700})
        pages.append(await ctx.new_page())
    await asyncio.gather(*(login(p, app, f"s{i}") for i, p in enumerate(pages)))

    shot: list[int] = []

    async def saw_queue(i: int, page) -> bool:
        ahead = page.get_by_text("ahead of you")
        try:
            # a locator wait, not wait_for_function: a string predicate is eval'd in
            # the page, which a Content-Security-Policy without 'unsafe-eval' refuses
            await ahead.or_(page.locator(".jp-LabShell")).first.wait_for(timeout=300 * MS)
        except Exception:
            return False
        if not await ahead.count():
            return False  # JupyterLab first: this student did not wait
        if not shot:  # at once, before the page moves on to JupyterLab
            shot.append(i)
            await shots(page, "pending-ahead-of-you")
        return True

    seen = await asyncio.gather(*(saw_queue(i, p) for i, p in enumerate(pages)))
    assert any(seen), "no pending page showed a place in line"
    await asyncio.gather(*(wait_for_lab(p, timeout=300) for p in pages))


async def test_dashboard_for_the_teacher_403_for_a_student(browser, app_env, shots):
    from hubutil import ensure_user, start_server
    from playwright.async_api import expect

    app = app_env
    ensure_user(app, "ann")
    await start_server(app, "ann")
    teacher = await (await browser.new_context(viewport={"width": 1400, "height": 600})).new_page()
    await login(teacher, app, "teacher")
    await teacher.wait_for_url(re.compile(r"/(hub|user)/"), timeout=60 * MS)
    await teacher.goto(url_path_join(public_url(app), "services/class-dashboard/"))
    await teacher.wait_for_selector("tr[data-user='ann'] td[data-key='server']", timeout=60 * MS)
    # the board shows its latest snapshot (taken every 10 s, maybe while ann's server
    # was still starting) and refreshes itself: wait for one taken after the start
    used = "tr[data-user='ann'] td[data-key='memory_used']"
    state = "tr[data-user='ann'] td[data-key='server']"
    # expect() polls from Playwright's own world: the dashboard's CSP (default-src
    # 'self', no 'unsafe-eval') refuses wait_for_function's string predicates
    await expect(teacher.locator(state)).to_have_text("running", timeout=60 * MS)
    await expect(teacher.locator(used)).not_to_have_text("-", timeout=60 * MS)
    ann = teacher.locator("tr[data-user='ann']")
    assert await ann.locator("td[data-key='server']").inner_text() == "running"
    assert await ann.locator("td[data-key='memory']").inner_text() == "500M"
    assert await ann.locator("td[data-key='disk_limit']").inner_text() == "40M"
    # sort by memory used, largest first: running servers (ann's; the teacher's, if
    # the login started it) before every user without one
    await teacher.click("th[data-key='memory_used']")
    await teacher.click("th[data-key='memory_used']")
    rows = teacher.locator("#class tbody tr")
    order = [
        (
            await rows.nth(i).get_attribute("data-user"),
            await rows.nth(i).locator("td[data-key='server']").inner_text(),
        )
        for i in range(await rows.count())
    ]
    idle = [i for i, (_, state) in enumerate(order) if state != "running"]
    assert order[0][1] == "running", order
    assert [u for u, _ in order].index("ann") < min(idle, default=len(order)), order
    await shots(teacher, "dashboard")
    async with teacher.expect_download() as dl:
        await teacher.click("#csv")
    csv_path = await (await dl.value).path()
    assert Path(csv_path).read_text().startswith("user,groups,server_name,server,")

    student = await (await browser.new_context()).new_page()
    await login(student, app, "bob")
    await student.wait_for_url(re.compile(r"/(hub|user)/"), timeout=60 * MS)
    r = await student.goto(url_path_join(public_url(app), "services/class-dashboard/"))
    assert r.status == 403
    await shots(student, "dashboard-403-for-a-student")


async def test_dashboard_is_a_hub_page_that_fits_the_window(browser, app_env, tmp_path):
    """The class dashboard is JupyterHub's own page (its navigation bar back to the
    hub, its styles, light and dark) and fits a 1280 px window and a 390 px phone:
    no horizontal page scroll (the table scrolls in its own box); its class chart
    is a line over time from the first minute. Screenshots in the test's tmp dir."""
    from hubutil import ensure_user, start_server
    from playwright.async_api import expect

    app = app_env
    ensure_user(app, "ann")
    await start_server(app, "ann")
    board = url_path_join(public_url(app), "services/class-dashboard/")
    hub = app.hub.base_url
    saved = []
    for width, height, scheme in [(1280, 900, "light"), (390, 844, "light"), (1280, 900, "dark")]:
        ctx = await browser.new_context(
            viewport={"width": width, "height": height}, color_scheme=scheme
        )
        teacher = await ctx.new_page()
        errors: list[str] = []
        teacher.on("console", lambda m, errors=errors: m.type == "error" and errors.append(m.text))
        await login(teacher, app, "teacher")
        await teacher.wait_for_url(re.compile(r"/(hub|user)/"), timeout=60 * MS)
        await teacher.goto(board)
        state = teacher.locator("tr[data-user='ann'] td[data-key='server']")
        await expect(state).to_have_text("running", timeout=60 * MS)
        used = teacher.locator("tr[data-user='ann'] td[data-key='disk_used']")
        await expect(used).to_have_text(re.compile(r"^\S+ \(\d+%\)"), timeout=60 * MS)

        # JupyterHub's navigation bar, its links back to the hub, its theme
        nav = teacher.locator("nav.navbar")
        await expect(nav).to_be_visible()
        for link in ("home", "token", "admin"):  # the teacher is an admin
            assert await nav.locator(f"a.nav-link[href='{hub}{link}']").count() == 1, link
        assert await nav.locator("a#logout").get_attribute("href") == f"{hub}logout"
        if width >= 576:  # Bootstrap's sm: the links show; below, behind the toggler
            await expect(nav.locator(f"a[href='{hub}token']")).to_be_visible()
        else:
            await expect(nav.locator(".navbar-toggler")).to_be_visible()
        theme = await teacher.evaluate("document.documentElement.getAttribute('data-bs-theme')")
        assert theme == scheme
        # the hub's Bootstrap applies: the navbar's background is Bootstrap's tertiary
        background = await nav.evaluate("n => getComputedStyle(n).backgroundColor")
        assert background not in ("rgba(0, 0, 0, 0)", "transparent"), background

        # no horizontal scroll of the page; the table scrolls in its own box
        scroll = await teacher.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert scroll[0] <= scroll[1], (width, scroll)
        overflow = await teacher.locator("#class-box").evaluate(
            "b => getComputedStyle(b).overflowX"
        )
        assert overflow == "auto"

        # the class chart: a line over time, as wide as the page (not one vertical line)
        line = teacher.locator("#class-chart svg polyline.running")
        await expect(line).to_have_count(1)
        xs = {p.split(",")[0] for p in (await line.get_attribute("points")).split()}
        chart_width = float(await teacher.locator("#class-chart svg").get_attribute("width"))
        assert len(xs) >= 2 and chart_width >= width - 60, (xs, chart_width)

        path = tmp_path / f"dashboard-{width}x{height}-{scheme}.png"
        await teacher.screenshot(path=str(path), full_page=True)
        saved.append(path)
        assert not [e for e in errors if "Content Security Policy" in e], errors
        await ctx.close()
    for path in saved:
        print("screenshot:", path)


async def test_seed_000_native_signup_authorize_spawn(
    browser, docker_client, test_image, chp, net, mount_area, tmp_path, shots
):
    """Seed 000: a student signs up, the admin authorizes them on the authorize
    page, the student logs in, their server starts and a cell runs."""
    from jhub_kit.auth.native import set_password

    c = hub_config(tmp_path, test_image, "teacher admin\nstudent1\n", auth="native")
    async with running_hub(c) as app:
        base = public_url(app)
        assert set_password(app.db, "teacher", "t3acher-passw0rd") is True  # the CLI's way

        student = await (
            await browser.new_context(viewport={"width": 1280, "height": 800})
        ).new_page()
        await student.goto(url_path_join(base, "hub/signup"))
        await student.fill("#username_input", "student1")
        await student.fill("#password_input", "c0rrect-h0rse-battery")
        await student.fill("#password_confirmation_input", "c0rrect-h0rse-battery")
        await shots(student, "signup")
        await student.click("#signup_submit")
        await student.get_by_text(
            re.compile("information has been sent to the admin", re.I)
        ).wait_for(timeout=30 * MS)
        await shots(student, "signed-up")

        admin = await (
            await browser.new_context(viewport={"width": 1280, "height": 800})
        ).new_page()
        await login(admin, app, "teacher", "t3acher-passw0rd")
        await admin.wait_for_url(re.compile(r"/(hub|user)/"), timeout=60 * MS)
        await admin.goto(url_path_join(base, "hub/authorize"))
        row = admin.locator("tr", has_text="student1")
        await shots(admin, "authorize-page")
        await row.get_by_role("button", name="Authorize", exact=True).click()
        await admin.wait_for_load_state()
        await admin.goto(url_path_join(base, "hub/authorize"))
        await (
            admin.locator("tr", has_text="student1")
            .get_by_role("button", name="Unauthorize", exact=True)
            .wait_for(timeout=30 * MS)
        )

        await login(student, app, "student1", "c0rrect-h0rse-battery")
        await wait_for_lab(student)
        await shots(student, "student-lab")
        await put_notebook(app, "student1", "hello.ipynb", ["print(6 * 7)"])
        await open_notebook(
            student,
            url_path_join(public_url(app, app.users["student1"]), "lab/tree/hello.ipynb?reset"),
        )
        assert (await run_cell(student, 0)).strip() == "42"
        await shots(student, "cell-ran")
