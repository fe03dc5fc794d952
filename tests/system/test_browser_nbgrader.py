"""nbgrader's Assignments tab in a real browser (Debian's Chromium through Playwright),
on the hub of tests/integration/test_nbgrader.py (the servers on a bridge network
of the test's own, loopfile homes, the course image, a warm pool of one): the
teacher releases ps1 by nbgrader's commands; two students log in, each in a
context of their own in one browser: ann gets a server from the warm pool, ben a
cold start (the spawners' ``pool_member`` says which). Both fetch and submit ps1
from JupyterLab's *Assignments* tab at once (each one's answer is written into
the fetched notebook between the two clicks: ann's passes the autograder's test,
ben's fails it); the teacher collects, autogrades and releases the feedback; each
student fetches it from the tab and reads it in JupyterLab: their own score and
answer, nothing of the other's; ben's browser is refused ann's server. The
teacher's formgrader (in her own server) lists both students with their scores;
a student's server has no formgrader (nor the teachers' menu items and toolbar).
Screenshots are kept."""

from __future__ import annotations

import asyncio
import json

import pytest
from browserrig import MS, login, wait_for_lab
from conftest import remove_test_containers
from courserig import course_net, give_back, hold_members, until  # noqa: F401 - a fixture
from hubutil import running_hub
from jupyterhub.tests.utils import public_url
from jupyterhub.utils import url_path_join
from nbgraderrig import (  # noqa: F401 - fresh_registry is a fixture
    COURSE,
    HOME,
    SOURCE,
    STAFF,
    answer,
    config,
    fresh_registry,
    open_course,
    run,
    write_file,
)

pytestmark = [pytest.mark.docker, pytest.mark.hub, pytest.mark.root, pytest.mark.browser]

#: what each student writes into the fetched notebook before submitting: ann's
#: answer passes the autograder's test, ben's fails it
MARKS = {"ann": "ann-answer-5e1c", "ben": "ben-answer-8d02"}
ANSWERS = {
    "ann": f"def add(a, b):\n    return a + b  # {MARKS['ann']}",
    "ben": f"def add(a, b):\n    return a - b  # {MARKS['ben']}",
}


def formgrader(app, user: str) -> str:
    """The formgrader's list of students in ``user``'s server."""
    return url_path_join(public_url(app, app.users[user]), "formgrader/manage_students")


async def new_page(browser):
    return await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()


async def login_to_lab(page, app, name: str) -> None:
    await login(page, app, name)
    await wait_for_lab(page)


async def fetch_and_submit(page, shots, docker_client, sp, name: str) -> None:
    """In ``name``'s JupyterLab: Nbgrader → Assignment List, Fetch ps1, (their answer
    written into the fetched notebook,) Submit."""
    await page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").click()
    await page.get_by_role("menuitem", name="Assignment List").click()
    released = page.locator("#released_assignments_list")
    await released.get_by_text("ps1").wait_for(timeout=120 * MS)
    assert COURSE in await released.inner_text()
    await shots(page, f"{name}-released")
    await released.get_by_role("button", name="Fetch").click()
    submit = page.locator("#fetched_assignments_list").get_by_role("button", name="Submit")
    await submit.wait_for(timeout=120 * MS)
    await run(docker_client, sp, answer(f"{HOME}/ps1/ps1.ipynb", ANSWERS[name]))
    await submit.click()
    submitted = page.locator("#submitted_assignments_list")
    await submitted.get_by_role("button", name="Fetch Feedback").wait_for(timeout=120 * MS)
    await shots(page, f"{name}-submitted")


async def read_feedback(page, shots, name: str) -> str:
    """Once released: ``name`` fetches the feedback from the Assignments tab, follows
    *view feedback* into their home and opens it in JupyterLab; the text it shows."""
    submitted = page.locator("#submitted_assignments_list")
    await page.click("#refresh_assignments_list")
    await submitted.get_by_text("feedback available to fetch").wait_for(timeout=120 * MS)
    await submitted.get_by_role("button", name="Fetch Feedback").click()
    await submitted.get_by_text("view feedback").wait_for(timeout=120 * MS)
    await shots(page, f"{name}-feedback")
    await submitted.get_by_text("view feedback").click()
    item = page.locator(".jp-DirListing-item", has_text="ps1.html")
    await item.dblclick(timeout=60 * MS)
    viewer = page.frame_locator(".jp-HTMLViewer iframe")
    await viewer.get_by_text("ps1").first.wait_for(timeout=60 * MS)
    await shots(page, f"{name}-feedback-read")
    return await viewer.locator("body").inner_text()


async def test_two_students_fetch_submit_and_read_feedback_in_the_assignments_tab(
    browser,
    shots,
    docker_client,
    course_image,
    chp,
    mount_area,
    course_net,  # noqa: F811
    fresh_registry,  # noqa: F811
    docker_debug,
):
    c = config(course_image, mount_area, course_net)
    c.QuotaDockerSpawner.profile_list = []  # straight to JupyterLab after the login
    try:
        async with running_hub(c) as app:
            (tess,) = await open_course(app, ("ann", "ben"), cold=())
            await run(
                docker_client,
                tess,
                write_file(f"{STAFF}/source/ps1/ps1.ipynb", json.dumps(SOURCE))
                + " && cd ~ && nbgrader generate_assignment ps1 && nbgrader release_assignment ps1",
            )

            # ann from the warm pool; ben cold: once ann's start has taken the pool's
            # member, the pool is held back for ben's, which runs meanwhile
            pages = {name: await new_page(browser) for name in ("ann", "ben")}
            ann, ben = app.users["ann"].spawner, app.users["ben"].spawner
            ann_in = asyncio.ensure_future(login_to_lab(pages["ann"], app, "ann"))
            await until(lambda: ann.pool_member, 120, "ann's start to take the pool's member")
            pool = ben.warm_pool()
            hold_members(pool)
            await asyncio.gather(ann_in, login_to_lab(pages["ben"], app, "ben"))
            give_back(pool)
            assert ann.pool_member, "ann's server should have come from the warm pool"
            assert ben.pool_member == "", "ben's server should have been a cold start"

            # a student's JupyterLab: the Assignments tab, no teachers' tools
            page = pages["ann"]
            await page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").click()
            menu = await page.locator(".lm-Menu").last.inner_text()
            assert "Assignment List" in menu and "Formgrader" not in menu, menu
            assert await page.get_by_text("Create Assignment").count() == 0
            await page.keyboard.press("Escape")

            # both students at once: the Assignments tab, Fetch, Submit
            await asyncio.gather(
                *(
                    fetch_and_submit(pages[name], shots, docker_client, sp, name)
                    for name, sp in (("ann", ann), ("ben", ben))
                )
            )
            # the teacher grades by commands; meanwhile she logs in, in a context of her own
            teacher = await new_page(browser)
            out, _ = await asyncio.gather(
                run(
                    docker_client,
                    tess,
                    "cd ~ && nbgrader collect ps1 && nbgrader autograde ps1 && "
                    "nbgrader generate_feedback ps1 && nbgrader release_feedback ps1",
                ),
                login_to_lab(teacher, app, "tess"),
            )
            assert "Collecting submission: ann ps1" in out, out
            assert "Collecting submission: ben ps1" in out, out

            # each student fetches their feedback from the tab and reads it in
            # JupyterLab: their own score and answer, nothing of the other's
            texts = await asyncio.gather(
                read_feedback(pages["ann"], shots, "ann"), read_feedback(pages["ben"], shots, "ben")
            )
            for text, name, other, score in zip(
                texts, ("ann", "ben"), ("ben", "ann"), ("1.0", "0.0"), strict=True
            ):
                assert f"ps1 (Score: {score} / 1.0)" in text, (name, text[:500])
                assert MARKS[name] in text and MARKS[other] not in text, (name, text[:500])

            # the formgrader, in the teacher's own server: both students, their scores
            await teacher.goto(formgrader(app, "tess"))
            for name, score in (("ann", "1 / 1"), ("ben", "0 / 1")):
                row = teacher.locator("tr", has_text=name)
                await row.wait_for(timeout=60 * MS)
                assert score in await row.inner_text(), (name, await row.inner_text())
            await shots(teacher, "formgrader-students")
            # ben's browser at ann's server (where her feedback is): the hub refuses
            response = await pages["ben"].goto(
                url_path_join(public_url(app, app.users["ann"]), "files/ps1/feedback/")
            )
            assert response is not None and response.status == 403, response
            # a student's server has no formgrader, no teachers' tools at all
            response = await pages["ann"].goto(formgrader(app, "ann"))
            assert response is not None and response.status == 404
    finally:
        remove_test_containers(docker_client)
