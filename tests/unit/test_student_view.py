"""What a student is shown of their quota: the pure view, the page-time quota
resolution, and the partial template (escaped, with the use bar)."""

from __future__ import annotations

import jinja2
import pytest
from traitlets.config import Config

from jhub_kit import resolve
from jhub_kit.provision import Usage
from jhub_kit.quota.policy import Quota, parse_size
from jhub_kit.views.student import TEMPLATES, student_view, template_var

M = 1024**2
Q = Quota(mem_limit=512 * M, cpu_limit=1.0, disk_limit=1024 * M)


def test_rows_for_a_running_server():
    view = student_view(Q, Usage(used=12 * M, limit=1024 * M), None)
    assert view["rows"] == [
        {"label": "Memory", "value": "512M"},
        {"label": "CPU", "value": "1 core"},
        {"label": "Home", "value": "12M used of 1G (1%)", "percent": 1},
    ]
    assert view["last_event"] is None


def test_a_full_home_says_what_to_do_and_the_event_is_shown():
    event = {"text": "Your last server ran out of memory (limit 512M) and was stopped."}
    view = student_view(Q, Usage(used=1020 * M, limit=1024 * M), event)
    home = view["rows"][2]
    assert home["percent"] == 100 and "nearly full, writes may fail" in home["value"]
    assert view["last_event"] == event["text"]


@pytest.mark.parametrize(
    "idle, max_age, shown",
    [
        (None, None, None),  # the culler's own timeout: nothing of the kit's to say
        (900, None, "After 15m without activity"),
        (0, 43200, "Never for being idle; 12h after it starts"),
        (5400, 28800, "After 1h30m without activity; 8h after it starts"),
    ],
)
def test_the_servers_own_idle_rules_are_shown(idle, max_age, shown):
    view = student_view(Quota(mem_limit=512 * M, idle_timeout=idle, max_age=max_age), None, None)
    stops = [r["value"] for r in view["rows"] if r["label"] == "Stops"]
    assert stops == ([shown] if shown else [])


def test_stopped_server_shows_limits_without_use():
    view = student_view(Quota(cpu_limit=2.5, disk_limit=2 * 1024 * M), None, None)
    assert view["rows"] == [
        {"label": "Memory", "value": "unlimited"},
        {"label": "CPU", "value": "2.5 cores"},
        {"label": "Home", "value": "2G (use shown while running)"},
    ]


async def test_page_time_quota_matches_the_spawn_time_one():
    c = Config()
    c.QuotaDockerSpawner.mem_limit = "1G"
    c.QuotaDockerSpawner.cpu_limit = 1.0
    c.QuotaDockerSpawner.quota_groups = {"teachers": {"mem_limit": "4G", "cpu_limit": 2}}
    c.QuotaDockerSpawner.quota_users = {"ann": {"disk_limit": "3G"}}
    for user, groups in [("ann", []), ("tom", ["teachers"]), ("bob", ["other"])]:
        sp = resolve.configured_spawner(c, user, groups)
        assert sp.resolve_quota_now() == await sp.resolve_quota()
    tom = resolve.configured_spawner(c, "tom", ["teachers"]).resolve_quota_now()
    assert (tom.mem_limit, tom.cpu_limit) == (parse_size("4G"), 2.0)


async def test_page_time_quota_skips_async_callables():
    async def per_user(spawner):
        return "3G"

    c = Config()
    c.QuotaDockerSpawner.mem_limit = per_user
    c.QuotaDockerSpawner.cpu_limit = 1.0
    sp = resolve.configured_spawner(c, "ann")
    assert sp.resolve_quota_now() == Quota(cpu_limit=1.0)  # unknown until the spawn
    assert (await sp.resolve_quota()).mem_limit == parse_size("3G")


def test_a_broken_policy_file_shows_nothing_rather_than_breaking_the_page(tmp_path):
    policy = tmp_path / "quotas.toml"
    policy.write_text('[groups.teachers]\nmem_limit = "lots"\n')
    c = Config()
    c.QuotaDockerSpawner.quota_policy_file = str(policy)
    assert resolve.configured_spawner(c, "tom", ["teachers"]).resolve_quota_now() is None


def test_template_var_without_a_kit_spawner():
    assert template_var(None) is None

    class Other:
        spawner = object()

    assert template_var(Other()) is None


@pytest.fixture
def partial():
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)
    return env.get_template("jhub_kit_quota.html")


def test_partial_escapes_and_draws_the_bar(partial):
    event = {"text": "<script>alert(1)</script> ran out of memory"}
    html = partial.render(jhub_kit=student_view(Q, Usage(900 * M, 1024 * M), event))
    assert "<script>alert(1)" not in html and "&lt;script&gt;" in html
    assert 'style="width: 88%"' in html and "bg-warning" in html  # 75-90 %
    assert '<tr data-quota="memory">' in html and "512M" in html


def test_partial_renders_nothing_without_a_view(partial):
    assert partial.render(jhub_kit=None).strip() == ""
    assert partial.render(jhub_kit={"rows": [], "last_event": None}).strip() == ""


def test_a_partial_measure_says_at_least():
    from jhub_kit.provision import Usage
    from jhub_kit.quota.policy import Quota
    from jhub_kit.views.student import student_view

    view = student_view(Quota(mem_limit=2**30), Usage(3 * 2**30, None, partial=True), None)
    home = next(r for r in view["rows"] if r["label"] == "Home")
    assert home["value"].startswith("at least 3"), home


def test_profile_row_and_every_named_server(partial):
    from types import SimpleNamespace

    from jhub_kit.views.student import servers_of

    view = student_view(Q, None, None, profile="R <big>")
    assert view["rows"][0] == {"label": "Profile", "value": "R <big>"}

    def sp(active, ready, mem, name=""):
        return SimpleNamespace(
            active=active,
            ready=ready,
            quota=Quota(mem_limit=mem * M),
            profile_label={"slug": "r", "name": name} if name else None,
        )

    user = SimpleNamespace(
        spawners={
            "": sp(True, True, 300),
            "proj": sp(True, False, 600, "Big"),
            "old": sp(False, False, 1),
        }
    )
    assert servers_of(user) == [
        {"name": "", "state": "running", "profile": "", "memory": "300M"},
        {"name": "proj", "state": "starting", "profile": "Big", "memory": "600M"},
    ]
    html = partial.render(jhub_kit={**view, "servers": servers_of(user)})
    assert 'data-server="proj"' in html and "R &lt;big&gt;" in html and ">default<" in html
