"""The class dashboard agrees with the student's own page (one function makes the
home's figures for both), its class chart spans the samples it has from its
first minutes, and its page is JupyterHub's own; pure, no services."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

from jhub_kit.provision import Usage
from jhub_kit.quota.policy import Quota
from jhub_kit.views.dashboard import page, rows
from jhub_kit.views.student import student_view

K, M, G = 1024, 1024**2, 1024**3


def served(quota: Quota, usage: Usage | None) -> dict:
    """A running server's model as the hub's REST API gives it to the dashboard."""
    kit = {"quota": quota.to_state()}
    if usage is not None:
        kit["home_usage"] = usage.to_state()
    return {
        "name": "ann",
        "groups": [],
        "servers": {"": {"ready": True, "state": {"jhub_kit": kit}}},
    }


@pytest.mark.parametrize(
    ("quota", "usage"),
    [
        (Quota(mem_limit=512 * M, disk_limit=2 * G), Usage(72 * K, 2 * G - 40 * M, free=G)),
        (Quota(mem_limit=512 * M, disk_limit=G), Usage(5 * M + 123, 1000 * M, free=900 * M)),
        (Quota(mem_limit=512 * M, disk_limit=40 * M), Usage(39 * M, 38 * M, free=100 * K)),
        (Quota(mem_limit=512 * M, disk_limit=G), Usage(3 * G, None, partial=True)),
        (Quota(mem_limit=512 * M), Usage(12 * M, 100 * M, files_free=3)),
        (Quota(mem_limit=512 * M), Usage(12 * M, None)),
    ],
    ids=["small", "not-round", "full-space", "partial", "full-files", "no-limit"],
)
def test_home_figures_agree_with_the_students_page(quota, usage):
    [row] = rows.class_rows([served(quota, usage)], {}, {})
    [home] = [r["value"] for r in student_view(quota, usage, None)["rows"] if r["label"] == "Home"]
    used, _, rest = row["disk_used"].partition(" (")
    if usage.partial:
        assert used.startswith("at least ")
    # "72K used of 2G (0%)" on the student's page; "72K (0%)" under "2G" on the dashboard
    assert f"{used} used of {row['disk_limit']}" in home, (row, home)
    percent = rest.split(")")[0]
    assert (f"({percent})" in home) if percent else ("%" not in home), (row, home)
    assert ("full" in row["disk_used"]) == (": full," in home)
    assert row["disk_used_bytes"] == usage.used
    assert row["memory"] == "512M" and "512M" in str(student_view(quota, usage, None))


def test_the_state_keeps_the_whole_measure():
    usage = Usage(7 * M, 100 * M, partial=True, free=2 * K, files_free=9)
    assert Usage.from_state(usage.to_state()) == usage
    assert Usage.from_state(usage.to_state()).full == "space"
    assert Usage.from_state({"used": 5, "limit": None}) == Usage(5, None)
    assert Usage.from_state(None) is None and Usage.from_state({"used": "5"}) is None


def test_a_stopped_server_shows_its_limit_only():
    [row] = rows.class_rows([{"name": "zoe", "servers": {}}], {"zoe": {"disk_limit": "1G"}}, {})
    assert (row["disk_used"], row["disk_limit"], row["disk_used_bytes"]) == ("-", "1G", None)


def test_the_class_chart_spans_the_samples_from_the_first_minute():
    h = rows.History()
    t0 = 10_000.0
    for i in range(7):  # the service's first minute: a sample every 10 s
        h.add(t0 + 10 * i, {}, running=min(i, 3), queued=1 if i == 2 else 0)
    now = t0 + 60
    series = h.class_chart(now)
    # every sample, oldest first, with its age: not one bucket of a 4-hour axis
    assert [r[0] for r in series] == [60, 50, 40, 30, 20, 10, 0]
    assert [r[1] for r in series] == [0, 1, 2, 3, 3, 3, 3] and series[2][2] == 1
    assert h.chart_span(now) == 60  # the x axis: the data present
    assert h.chart_span(now, least=120) == 120  # never narrower than asked
    assert h.chart_span(t0) == 60  # one sample: the least span


def test_the_class_chart_buckets_a_long_run_and_spans_it():
    h = rows.History(class_span=4 * 3600)
    t0 = 0.0
    for i in range(3 * 360):  # 3 hours, every 10 s
        h.add(t0 + 10 * i, {}, running=i % 7, queued=0)
    now = t0 + 10 * (3 * 360 - 1)
    series = h.class_chart(now, points=120)
    assert len(series) <= 121 and series[-1][0] == 0
    assert series[0][0] == pytest.approx(now - t0, abs=100)
    assert h.chart_span(now) == pytest.approx(now - t0)
    assert max(r[1] for r in series) == 6


@pytest.fixture(scope="module")
def the_page():
    return page.load()


@pytest.mark.parametrize("admin", [False, True], ids=["teacher", "admin"])
def test_the_page_is_jupyterhubs_with_its_navigation_bar(the_page, admin):
    html, policy = the_page.render({"name": "t<e>a", "admin": admin}, "/base/hub/", "XS")
    assert '<nav class="navbar' in html and 'id="thenavbar"' in html
    for link in ("home", "token", "logout"):
        assert f'href="/base/hub/{link}"' in html, link
    assert ('href="/base/hub/admin"' in html) == admin
    assert 'id="dark-theme-toggle"' in html  # light and dark, as the hub's pages
    assert re.search(r'/base/hub/static/js/darkmode\.js\?v=[0-9a-f]{32}"', html)
    assert "/base/hub/static/css/style.min.css?v=" in html
    assert "t&lt;e&gt;a" in html and "t<e>a" not in html
    assert '<meta name="xsrf" content="XS">' in html
    assert 'class="table-responsive"' in html  # the table scrolls in its own box
    # the page's one inline script (page.html's) is allowed by its hash, nothing else
    [inline] = re.findall(r"<script type=\"text/javascript\">(.*?)</script>", html, re.S)
    digest = base64.b64encode(hashlib.sha256(inline.encode()).digest()).decode()
    assert f"script-src 'self' 'sha256-{digest}';" in policy
    assert "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy


def test_every_hidden_column_is_a_column():
    keys = {key for key, _ in rows.COLUMNS}
    assert set(rows.HIDE_BELOW) <= keys
    assert set(rows.HIDE_BELOW.values()) <= {"sm", "md", "lg", "xl", "xxl"}
    for key in ("user", "server", "memory_used", "memory", "cpu_used", "disk_used"):
        assert key not in rows.HIDE_BELOW  # what a phone shows
