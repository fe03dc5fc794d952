"""Take the docs' screenshot of the class dashboard with real history.

Runs the course of tests/system/test_browser_course.py (the bundle's bridge network,
loopfile homes, profiles, named servers) on the real engine for MINUTES minutes:
a few students' servers run a notebook-like load that grows and frees memory and
uses CPU in bursts, the teacher runs a named server, and the dashboard records
what it reads from their cgroups every 10 s. Then the teacher opens the
dashboard in Chromium at 1280x900 (docs/_static/screens/dashboard.png) and on a
390x844 phone (dashboard-phone.png); the script fails if either page scrolls
sideways. Nothing is drawn by hand: every line is a reading.

    sudo .venv/bin/python scripts/dashboard_screenshot.py [MINUTES]

Needs what the test command installs (dockerd running, the test image, chromium);
its containers carry $JHUB_KIT_TEST_PREFIX like the tests'.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# the test harness the script reuses: conftest (the prefix), support, the browser
# tests' course and the budget test's named servers
for folder in ("tests", "tests/support", "tests/system", "tests/integration"):
    sys.path.insert(0, str(ROOT / folder))

import docker  # noqa: E402
from hubutil import ensure_user, own_network, running_hub, start_server  # noqa: E402
from jupyterhub.tests.utils import public_url  # noqa: E402
from jupyterhub.utils import url_path_join  # noqa: E402
from test_browser import NET, login  # noqa: E402
from test_browser_course import course_config  # noqa: E402

SCREENS = ROOT / "docs" / "_static" / "screens"
#: (file, width, height): a laptop's window and a phone's
SIZES = [("dashboard.png", 1280, 900), ("dashboard-phone.png", 390, 844)]

# memory that grows to PEAK MB and is freed, CPU in bursts: a student's notebook
LOAD = """
import time
n = 0
while True:
    n += 1
    block = [bytearray(1024 * 1024) for _ in range({peak} * (1 + n % 3) // 3)]
    t = time.time()
    while time.time() - t < {busy}:
        sum(range(10000))
    del block
    time.sleep({rest})
"""


def main(minutes: float) -> None:
    client = docker.from_env()
    image = os.environ.get("JHUB_KIT_TEST_IMAGE", "jhub-kit-singleuser:latest")
    with tempfile.TemporaryDirectory(prefix="jhub-kit-screens-") as tmp:
        # the network outside the event loop: its cleanup runs a loop of its own
        with own_network(client, NET):
            asyncio.run(record(client, Path(tmp), image, minutes))
        with open("/proc/self/mountinfo") as f:  # the homes' and the pool's mounts
            mounts = [line.split()[4] for line in f]
        for mp in reversed(mounts):
            if mp.startswith(tmp):
                subprocess.run(["umount", "-l", mp], check=False)


async def record(client, tmp: Path, image: str, minutes: float) -> None:
    """The course's hub with loaded servers for ``minutes``, then the screenshots."""
    async with running_hub(course_config(tmp, image)) as app:
        loads = {"ann": (180, 5, 25), "bob": (90, 2, 40), "dan": (250, 8, 20)}
        for name in (*loads, "carl"):
            ensure_user(app, name)
        ensure_user(app, "teacher", groups=("teachers",))
        for name, (peak, busy, rest) in loads.items():
            await start_server(app, name)
            c = client.containers.get(app.users[name].spawner.object_id)
            code = LOAD.format(peak=peak, busy=busy, rest=rest)
            c.exec_run(["python3", "-c", code], user="1000", detach=True)
        from test_budget_hub import post_server, ready

        r = await post_server(app, "teacher", "project", {"profile": "project"})
        assert r.status_code in (201, 202), r.text
        await ready(app, "teacher", "project")
        print(f"recording {minutes:g} min of history", flush=True)
        await asyncio.sleep(minutes * 60)

        from playwright.async_api import async_playwright

        async with async_playwright() as p:
            b = await p.chromium.launch(
                executable_path=os.environ.get("JHUB_KIT_CHROMIUM", "/usr/bin/chromium"),
                args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
            )
            for name, width, height in SIZES:
                await shoot(b, app, SCREENS / name, width, height)
            await b.close()
        for name in loads:
            await app.users[name].stop()
        await app.users["teacher"].stop("project")


async def shoot(browser, app, out: Path, width: int, height: int) -> None:
    """The teacher's dashboard in a ``width`` x ``height`` window, saved to ``out``."""
    import re

    page = await (await browser.new_context(viewport={"width": width, "height": height})).new_page()
    await login(page, app, "teacher")
    await page.wait_for_url(re.compile(r"/(hub|user)/"), timeout=60_000)
    await page.goto(url_path_join(public_url(app), "services/class-dashboard/"))
    await page.locator("tr[data-user='ann'] td[data-key='server']").wait_for()
    await asyncio.sleep(2)
    scroll = await page.evaluate("document.documentElement.scrollWidth")
    if scroll > width:
        raise SystemExit(f"{out.name}: the page is {scroll} px wide in a {width} px window")
    await page.screenshot(path=str(out))
    await page.context.close()
    print(f"wrote {out} ({width}x{height})")


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 12)
