"""nbgrader's Assignments tab in a real browser (Debian's Chromium through Playwright),
on the hub of tests/integration/test_nbgrader.py (loopfile homes, the course image,
a warm pool of one): the teacher releases ps1 by nbgrader's commands; a student logs
in, gets a server from the warm pool, fetches and submits ps1 from JupyterLab's
*Assignments* tab; the teacher collects, autogrades and releases the feedback; the
student fetches it from the tab and reads it in JupyterLab. The teacher's
formgrader (in her own server) lists the student and her score; the student's
server has no formgrader (nor the teachers' menu items and toolbar). Screenshots are kept."""

from __future__ import annotations

import json

import pytest
from conftest import remove_test_containers
from hubutil import running_hub
from jupyterhub.tests.utils import public_url
from jupyterhub.utils import url_path_join
from nbgraderrig import (  # noqa: F401 - fresh_registry is a fixture
    COURSE,
    SOURCE,
    STAFF,
    config,
    fresh_registry,
    open_course,
    run,
    write_file,
)
from test_browser import MS, browser, chromium_path, login, shots, wait_for_lab  # noqa: F401

pytestmark = [pytest.mark.docker, pytest.mark.hub, pytest.mark.root, pytest.mark.browser]


def formgrader(app, user: str) -> str:
    """The formgrader's list of students in ``user``'s server."""
    return url_path_join(public_url(app, app.users[user]), "formgrader/manage_students")


async def test_a_student_fetches_submits_and_reads_feedback_in_the_assignments_tab(
    browser,  # noqa: F811
    shots,  # noqa: F811
    docker_client,
    course_image,
    chp,
    mount_area,
    fresh_registry,  # noqa: F811
    docker_debug,
):
    c = config(course_image, mount_area)
    c.QuotaDockerSpawner.profile_list = []  # straight to JupyterLab after the login
    try:
        async with running_hub(c) as app:
            (tess,) = await open_course(app, ("ann",), cold=())
            await run(
                docker_client,
                tess,
                write_file(f"{STAFF}/source/ps1/ps1.ipynb", json.dumps(SOURCE))
                + " && cd ~ && nbgrader generate_assignment ps1 && nbgrader release_assignment ps1",
            )

            page = await (
                await browser.new_context(viewport={"width": 1280, "height": 900})
            ).new_page()
            await login(page, app, "ann")
            await wait_for_lab(page)
            ann = app.users["ann"].spawner
            # a student's JupyterLab: the Assignments tab, no teachers' tools
            await page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").click()
            menu = await page.locator(".lm-Menu").last.inner_text()
            assert "Assignment List" in menu and "Formgrader" not in menu, menu
            assert await page.get_by_text("Create Assignment").count() == 0
            await page.keyboard.press("Escape")
            assert ann.pool_member, "ann's server should have come from the warm pool"

            # Nbgrader's Assignments tab, from its menu
            await page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").click()
            await page.get_by_role("menuitem", name="Assignment List").click()
            released = page.locator("#released_assignments_list")
            await released.get_by_text("ps1").wait_for(timeout=120 * MS)
            assert COURSE in await released.inner_text()
            await shots(page, "nbgrader-released")
            await released.get_by_role("button", name="Fetch").click()
            fetched = page.locator("#fetched_assignments_list")
            await fetched.get_by_role("button", name="Submit").click(timeout=120 * MS)
            submitted = page.locator("#submitted_assignments_list")
            await submitted.get_by_role("button", name="Fetch Feedback").wait_for(timeout=120 * MS)
            await shots(page, "nbgrader-submitted")

            out = await run(
                docker_client,
                tess,
                "cd ~ && nbgrader collect ps1 && nbgrader autograde ps1 && "
                "nbgrader generate_feedback ps1 && nbgrader release_feedback ps1",
            )
            assert "Collecting submission: ann ps1" in out, out

            await page.click("#refresh_assignments_list")
            await submitted.get_by_text("feedback available to fetch").wait_for(timeout=120 * MS)
            await submitted.get_by_role("button", name="Fetch Feedback").click()
            await submitted.get_by_text("view feedback").wait_for(timeout=120 * MS)
            await shots(page, "nbgrader-feedback")
            html = await run(docker_client, ann, "cat ~/ps1/feedback/*/ps1.html")
            assert "ann" in html or "ps1" in html
            assert "Score" in html or "score" in html, html[:500]
            # the tab's link leads to the feedback in the student's home; it opens there
            await submitted.get_by_text("view feedback").click()
            item = page.locator(".jp-DirListing-item", has_text="ps1.html")
            await item.dblclick(timeout=60 * MS)
            viewer = page.frame_locator(".jp-HTMLViewer iframe")
            await viewer.get_by_text("ps1").first.wait_for(timeout=60 * MS)
            # ann submitted ps1 as fetched: the autograder's test failed
            assert "ps1 (Score: 0.0 / 1.0)" in await viewer.locator("body").inner_text()
            await shots(page, "nbgrader-feedback-read")

            # the formgrader, in the teacher's own server: ann and her score
            teacher = await (
                await browser.new_context(viewport={"width": 1280, "height": 900})
            ).new_page()
            await login(teacher, app, "tess")
            await wait_for_lab(teacher)
            await teacher.goto(formgrader(app, "tess"))
            row = teacher.locator("tr", has_text="ann")
            await row.wait_for(timeout=60 * MS)
            assert "0 / 1" in await row.inner_text()  # her overall score
            await shots(teacher, "formgrader-students")
            # ann's server has no formgrader, no teachers' tools at all
            response = await page.goto(formgrader(app, "ann"))
            assert response is not None and response.status == 404
    finally:
        remove_test_containers(docker_client)
