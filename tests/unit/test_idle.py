"""Idle rules per group, profile and user: the quota keys ``idle_timeout`` and
``max_age``, resolved like memory, and the arbiter jupyterhub-idle-culler calls
with each server's model (:mod:`jhub_kit.idle`)."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from datetime import datetime, timedelta, timezone

import pytest
from traitlets.config import Config

from jhub_kit.idle import CULLER_CONFIG, arbiter_with_extensions, cull_arbiter, server_rules
from jhub_kit.quota import QuotaError, QuotaPolicy, format_duration, parse_duration
from jhub_kit.quota.user_options import RequestRefused, bound_requests

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=timezone.utc)

DURATIONS = [
    (90, 90),
    ("90", 90),
    ("45s", 45),
    ("30m", 1800),
    ("1.5h", 5400),
    ("8H", 28800),
    ("1d", 86400),
    ("1h30m", 5400),  # what format_duration writes, read back
    ("1d1m1s", 86461),
    ("unlimited", float("inf")),
    (0, float("inf")),
    ("0m", float("inf")),
]


@pytest.mark.parametrize("raw, seconds", DURATIONS, ids=[str(d[0]) for d in DURATIONS])
def test_durations(raw, seconds):
    assert parse_duration(raw) == seconds


@pytest.mark.parametrize(
    "raw", ["-5", -5, "soon", "5 minutes", True, None, float("nan"), "1w", "", "m", "30m1h"]
)
def test_bad_durations_say_what_to_write(raw):
    with pytest.raises(QuotaError, match=re.escape('use e.g. "30m"')):
        parse_duration(raw, where="quota_groups['exam']['idle_timeout']")


def test_what_format_duration_writes_reads_back():
    for seconds in (1, 59, 60, 90, 1800, 5400, 28800, 86400, 86461, 200_000):
        assert parse_duration(format_duration(seconds)) == seconds


def test_format_duration():
    assert [format_duration(s) for s in (1800, 5400, 86400 + 61, 0, None)] == [
        "30m",
        "1h30m",
        "1d1m1s",
        "unlimited",
        "unlimited",
    ]


def test_rules_resolve_per_group_most_generous_and_per_user():
    policy = QuotaPolicy.from_config(
        {"idle_timeout": "1h"},
        {
            "exam": {"idle_timeout": "15m", "max_age": "3h"},
            "research": {"idle_timeout": "8h"},
            "open": {"idle_timeout": "unlimited"},
        },
        {"bob": {"idle_timeout": "2h"}},
    )
    assert (policy.resolve("ann").idle_timeout, policy.resolve("ann").max_age) == (3600, None)
    exam = policy.resolve("eve", ["exam"])
    assert (exam.idle_timeout, exam.max_age) == (900, 10800)
    # the most generous of the user's groups; "unlimited" is 0 (never), beating any number
    assert policy.resolve("ray", ["exam", "research"]).idle_timeout == 28800
    assert policy.resolve("ola", ["exam", "open"]).idle_timeout == 0
    assert policy.resolve("bob", ["exam"]).idle_timeout == 7200  # the user's own entry
    # kept with the server's quota in the hub's database, and read back
    from jhub_kit.quota import Quota

    assert Quota.from_state(exam.to_state()) == exam
    assert exam.to_state()["idle_timeout"] == 900


def test_a_student_cannot_set_their_own_rule():
    policy = QuotaPolicy.from_config({"idle_timeout": "1h"})
    for key in ("idle_timeout", "max_age"):
        with pytest.raises(RequestRefused, match=f"^{key} \\(how long your server"):
            bound_requests({key: "10h"}, policy.resolve("ann"))


def model(idle=None, max_age=None, started=NOW - timedelta(hours=1), state=True):
    quota = {"mem_limit": 1 << 30}
    if idle is not None:
        quota["idle_timeout"] = idle
    if max_age is not None:
        quota["max_age"] = max_age
    out = {"name": "", "started": started.isoformat().replace("+00:00", "Z")}
    if state:
        out["state"] = {"jhub_kit": {"schema": 1, "quota": quota}}
    return out


ARBITER = [
    # (server model, inactive minutes, the culler's --timeout (s), culled?)
    (model(), 59, 3600, False),  # no rule of its own: the culler's timeout
    (model(), 60, 3600, True),
    (model(state=False), 61, 3600, True),  # no state (no admin:server_state, other spawner)
    (model(idle=900), 14, 3600, False),  # an exam: 15 min
    (model(idle=900), 15, 3600, True),
    (model(idle=28800), 120, 3600, False),  # research: 8 h, longer than the culler's
    (model(idle=0), 10_000, 3600, False),  # never for idleness
    (model(idle=0, max_age=1800), 0, 3600, True),  # started 1 h ago, max age 30 min
    (model(max_age=7200), 0, 3600, False),  # 1 h of its 2 h
    (model(idle="900"), 20, 3600, False),  # malformed: not a rule, the culler's timeout
    ({"name": "", "state": {"jhub_kit": "?"}}, 61, 3600, True),
]


@pytest.mark.parametrize(
    "server, minutes, limit, culled",
    ARBITER,
    ids=["default-idle", "default-culled", "no-state", "exam-idle", "exam-culled",
         "research", "never", "max-age", "max-age-not-yet", "malformed", "odd-state"],
)  # fmt: skip
def test_the_arbiter(server, minutes, limit, culled):
    inactive = timedelta(minutes=minutes)
    assert cull_arbiter(inactive=inactive, inactive_limit=limit, server=server, now=NOW) is culled


def test_the_arbiter_without_activity_or_start_culls_nothing():
    assert cull_arbiter(inactive=None, inactive_limit=1, server=model(idle=1)) is False
    assert server_rules({}) == (None, None)


def test_the_culler_loads_the_kits_config_file():
    """The file the bundle passes as --config sets the culler's documented hook; it is
    not a module of the package (importing every module must work)."""
    import pkgutil

    from jupyterhub_idle_culler import IdleCuller

    import jhub_kit

    names = {m.name for m in pkgutil.walk_packages(jhub_kit.__path__, "jhub_kit.")}
    assert "jhub_kit.idle" in names
    assert not any("culler" in n.split(".")[-1] for n in names), names

    culler = IdleCuller()
    culler.load_config_file(CULLER_CONFIG)
    hook = culler.cull_arbiter_hook
    assert hook.__qualname__ == "arbiter_with_extensions.<locals>.arbiter"
    server = {**model(idle=900), "full_name": "ann/"}
    assert hook(inactive=timedelta(minutes=15), inactive_limit=3600, server=server, now=NOW)


def test_a_teachers_extension_lifts_the_idle_timeout_until_it_expires(tmp_path):
    """The arbiter reads the extensions file at each call: ann's extension keeps her
    idle server, bob's expired one does not, and max_age still holds."""
    from jhub_kit.quota.extensions import end_of_day, extend

    path = tmp_path / "idle_extensions.json"
    until = end_of_day(NOW)
    data = extend({}, ["ann"], until, "teach-a", NOW)
    data = extend(data, ["bob"], NOW - timedelta(minutes=1), "teach-a", NOW)
    path.write_text(json.dumps(data))
    arbiter = arbiter_with_extensions(str(path))
    idle = timedelta(hours=3)

    def culled(user: str, when=NOW, **rule) -> bool:
        server = {**model(**(rule or {"idle": 900})), "full_name": f"{user}/"}
        return arbiter(inactive=idle, inactive_limit=3600, server=server, now=when)

    assert not culled("ann")  # extended
    assert culled("bob")  # expired: no cleanup needed
    assert culled("cy")  # none
    assert culled("ann", idle=0, max_age=1800)  # max_age still holds
    assert culled("ann", when=until + timedelta(seconds=1))  # tomorrow
    path.write_text("{not json")
    assert culled("ann")  # a broken file: the rules as set
    assert not arbiter_with_extensions("")(  # no file at all: the rule alone
        inactive=timedelta(minutes=1), inactive_limit=3600, server=model(idle=900), now=NOW
    )


def test_rules_without_a_culler_are_named_in_the_log(tmp_path, caplog):
    from jhub_kit.config import configure

    c = Config()
    c.JhubKit.data_dir = str(tmp_path)
    c.JhubKit.idle_timeout = 0
    c.JhubKit.dashboard = False
    c.QuotaDockerSpawner.quota_groups = {"exam": {"idle_timeout": "15m"}}
    with caplog.at_level(logging.WARNING, logger="jhub_kit"):
        configure(c)
    assert "c.JhubKit.idle_timeout = 0 runs no idle culler" in caplog.text
    assert "services" not in c.JupyterHub


@pytest.mark.parametrize(
    "rule, configured, expected",
    [
        (None, 300, 300),  # the culler's own timeout: JupyterHub's interval
        (0, 300, 300),  # never stopped for idleness
        (3600, 300, 300),  # a long rule: JupyterHub's interval serves
        (1200, 300, 300),
        (600, 300, 150),  # a quarter of the rule
        (120, 300, 30),  # an exam's 2 minutes
        (20, 300, 10),  # never more often than every 10 s
        (3600, 60, 60),  # an admin's shorter interval stays
    ],
)
def test_a_server_reports_its_activity_within_a_quarter_of_its_rule(rule, configured, expected):
    from jhub_kit.quota.policy import activity_interval

    assert activity_interval(rule, configured) == expected


def spawner_env(quota_groups, groups, **options):
    from types import SimpleNamespace

    from jupyterhub.objects import Hub

    from jhub_kit import QuotaDockerSpawner

    c = Config()
    c.QuotaDockerSpawner.quota_groups = quota_groups
    for k, v in options.items():
        setattr(c.QuotaDockerSpawner, k, v)
    user = SimpleNamespace(
        name="eve", groups=[SimpleNamespace(name=g) for g in groups], url="/user/eve/"
    )
    s = QuotaDockerSpawner(config=c, user=user, hub=Hub())
    s.quota = asyncio.run(s.resolve_quota())
    return s.get_env()


def test_a_short_rule_makes_the_server_report_more_often():
    rules = {"exam": {"idle_timeout": "2m"}, "lab": {"idle_timeout": "30m"}}
    assert spawner_env(rules, ["exam"])["JUPYTERHUB_ACTIVITY_INTERVAL"] == "30"
    # JupyterHub's own interval serves the others: left unsaid
    assert "JUPYTERHUB_ACTIVITY_INTERVAL" not in spawner_env(rules, ["lab"])
    assert "JUPYTERHUB_ACTIVITY_INTERVAL" not in spawner_env(rules, [])
    # the admin's own variable wins; the option lowers every server's
    mine = spawner_env(rules, ["exam"], environment={"JUPYTERHUB_ACTIVITY_INTERVAL": "5"})
    assert mine["JUPYTERHUB_ACTIVITY_INTERVAL"] == "5"
    lab = spawner_env(rules, ["lab"], activity_interval=60)
    assert lab["JUPYTERHUB_ACTIVITY_INTERVAL"] == "60"


@pytest.mark.parametrize("culler, expected", [(3600, None), (1200, None), (600, 150), (120, 30)])
def test_the_bundle_lowers_the_interval_under_a_short_culler_timeout(tmp_path, culler, expected):
    from jhub_kit.config import configure

    c = Config()
    c.JhubKit.data_dir = str(tmp_path / "data")
    c.JhubKit.idle_timeout = culler
    configure(c)
    assert c.QuotaDockerSpawner.get("activity_interval") == expected
    # an admin's own value is kept
    c = Config()
    c.JhubKit.data_dir = str(tmp_path / "data2")
    c.JhubKit.idle_timeout = culler
    c.QuotaDockerSpawner.activity_interval = 45
    configure(c)
    assert c.QuotaDockerSpawner.activity_interval == 45
