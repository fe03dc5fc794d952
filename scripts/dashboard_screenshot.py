"""Take the docs' screenshot of the class dashboard with real history.

Runs the course of tests/system/test_browser_course.py (the bundle's bridge network,
loopfile homes, profiles, named servers) on the real engine for MINUTES minutes:
a few students' servers run a notebook-like load that grows and frees memory and
uses CPU in bursts, the teacher runs a named server, and the dashboard records
what it reads from their cgroups every 10 s. Then the teacher opens the
dashboard in Chromium and the page is saved to docs/_static/screens/dashboard.png.
Nothing is drawn by hand: every line is a reading.

    sudo .venv/bin/python scripts/dashboard_screenshot.py [MINUTES]

Needs what the test command installs (dockerd running, the test image, chromium).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "support"))

import docker  # noqa: E402
from hubutil import ensure_user, own_network, running_hub, start_server  # noqa: E402
from jupyterhub.tests.utils import public_url  # noqa: E402
from jupyterhub.utils import url_path_join  # noqa: E402
from test_browser import NET, login  # noqa: E402
from test_browser_course import course_config  # noqa: E402

OUT = ROOT / "docs" / "_static" / "screens" / "dashboard.png"

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


async def main(minutes: float) -> None:
    client = docker.from_env()
    image = os.environ.get("JHUB_KIT_TEST_IMAGE", "jhub-kit-singleuser:latest")
    with tempfile.TemporaryDirectory(prefix="jhub-kit-screens-") as tmp, own_network(client, NET):
        async with running_hub(course_config(Path(tmp), image)) as app:
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
                page = await (
                    await b.new_context(viewport={"width": 1500, "height": 560})
                ).new_page()
                await login(page, app, "teacher")
                await page.wait_for_url("**/hub/**", timeout=60_000)
                await page.goto(url_path_join(public_url(app), "services/class-dashboard/"))
                await page.locator("tr[data-user='ann'] td[data-key='history'] svg").wait_for()
                await asyncio.sleep(2)
                await page.screenshot(path=str(OUT), full_page=True)
                await b.close()
            print(f"wrote {OUT}")
            for name in loads:
                await app.users[name].stop()
            await app.users["teacher"].stop("project")
        with open("/proc/self/mountinfo") as f:  # the homes' and the pool's mounts
            mounts = [line.split()[4] for line in f]
        for mp in reversed(mounts):
            if mp.startswith(tmp):
                subprocess.run(["umount", "-l", mp], check=False)


if __name__ == "__main__":
    asyncio.run(main(float(sys.argv[1]) if len(sys.argv) > 1 else 12))
