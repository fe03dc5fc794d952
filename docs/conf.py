"""Sphinx configuration: MyST pages, the configuration reference from the traitlets,
in the PyData theme that JupyterHub's own docs are built on."""

from __future__ import annotations

import re
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

# -- Project -----------------------------------------------------------------
project = "jhub_kit"
author = "jhub_kit developers"

# -- General -----------------------------------------------------------------
extensions = [
    "myst_parser",
    "autodoc_traits",
    "sphinx.ext.autodoc",
    "sphinx_copybutton",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3
exclude_patterns = ["_build", "tutorials/configs"]
autodoc_typehints = "none"
suppress_warnings = ["myst.xref_missing"]
nitpicky = False

# -- Copy buttons (https://sphinx-copybutton.readthedocs.io/) -----------------
# In a ```console block Pygments marks the prompts (`$ `, `# `, `[hub]$ `) .gp and
# the commands' output .go; the button leaves both out and copies the commands.
# Per language, by Pygments' classes rather than by copybutton_prompt_text: a
# `# ` line of a ```python or ```sh block is a comment and is copied as it is
# (as a prompt text, `# ` would make the button copy only the comments). A `$ `
# starting a line of a block of another language (```sh, ```text) is a prompt
# too: the button copies the lines that have one, without it.
copybutton_exclude = ".linenos, .gp, .go"
copybutton_prompt_text = "$ "
copybutton_only_copy_prompt_lines = True

# -- HTML --------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = "jhub_kit"
html_static_path = ["_static"]
html_css_files = ["jhub_kit.css"]  # wide tables and long code in cells (see the file)
html_js_files = ["jhub_kit.js"]  # where long code in a table cell may break
html_show_sourcelink = False


def repository_url(urls: dict[str, str]) -> str | None:
    """The repository's address among pyproject.toml's [project.urls], if any."""
    for key in ("Repository", "Source", "Source Code", "GitHub", "Homepage"):
        for name, url in urls.items():
            if name.lower() == key.lower() and "://" in url:
                return url
    return None


REPOSITORY = repository_url(PROJECT.get("urls", {}))
ICONS = {"github.com": "fa-brands fa-github", "gitlab": "fa-brands fa-gitlab"}

html_theme_options = {
    "logo": {"text": "jhub_kit"},
    # the sections a teacher or admin looks for, all in the top bar at 1280 px
    "header_links_before_dropdown": 7,
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "icon_links": (
        [
            {
                "name": "Repository",
                "url": REPOSITORY,
                "icon": next(
                    (icon for host, icon in ICONS.items() if host in REPOSITORY),
                    "fa-solid fa-code-branch",
                ),
            }
        ]
        if REPOSITORY
        else []
    ),
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version", "theme-version"],
}
html_sidebars = {"index": []}  # the front page is the map; no left column there

# pages with a table of five wide columns: no "On this page" column at their
# right, so the table has the room (reference/dropin's deliberate differences)
WIDE_TABLES = ["reference/dropin"]
html_theme_options["secondary_sidebar_items"] = {
    "**": ["page-toc"],
    **{page: [] for page in WIDE_TABLES},
}


#: a line of a command's output as Pygments writes it: the line's end after the span
OUTPUT_LINE = re.compile(r'(<span class="go">[^<]*)</span>\n')


def output_lines_whole(app, pagename, templatename, context, doctree):
    """The end of an output line goes inside its span, so the copy button, which
    leaves .go out, leaves out the whole line and not its text only (a copy of
    ```console blocks is then the commands, one a line, with no blank lines)."""
    if "body" in context:
        context["body"] = OUTPUT_LINE.sub(r"\1\n</span>", context["body"])


def setup(app):
    app.connect("html-page-context", output_lines_whole)
