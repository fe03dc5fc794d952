"""The dashboard's page, made with JupyterHub's own page template.

The dashboard is a service (a process of its own), not a page of the hub: it
cannot call the hub's ``render_template``. It renders the hub's installed
``page.html`` (``share/jupyterhub/templates``, the same install as the hub's
process) with Jinja2, as the hub does, filling in what that template asks of a
hub page: the navigation bar's links point back to the hub (Home, Token, Admin
for admins, Logout), its styles and scripts are the hub's own files served at
``{hub_prefix}static/`` (Bootstrap 5, the dark-mode toggle with ``data-bs-theme``),
versioned as the hub versions them (``?v=`` the file's MD5, tornado's
``StaticFileHandler``), so a browser caches one copy for both. Reproducing the
navigation bar instead would drift from the hub's at its next release.

What the hub adds of its own config (``c.JupyterHub.template_paths``, an
announcement, the services menu) is not known to the service and not shown.
Everything is read and compiled in :func:`load`, before the service gives up
root (:func:`jhub_kit.views.dashboard.app.drop_privileges`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2

TEMPLATES = Path(__file__).with_name("templates")
#: the inline scripts of a rendered page (page.html has one: require's config and
#: ``window.jhdata``): the Content-Security-Policy allows exactly these by hash
_INLINE = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S | re.I)


def hub_data_path() -> Path:
    """Where the hub's templates and static files are installed."""
    from jupyterhub._data import DATA_FILES_PATH

    return Path(DATA_FILES_PATH)


@dataclass
class Page:
    """The page's compiled template and the hub's static files' versions."""

    template: jinja2.Template
    static_dir: Path
    _versions: dict[str, str] = field(default_factory=dict)

    def static_url(self, hub_prefix: str, path: str, include_version: bool = True) -> str:
        """``page.html``'s ``static_url``: the hub's own static file, as the hub names it."""
        url = f"{hub_prefix}static/{path}"
        if not include_version:
            return url
        if path not in self._versions:
            try:
                digest = hashlib.md5((self.static_dir / path).read_bytes()).hexdigest()
            except OSError:
                digest = ""
            self._versions[path] = digest
        return f"{url}?v={self._versions[path]}" if self._versions[path] else url

    def render(self, user: dict[str, Any], hub_prefix: str, xsrf: str) -> tuple[str, str]:
        """The page for ``user`` (the hub's model of the logged-in user) and its
        Content-Security-Policy."""
        name = str(user.get("name", ""))
        html = self.template.render(
            user={
                "name": name,
                # as JupyterHub's User.json_escaped_name, for page.html's window.jhdata
                "json_escaped_name": json.dumps(quote(name, safe="@~"))[1:-1],
            },
            base_url=hub_prefix,
            prefix=hub_prefix.removesuffix("hub/") or "/",
            logo_url=f"{hub_prefix}home",
            logout_url=f"{hub_prefix}logout",
            login_url=f"{hub_prefix}login",
            static_url=lambda path, include_version=True: self.static_url(
                hub_prefix, path, include_version
            ),
            # page.html shows the Admin link for "admin-ui"; the OAuth token the
            # service holds has only the user's identity: an admin gets the link
            parsed_scopes={"admin-ui": set()} if user.get("admin") else {},
            admin_access=bool(user.get("admin")),
            no_spawner_check=True,
            services=[],
            xsrf_token=xsrf,
        )
        return html, csp(html)


def csp(html: str) -> str:
    """The page's Content-Security-Policy: its own files and the hub's (same origin),
    ``data:`` images (Bootstrap's icons), and its inline scripts by their hash."""
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(m.encode()).digest()).decode()}'"
        for m in _INLINE.findall(html)
    )
    return (
        "default-src 'self'; img-src 'self' data:; "
        f"script-src 'self' {hashes}; frame-ancestors 'none'".replace("  ", " ")
    )


def load(hub_templates: str | os.PathLike[str] | None = None) -> Page:
    """Compile the page (the kit's ``index.html`` extending the hub's ``page.html``)."""
    data = hub_data_path()
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(TEMPLATES), str(hub_templates or data / "templates")]),
        autoescape=True,
        auto_reload=False,  # compiled once: the files may not be readable after the drop
    )
    template = env.get_template("index.html")
    env.get_template("page.html")  # the parent, compiled now too (extends loads it by name)
    page = Page(template, data / "static")
    page.render({"name": "-"}, "/hub/", "-")  # reads the static files' versions now
    return page
