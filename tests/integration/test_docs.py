"""The documentation builds with no warnings (sphinx-build -W), in JupyterHub's docs'
theme (pydata-sphinx-theme) with copy buttons and a top bar of the sections a
teacher or admin looks for. How the pages look in a browser (they fit a 1280 px
window, what a copy button copies) is tests/system/test_docs_browser.py."""

from __future__ import annotations

import re
import runpy
import sys
from pathlib import Path

import pytest
from docsbuild import build_docs, pages

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.tools

#: the top bar, in order: (page, title)
SECTIONS = [
    ("quickstart.html", "Quick start"),
    ("tutorials/index.html", "Tutorials"),
    ("reference/index.html", "Reference"),
    ("admin-cli.html", "Admin CLI"),
    ("troubleshooting.html", "Troubleshooting"),
    ("architecture.html", "Architecture"),
    ("benchmarks.html", "Benchmarks"),
]


@pytest.fixture(scope="module")
def html(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("docs") / "html"
    r = build_docs(out)
    assert r.returncode == 0, r.stdout + r.stderr
    return out


def test_docs_build_without_warnings(html):
    page = (html / "reference" / "configuration.html").read_text()
    assert "QuotaDockerSpawner.quota_groups" in page  # generated from the traitlets
    assert "LoopfileProvisioner.default_size" in page


def test_every_page_has_the_theme_and_copy_buttons(html):
    found = pages(html)
    assert len(found) >= 20, found
    missing = {}
    for page in found:
        text = page.read_text()
        wanted = [
            "_static/styles/pydata-sphinx-theme.css",
            "_static/scripts/pydata-sphinx-theme.js",
            "_static/copybutton.css",
            "_static/copybutton.js",
            "_static/jhub_kit.css",
            "_static/jhub_kit.js",
        ]
        lacks = [w for w in wanted if w not in text]
        if lacks:
            missing[str(page.relative_to(html))] = lacks
    assert missing == {}
    for asset in ("copybutton.js", "copybutton.css", "clipboard.min.js", "jhub_kit.css"):
        assert (html / "_static" / asset).is_file(), asset
    # the copy button leaves out what Pygments marks as prompts and output
    assert "'.linenos, .gp, .go'" in (html / "_static" / "copybutton.js").read_text()


def test_console_output_lines_are_left_out_whole(html):
    """docs/conf.py moves the end of each output line into its span: the button
    copies the commands without the blank lines the output would leave."""
    pool = (html / "reference" / "pool.html").read_text()
    assert pool.count('<span class="go">') >= 5  # the `jhub-kit pool` session
    for page in pages(html):
        text = page.read_text()
        assert not re.search(r'<span class="go">[^<]*</span>\n', text), page


def test_top_bar_has_the_sections(html):
    index = (html / "index.html").read_text()
    header = index[index.index("<header") : index.index("</header>")]
    links = re.findall(
        r'<a class="nav-link nav-internal" href="([^"]+)">\s*(.*?)\s*</a>', header, re.S
    )
    assert links[: len(SECTIONS)] == SECTIONS
    for page, _ in SECTIONS:
        assert (html / page).is_file(), page
    # the tutorials and the reference pages are listed under their sections
    tutorials = (html / "tutorials" / "index.html").read_text()
    for name in (
        "native-signup",
        "github-oauth",
        "custom-image",
        "class-disk-quotas",
        "swarm",
        "run-a-course",
    ):
        assert f'href="{name}.html"' in tutorials, name
    reference = (html / "reference" / "index.html").read_text()
    for name in (
        "quotas",
        "profiles",
        "homes",
        "pool",
        "userlist",
        "courses",
        "nbgrader",
        "configuration",
    ):
        assert f'href="{name}.html"' in reference, name


def test_repository_link_follows_pyproject(html):
    conf = runpy.run_path(str(ROOT / "docs" / "conf.py"))
    pick = conf["repository_url"]
    assert pick({"Homepage": "https://h.example", "Repository": "https://r.example"}) == (
        "https://r.example"
    )
    assert pick({"Documentation": "https://d.example"}) is None
    urls = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"].get("urls", {})
    repo = pick(urls)
    index = (html / "index.html").read_text()
    header = index[index.index("<header") : index.index("</header>")]
    if repo:
        assert f'href="{repo}"' in header
    else:  # no address to show: no icon that goes nowhere
        assert 'title="Repository"' not in header
