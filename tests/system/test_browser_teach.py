"""A teacher acts from the class dashboard in a real browser (Debian's Chromium through
Playwright): the teacher of class-a raises a student's memory from 512M to 1G with
the dashboard's form, sees the change in the record, stops the student's server
with its button and starts it again, and the new container has 1G, which a cell of
the student's notebook reads from its cgroup; no button for a student of another
group. Every action's endpoint refuses (403, nothing written) the teacher of class-b
from their own dashboard page, the student from her hub page, and a page of another
origin that posts with the teacher of class-a's cookie. Screenshots are kept."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from contextlib import contextmanager
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

# the browser and its screenshots of the first browser tests
from browserrig import MS, NET, login
from hubutil import bundle_config_file, ensure_user, running_hub, start_server
from jupyterhub.tests.utils import public_url
from jupyterhub.utils import url_path_join
from notebook_page import open_notebook, put_notebook, run_cell
from traitlets.config.loader import PyFileConfigLoader

pytestmark = [pytest.mark.docker, pytest.mark.hub, pytest.mark.root, pytest.mark.browser]

BEFORE = """\
c.JhubKit.teachers = {"teach-a": ["class-a"], "teach-b": ["class-b"]}
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
#: the memory limit the server's processes have: cgroup v2's file, else v1's
MEMORY_CELL = (
    "from pathlib import Path\n"
    "v2 = Path('/sys/fs/cgroup/memory.max')\n"
    "v1 = Path('/sys/fs/cgroup/memory/memory.limit_in_bytes')\n"
    "print('memory limit', (v2 if v2.exists() else v1).read_text().strip())"
)
BOARD = "services/class-dashboard/"
#: each action's endpoint on ann (or her group), with a body the page would send
ACTIONS = [
    ("api/users/ann/stop", {}),
    ("api/users/ann/start", {}),
    ("api/users/ann/limits", {"mem_limit": "128M"}),
    ("api/groups/class-a/limits", {"mem_limit": "128M"}),
    ("api/users/ann/extend", {}),
    ("api/groups/class-a/extend", {}),
    ("api/users/ann/open", {}),
]
#: fetch() each of ACTIONS from the page, as the dashboard's own act() does, with the
#: page's XSRF token (the dashboard's meta tag, else the hub page's); answers
#: [path, status, body] for each
POST_EACH = """async ([base, calls]) => {
  const meta = document.querySelector("meta[name=xsrf]");
  const xsrf = meta ? meta.content : window.jhdata.xsrf_token;
  const out = [];
  for (const [path, body] of calls) {
    const r = await fetch(base + path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-XSRFToken": xsrf, "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    out.push([path, r.status, await r.text()]);
  }
  return out;
}"""


async def teachers_dashboard(browser, app, width: int, height: int, name: str = "teach-a"):
    """A teacher's class dashboard in a new browser window of ``width`` x ``height``
    (logged in straight to it: the hub starts no server of the teacher's)."""
    page = await (await browser.new_context(viewport={"width": width, "height": height})).new_page()
    await login(page, app, name, next_path=BOARD)
    await page.wait_for_url(re.compile(r"/services/class-dashboard/(\?.*)?$"), timeout=60 * MS)
    return page


def json_form_field(body: dict) -> tuple[str, str]:
    """A form field whose text/plain encoding (``name=value``) is ``body`` as JSON,
    with one more key: how a forged form posts a JSON body."""
    return json.dumps({**body, "x": ""})[:-2], '"}'


def forged_page(board: str) -> str:
    """A page of another origin that posts to each of ACTIONS under ``board`` (the
    dashboard's URL) with the visitor's cookies and no XSRF token: a fetch() each
    (no-cors: no preflight) and a form each, into a frame of its own. First it opens
    the record (``api/audit``) in a frame: a read, which needs no XSRF token, answered
    200 only if the visitor's cookie goes along from this origin."""
    forms = []
    for i, (path, body) in enumerate(ACTIONS):
        name, value = (escape(x) for x in json_form_field(body))
        forms.append(
            f'<iframe name="sink{i}"></iframe>'
            f'<form method="post" enctype="text/plain" target="sink{i}" action="{board}{path}">'
            f'<input type="hidden" name="{name}" value="{value}"></form>'
        )
    urls = json.dumps([f"{board}{path}" for path, _ in ACTIONS])
    return f"""<!doctype html><title>a prize</title><body>{"".join(forms)}<script>
(async () => {{
  const probe = document.createElement("iframe");
  const loaded = new Promise((ok) => (probe.onload = ok));
  probe.src = "{board}api/audit";
  document.body.appendChild(probe);
  await loaded;
  for (const url of {urls}) {{
    await fetch(url, {{ method: "POST", mode: "no-cors", credentials: "include",
      headers: {{ "Content-Type": "text/plain" }}, body: "{{}}" }}).catch(() => null);
  }}
  for (const f of document.forms) f.submit();
}})();
</script></body>"""


@contextmanager
def served(html: str):
    """``html`` at the root of a plain HTTP server of its own (127.0.0.1, a free
    port): another origin than the hub's, the same site (cookies go with requests)."""

    class Page(BaseHTTPRequestHandler):
        def do_GET(self):
            body = html.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def snapshot(paths) -> dict[str, bytes | None]:
    return {str(p): p.read_bytes() if p.exists() else None for p in paths}


async def until(check, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.3)


async def test_a_teacher_raises_memory_stops_and_starts_from_the_dashboard(
    browser,
    docker_client,
    test_image,
    chp,
    net,
    mount_area,
    tmp_path,
    shots,
    docker_debug,
):
    from playwright.async_api import expect

    policy = tmp_path / "quotas.toml"
    policy.write_text("[defaults]\npids_limit = 512\n")
    # a login keeps the groups the userlist gives (ann logs in below)
    userlist = (
        "admin admin\nteach-a group:teachers\nteach-b group:teachers\n"
        "ann group:class-a\nbob group:class-b\n"
    )
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
        await put_notebook(app, "ann", "help.ipynb", ["print('where is my mistake?')", MEMORY_CELL])
        async with page.context.expect_page() as opened:
            await ann.locator("button[data-action='open']").click()
        tab = await opened.value
        await tab.wait_for_url(re.compile(r"oauth2/authorize"), timeout=60 * MS)
        await shots(tab, "teacher-asked-to-authorize")
        await tab.get_by_role("button", name="Authorize").click()
        await tab.wait_for_url(re.compile(r"/user/ann/"), timeout=60 * MS)
        await open_notebook(
            tab, url_path_join(public_url(app, app.users["ann"]), "lab/tree/help.ipynb")
        )
        await expect(tab.locator(".jp-Notebook .jp-Cell").first).to_contain_text(
            "where is my mistake?"
        )
        # the processes of ann's new server have the 1G the teacher gave her
        assert "memory limit 1073741824" in await run_cell(tab, 1)
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
        await login(student, app, "ann", next_path="hub/home")
        await student.wait_for_url(re.compile(r"/hub/home$"), timeout=60 * MS)
        await expect(student.locator("[data-notice='opened']").first).to_contain_text(
            re.compile(r"Your teacher teach-a opened your server at \d\d:\d\d")
        )
        await expect(student.locator("[data-notice='extended']")).to_contain_text(
            "gave you more idle time today"
        )
        await shots(student, "student-sees-the-teacher")

        # -- 403 on every action, nothing written: the teacher of class-b from their
        # own dashboard page (their cookie and XSRF token), ann from her hub page, and
        # a page of another origin that teach-a visits --
        teachers_dir = tmp_path / "data" / "teachers"
        files = [teachers_dir / f for f in ("policy.toml", "audit.jsonl", "idle_extensions.json")]
        before = snapshot([*files, policy])
        container = app.users["ann"].spawner.container_id
        other = await teachers_dashboard(browser, app, 1280, 900, "teach-b")
        await expect(other.locator("tr[data-user='bob']")).to_have_count(1, timeout=60 * MS)
        answers = await other.evaluate(POST_EACH, ["", ACTIONS])
        assert [(p, s) for p, s, _ in answers] == [(p, 403) for p, _ in ACTIONS], answers
        assert all("you may not" in text for _, _, text in answers), answers
        board = url_path_join(public_url(app), BOARD)
        answers = await student.evaluate(POST_EACH, [url_path_join(app.base_url, BOARD), ACTIONS])
        assert [(p, s) for p, s, _ in answers] == [(p, 403) for p, _ in ACTIONS], answers

        cookies = [c["name"] for c in await page.context.cookies() if BOARD in c["path"]]
        assert cookies, await page.context.cookies()  # the dashboard's login, to forge with
        forged = await page.context.new_page()
        answered: list = []
        forged.on("response", lambda r: f"{BOARD}api/" in r.url and answered.append(r))
        with served(forged_page(board)) as origin:
            await forged.goto(origin)
            await until(lambda: len(answered) == 1 + 2 * len(ACTIONS), "forged posts", 30)
        await shots(forged, "forged-page")
        # the read went with teach-a's cookie (the same site: a port is not part of it)
        assert (answered[0].url, answered[0].status) == (board + "api/audit", 200)
        posts = answered[1:]
        assert [(r.request.method, r.status) for r in posts] == 2 * len(ACTIONS) * [("POST", 403)]
        assert sorted(r.url for r in posts) == sorted(2 * [board + p for p, _ in ACTIONS])
        # so did each form's post: refused for want of the XSRF token, not of a login
        # (of a no-cors fetch, Playwright reports the headers before the cookies)
        forms = [r for r in posts if r.request.resource_type == "document"]
        assert len(forms) == len(ACTIONS), [r.request.resource_type for r in posts]
        for r in forms:
            sent = (await r.request.all_headers()).get("cookie", "")
            assert all(f"{name}=" in sent for name in cookies), (r.url, sent)

        assert snapshot([*files, policy]) == before
        assert app.users["ann"].running and app.users["ann"].spawner.container_id == container
        # teach-b's token is a real one: their own student, bob, is theirs to extend
        answers = await other.evaluate(POST_EACH, ["", [("api/users/bob/extend", {})]])
        assert answers[0][1] == 200, answers

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
