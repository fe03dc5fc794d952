"""What a student's hub page says of their teachers and the idle culler, without
services (:mod:`jhub_kit.views.notices`, :func:`jhub_kit.spawners.state.idle_stop_text`):
a teacher's opening, an extension for today, the warning before a cull and the
reason after it; the bundle's template variable and the culler's environment."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import jinja2
import pytest
from traitlets import TraitError
from traitlets.config import Config

from jhub_kit.quota.extensions import EXTENSIONS_ENV, extend
from jhub_kit.spawners.state import idle_stop_text
from jhub_kit.views.notices import IdleInputs, StudentNotices, idle_warning, notices
from jhub_kit.views.student import TEMPLATES

NOW = datetime(2026, 12, 7, 14, 30, tzinfo=timezone.utc)
MIN = timedelta(minutes=1)


@pytest.fixture(autouse=True)
def utc_hub(hub_tz):
    """The hub's local time: UTC (the times below read as they are written)."""


def test_a_teachers_opening_is_shown_for_a_day():
    records = [
        {"when": "2026-12-07T14:02:00+00:00", "who": "ada", "action": "open", "target": "user:ann"},
        {"when": "2026-12-07T14:03:00+00:00", "who": "ada", "action": "open", "target": "user:bob"},
        {"when": "2026-12-07T14:04:00+00:00", "who": "ada", "action": "stop", "target": "user:ann"},
        {"when": "2026-12-06T20:00:00+00:00", "who": "bo", "action": "open", "target": "user:ann"},
        {"when": "2026-12-05T20:00:00+00:00", "who": "cy", "action": "open", "target": "user:ann"},
        {"when": "?", "who": "x", "action": "open", "target": "user:ann"},
    ]
    shown = [n["text"] for n in notices("ann", records, {}, NOW)]
    assert shown == [
        "Your teacher ada opened your server at 14:02.",
        "Your teacher bo opened your server yesterday at 20:00.",
    ]


def test_an_extension_is_shown_until_it_ends():
    data = extend({}, ["ann"], NOW + 9 * 60 * MIN, "ada", NOW)
    shown = notices("ann", [], data, NOW)
    assert [n["key"] for n in shown] == ["extended"]
    assert "ada gave you more idle time today" in shown[0]["text"] and "23:30" in shown[0]["text"]
    assert notices("ann", [], data, NOW + 10 * 60 * MIN) == []
    assert notices("bob", [], data, NOW) == []


def idle(last: int, rule: int | None = 900, max_age: int | None = None, started: int = 60):
    """A running server, its last activity ``last`` and its start ``started`` minutes ago."""
    return IdleInputs(NOW - last * MIN, NOW - started * MIN, rule, max_age)


WARNINGS = [
    # (server, warned?, what it says)
    (idle(last=9), False, None),  # 15 min rule, 6 min to go, warning 5 min
    (idle(last=11), True, "at about 14:34 (or up to 5m later) for being idle"),
    (idle(last=20), True, "no activity since 14:10"),  # past it: the culler's next look
    (idle(last=57, rule=None), True, "after 1h without activity"),  # the culler's own
    (idle(last=50, rule=0), False, None),  # never for idleness
    (idle(last=1, rule=0, max_age=3660), True, "maximum age of 1h1m"),
    (idle(last=1, rule=0, max_age=7200), False, None),
]


@pytest.mark.parametrize(
    "server, warned, says",
    WARNINGS,
    ids=["not-yet", "soon", "past", "culler-default", "never", "max-age", "max-age-later"],
)
def test_the_warning_before_a_cull(server, warned, says):
    found = idle_warning(
        server, NOW, warning=300, culler_timeout=3600, check_every=300, extended=None
    )
    assert (found is not None) is warned
    if says:
        assert says in found["text"], found["text"]


def test_no_warning_with_an_extension_without_a_culler_or_warning():
    server = idle(last=20)
    kw = {"culler_timeout": 3600, "check_every": 300}
    assert idle_warning(server, NOW, warning=300, extended=NOW + MIN, **kw) is None
    assert idle_warning(server, NOW, warning=0, extended=None, **kw) is None
    kw["culler_timeout"] = 0
    assert idle_warning(server, NOW, warning=300, extended=None, **kw) is None


@pytest.mark.parametrize(
    "rule, max_age, last, started, says",
    [
        (900, None, 16, 60, "after 15m without activity"),
        (900, None, 3, 60, ""),  # active: someone else stopped it
        (None, None, 500, 600, ""),  # no rule of its own: nothing known
        (0, 3600, 1, 61, "maximum age of 1h"),
        (900, None, None, 20, "after 15m without activity"),  # no activity: since the start
    ],
    ids=["idle", "active", "no-rule", "max-age", "never-active"],
)
def test_the_reason_after_a_cull(rule, max_age, last, started, says):
    naive = NOW.replace(tzinfo=None)  # the hub's database times
    text = idle_stop_text(
        rule,
        max_age,
        None if last is None else naive - last * MIN,
        naive - started * MIN,
        NOW,
    )
    assert (says in text) if says else text == ""


def test_the_home_page_shows_them_escaped(tmp_path):
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)
    html = env.get_template("jhub_kit_notices.html").render(
        jhub_kit_notices=[{"kind": "warning", "key": "idle", "text": "<b>soon</b>"}]
    )
    assert 'data-notice="idle"' in html and "alert-warning" in html
    assert "&lt;b&gt;soon&lt;/b&gt;" in html
    assert env.get_template("jhub_kit_notices.html").render(jhub_kit_notices=[]).strip() == ""


def test_the_bundle_sets_the_notices_and_the_culler_reads_the_extensions(tmp_path):
    from jhub_kit.config import configure

    c = Config()
    c.JhubKit.data_dir = str(tmp_path)
    c.JhubKit.teachers = {"ada": ["a"]}
    c.JhubKit.idle_warning = "10m"
    configure(c)
    found = c.JupyterHub.template_vars["jhub_kit_notices"]
    assert isinstance(found, StudentNotices)
    assert (found.warning, found.culler_timeout, found.check_every) == (600, 3600, 300)
    assert found.audit_log == str(tmp_path / "teachers" / "audit.jsonl")
    culler = next(s for s in c.JupyterHub.services if s["name"] == "idle-culler")
    assert culler["environment"] == {
        EXTENSIONS_ENV: str(tmp_path / "teachers" / "idle_extensions.json")
    }
    assert found.extensions_file == culler["environment"][EXTENSIONS_ENV]


def test_idle_warning_is_a_duration():
    from jhub_kit.config import JhubKit

    assert JhubKit(idle_warning="90s").idle_warning_seconds() == 90
    assert JhubKit(idle_warning="0").idle_warning_seconds() == 0
    with pytest.raises((TraitError, ValueError), match="idle_warning"):
        JhubKit(idle_warning="soon")


class _User:
    name = "ann"
    spawner = None


def test_the_template_variable_reads_the_files(tmp_path):
    audit = tmp_path / "audit.jsonl"
    when = datetime.now(timezone.utc).isoformat(timespec="seconds")
    record = {"when": when, "who": "ada", "action": "open", "target": "user:ann"}
    audit.write_text(json.dumps(record) + "\nnot json\n")
    missing = str(tmp_path / "missing.json")
    var = StudentNotices(str(audit), missing, warning=300, culler_timeout=3600, check_every=300)
    assert [n["key"] for n in var(_User())] == ["opened"]
    assert var(None) == []
    # read again only once the file changes (JupyterHub asks at every page)
    assert [n["key"] for n in var(_User())] == ["opened"]
    with audit.open("a") as f:
        f.write(json.dumps({**record, "who": "bo"}) + "\n")
    texts = [n["text"] for n in var(_User())]
    assert texts and texts[0].startswith("Your teacher bo"), texts
    audit.unlink()
    assert var(_User()) == []
