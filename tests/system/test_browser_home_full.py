"""A student whose home is full lands on the kit's notice, in a real browser
(Debian's Chromium through Playwright, a hub from the bundle with loopfile
homes): the notice says what to do, and its button opens JupyterLab."""

from __future__ import annotations

import re

import pytest
from browserrig import MS, hub_config, login, wait_for_lab
from fullhome import full_home
from hubutil import ensure_user, running_hub
from jupyterhub.tests.utils import public_url
from jupyterhub.utils import url_path_join

from jhub_kit import spec

pytestmark = [pytest.mark.docker, pytest.mark.hub, pytest.mark.root, pytest.mark.browser]


@pytest.mark.parametrize("what", ["space", "files"])
async def test_a_student_with_a_full_home_lands_on_the_notice(
    browser,
    shots,
    net,
    docker_client,
    test_image,
    chp,
    mount_area,
    tmp_path,
    docker_debug,
    what,
):
    from jhub_kit import registry

    registry.forget("provisioner")
    async with running_hub(hub_config(tmp_path, test_image, "fay\n")) as app:
        ensure_user(app, "fay")
        await full_home(app, "fay", what)
        page = await (await browser.new_context(viewport={"width": 1280, "height": 800})).new_page()
        await login(page, app, "fay")
        # the server's redirect adds an empty query
        notice = re.compile(rf"/user/fay/static/{re.escape(spec.HOME_FULL_PAGE)}\??$")
        await page.wait_for_url(notice, timeout=180 * MS)
        await page.locator("#home-full").wait_for(timeout=30 * MS)
        assert await page.locator("#home-full").inner_text() == "Your home folder is full"
        text = await page.locator("main").inner_text()
        assert "ask your teacher" in text and "does not go to the trash" in text
        await shots(page, f"home-full-notice-{what}")
        await page.click("#open-lab")
        await wait_for_lab(page)
        await shots(page, f"home-full-lab-{what}")
        home = await page.context.new_page()
        await home.goto(url_path_join(public_url(app), "hub/home"))
        quota = await home.locator("#jhub-kit-quota").inner_text()
        room = "no space" if what == "space" else "no more files (too many files)"
        assert f"full, {room} left" in quota, quota
        await shots(home, f"home-full-hub-page-{what}")
