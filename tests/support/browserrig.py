"""What the browser tests share: Debian's Chromium driven by Playwright, the
screenshots every step leaves, the login form, the bundle's hub config they start
from. Loaded as a plugin by the root conftest (``pytest_plugins``), so its fixtures
(``chromium_path``, ``browser``, ``shots``, ``net``) are found by name; the helpers
are imported. Nothing heavy is imported before a browser test asks for it."""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlencode

import pytest
from conftest import TEST_PREFIX, _unavailable

NET = f"{TEST_PREFIX}-browser"
SHOTS = Path(os.environ.get("JHUB_KIT_SCREENSHOTS", "/var/log/jhub-kit/screenshots"))
MS = 1000

#: the limits a browser test's hub gives everyone (:func:`hub_config`)
HUB_EXTRA = """\
c.QuotaDockerSpawner.mem_limit = "500M"
c.QuotaDockerSpawner.cpu_limit = 1.0
c.QuotaDockerSpawner.disk_limit = "40M"
c.QuotaDockerSpawner.poll_interval = 2
c.QuotaDockerSpawner.usage_interval = 1
c.QuotaDockerSpawner.concurrent_starts = 2
"""


def hub_config(tmp_path, image: str, userlist: str, auth: str = "dummy"):
    """The bundle's config on network ``NET`` with :data:`HUB_EXTRA`, loaded."""
    from hubutil import bundle_config_file
    from traitlets.config.loader import PyFileConfigLoader

    cfg = bundle_config_file(tmp_path, image, NET, userlist, HUB_EXTRA, auth=auth)
    return PyFileConfigLoader(cfg.name, str(tmp_path)).load_config()


@pytest.fixture(scope="module")
def chromium_path():
    path = os.environ.get("JHUB_KIT_CHROMIUM") or "/usr/bin/chromium"
    if not os.path.exists(path):
        _unavailable("Debian's chromium is not installed; run scripts/test.sh")
    return path


@pytest.fixture
async def browser(chromium_path, request):
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        _unavailable("playwright is not installed; run scripts/test.sh")
    async with async_playwright() as p:
        b = await p.chromium.launch(
            executable_path=chromium_path,
            args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
        )
        try:
            yield b
            rep = getattr(request.node, "rep_call", None)
            if rep is not None and rep.failed:  # what each page showed when it failed
                shots = Shots(request.node.name, fresh=False)
                for i, ctx in enumerate(b.contexts):
                    for j, page in enumerate(ctx.pages):
                        await shots(page, f"failed-{i}-{j}")
        finally:
            await b.close()


class Shots:
    def __init__(self, test: str, fresh: bool = True):
        self.dir = SHOTS / test
        if fresh and self.dir.is_dir():
            for old in self.dir.glob("*.png"):
                old.unlink()
        self.dir.mkdir(parents=True, exist_ok=True)
        self.n = 0

    async def __call__(self, page, what: str) -> None:
        self.n += 1
        await page.screenshot(path=str(self.dir / f"{self.n:02d}-{what}.png"), full_page=True)


@pytest.fixture
def shots(request):
    return Shots(request.node.name)


@pytest.fixture
def net(docker_client):
    """Network ``NET`` for the test's hub and servers (a test file's own ``net``
    fixture, as several integration files have, takes its place there)."""
    from hubutil import own_network

    with own_network(docker_client, NET) as n:
        yield n


async def login(page, app, name: str, password: str = "any", next_path: str = "") -> None:
    """Log in on the hub's login form; ``next_path`` (under the hub's base URL, e.g.
    ``hub/home``): where the hub sends the browser then, instead of to the user's
    server (which it would start)."""
    from jupyterhub.tests.utils import public_url
    from jupyterhub.utils import url_path_join

    url = url_path_join(public_url(app), "hub/login")
    if next_path:
        url += "?" + urlencode({"next": url_path_join(app.base_url, next_path)})
    await page.goto(url)
    await page.fill("#username_input", name)
    await page.fill("#password_input", password)
    await page.click("#login_submit")


async def wait_for_lab(page, timeout: float = 180) -> None:
    await page.wait_for_url(re.compile(r"/user/[^/]+/lab"), timeout=timeout * MS)
    await page.wait_for_selector(".jp-LabShell", timeout=timeout * MS)
