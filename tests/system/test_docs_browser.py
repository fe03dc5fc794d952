"""The built documentation in a real browser (Debian's Chromium, driven by
Playwright), served over HTTP from 127.0.0.1:

- every page fits a 1280x900 window: the page never scrolls sideways, and no
  table needs a scroll of its own either (docs/_static/jhub_kit.css and .js let
  long names in cells break after their separators);
- every code block has a copy button; a ```console block's button copies the
  commands, without prompts, output or blank lines; a ```python block's copies the
  block as it is, its `# ` comments included.

The build is tests/integration/test_docs.py's (sphinx-build -W)."""

from __future__ import annotations

import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import _unavailable
from docsbuild import build_docs, pages

pytestmark = pytest.mark.browser

WIDTH, HEIGHT = 1280, 900

#: what a page's layout overflows, measured in the page: the document's width, and
#: each table (and the theme's box around it) wider than the room it has
MEASURE = """() => {
  const doc = document.documentElement.scrollWidth;
  const tables = [];
  for (const t of document.querySelectorAll("article table")) {
    const box = t.closest(".pst-scrollable-table-container") || t.parentElement;
    if (box.scrollWidth > box.clientWidth + 1 || t.getBoundingClientRect().right > innerWidth) {
      tables.push(`${(t.textContent.trim().split("\\n")[0] || "").slice(0, 50)}: ` +
                  `${box.scrollWidth}px in ${box.clientWidth}px`);
    }
  }
  return {doc, tables, count: document.querySelectorAll("article table").length};
}"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The docs, built and served on 127.0.0.1 (the clipboard wants a secure origin)."""
    try:
        import sphinx  # noqa: F401
    except ImportError:
        _unavailable("sphinx is not installed (pip install -e .[dev])")
    html = tmp_path_factory.mktemp("docs") / "html"
    r = build_docs(html)
    assert r.returncode == 0, r.stdout + r.stderr

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=html))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield html, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
async def context(site, browser):
    ctx = await browser.new_context(viewport={"width": WIDTH, "height": HEIGHT})
    await ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=site[1])
    yield ctx


async def test_every_page_fits_1280(site, context):
    html, base = site
    page = await context.new_page()
    found = pages(html)
    assert len(found) >= 20, found
    wide, tables = {}, 0
    for path in found:
        rel = path.relative_to(html).as_posix()
        await page.goto(f"{base}/{rel}", wait_until="load")
        m = await page.evaluate(MEASURE)
        tables += m["count"]
        if m["doc"] > WIDTH or m["tables"]:
            wide[rel] = {"page": m["doc"], "tables": m["tables"]}
    assert tables >= 30, "the docs' tables were not found; did the theme change?"
    assert wide == {}, f"wider than a {WIDTH}px window: {wide}"


async def test_copy_buttons(site, context):
    html, base = site
    page = await context.new_page()
    console, python = 0, 0
    for path in pages(html):
        rel = path.relative_to(html).as_posix()
        if 'class="highlight' not in path.read_text():
            continue
        await page.goto(f"{base}/{rel}", wait_until="load")
        blocks = page.locator("div[class*='highlight-'] > div.highlight")
        for i in range(await blocks.count()):
            block = blocks.nth(i)
            language = await block.evaluate("e => e.parentElement.className")
            button = block.locator("button.copybtn")
            assert await button.count() == 1, f"{rel}: block {i} ({language}) has no copy button"
            if "highlight-console" not in language and "highlight-python" not in language:
                continue
            await block.hover()
            await button.click()
            copied = await page.evaluate("navigator.clipboard.readText()")
            shown = await block.evaluate("e => e.querySelector('pre').innerText")
            where = f"{rel}: block {i} ({language})"
            if "highlight-python" in language:
                python += 1
                assert copied == shown.rstrip("\n"), where
                continue
            console += 1
            commands = await block.evaluate(
                """e => [...e.querySelectorAll('pre .gp')].map(gp => {
                     // the text after the prompt, to the end of its line
                     let text = "", n = gp.nextSibling;
                     while (n && !(n.textContent || "").includes("\\n")) {
                       text += n.textContent; n = n.nextSibling;
                     }
                     if (n) text += n.textContent.split("\\n")[0];
                     return text;
                   })"""
            )
            assert commands, f"{where}: Pygments found no prompt"
            assert copied.split("\n") == commands, where
    assert console >= 5 and python >= 15, (console, python)
    # one of them, spelled out
    await page.goto(f"{base}/reference/pool.html", wait_until="load")
    block = page.locator("div.highlight-console > div.highlight").first
    await block.hover()
    await block.locator("button.copybtn").click()
    assert await page.evaluate("navigator.clipboard.readText()") == (
        "sudo jhub-kit pool fill 40 --for 2h --wait\nsudo jhub-kit pool status"
    )
