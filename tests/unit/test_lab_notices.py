"""The student's notices in JupyterLab (issue 39), without services:

- the description: the extension's folder mounted read-only and first on
  ``JUPYTER_PATH`` (before the spawner's value, else the image's), for a cold
  start and a pool member alike (no slot, same key), and nothing when it is off;
- the extension as package data: what JupyterLab's server reads of it
  (jupyterlab_server's ``get_federated_extensions``: ``package.json``'s name,
  version, ``jupyterlab._build``), its script's name carrying its content's hash
  (JupyterLab serves ``static/`` as immutable);
- the extension itself, loaded in node as JupyterLab 4's loader does
  (``tests/support/labnotices_harness.js``): a warning shown and kept, updated,
  dismissed; an information once; why the server stopped, once, if it stopped
  while the page was open; nothing for a teacher looking at a student's server
  or on another origin; polling as the hub says, stopping on 403;
- the hub's answer, the notices of a named server, the bundle's settings.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import _unavailable
from jupyterhub.user import _SpawnerDict
from test_spec import inputs, member_mounts
from traitlets.config import Config

from jhub_kit import spec
from jhub_kit.spec import make_spec
from jhub_kit.views.lab_notices import POLL_SECONDS, NoticesHandler, payload, stop_notice
from jhub_kit.views.notices import StudentNotices, server_of

pytestmark = pytest.mark.unit

EXT = Path(spec.JUPYTER_DATA_DIR, "labextensions", "jhub-kit-notices")
HARNESS = Path(__file__).resolve().parents[1] / "support" / "labnotices_harness.js"
HOME = {"Target": "/home/jovyan", "Source": "/srv/homes/alice", "Type": "bind", "ReadOnly": False}
LAB_MOUNT = {
    "Target": spec.JUPYTER_DATA_PATH,
    "Source": spec.JUPYTER_DATA_DIR,
    "Type": "bind",
    "ReadOnly": True,
}


def _mounts(described):
    return {m["Target"]: m for m in described.host_config["mounts"]}


# -- the description ---------------------------------------------------------------


@pytest.mark.parametrize(
    "env, image_env, expected",
    [
        ({}, {}, spec.JUPYTER_DATA_PATH),
        ({}, {"JUPYTER_PATH": "/opt/img"}, f"{spec.JUPYTER_DATA_PATH}:/opt/img"),
        ({"JUPYTER_PATH": "/srv/mine"}, {"JUPYTER_PATH": "/opt/img"}, "%s:/srv/mine"),
        ({"JUPYTER_PATH": ""}, {"JUPYTER_PATH": "/opt/img"}, spec.JUPYTER_DATA_PATH),
    ],
    ids=["none", "the-images", "the-spawners-wins-over-the-images", "set-empty"],
)
def test_the_extension_is_first_on_jupyter_path(env, image_env, expected):
    described = make_spec(inputs(env=env, image_env=image_env, lab_notices=True))
    assert described.env["JUPYTER_PATH"] == expected.replace("%s", spec.JUPYTER_DATA_PATH)
    assert _mounts(described)[spec.JUPYTER_DATA_PATH] == LAB_MOUNT


def test_with_a_courses_search_path_beside_it():
    described = make_spec(
        inputs(
            courses_env={"PYTHONPATH": "/course/lib", "JUPYTER_PATH": "/course/share"},
            image_env={"JUPYTER_PATH": "/opt/img"},
            lab_notices=True,
        )
    )
    assert described.env["PYTHONPATH"] == "/course/lib"
    assert described.env["JUPYTER_PATH"] == f"{spec.JUPYTER_DATA_PATH}:/course/share:/opt/img"


def test_off_nothing_of_it():
    described = make_spec(inputs(image_env={"JUPYTER_PATH": "/opt/img"}))
    assert "JUPYTER_PATH" not in described.env
    assert spec.JUPYTER_DATA_PATH not in _mounts(described)


@pytest.mark.parametrize(
    "courses_env, lab, expected",
    [
        ({}, False, set()),
        ({}, True, {"JUPYTER_PATH"}),
        ({"PYTHONPATH": "/c", "NBGRADER": "x"}, False, {"PYTHONPATH"}),
        ({"PYTHONPATH": "/c"}, True, {"PYTHONPATH", "JUPYTER_PATH"}),
    ],
)
def test_which_image_values_a_description_needs(courses_env, lab, expected):
    assert spec.extended_search_paths(courses_env, lab) == expected


def test_the_pool_takes_it_every_member_has_the_folder():
    member = make_spec(inputs(env={}, args=[], name="", home=HOME))
    pooled = make_spec(inputs(home=HOME, lab_notices=True))
    assert spec.pool_key(pooled) == spec.pool_key(member)
    assert spec.pool_refusals(pooled, spec.fixed_part(member)) == []
    assert spec.slots(pooled.mounts) == ("/home/jovyan",)
    assert [p.mount.target for p in spec.mount_plan(pooled)] == ["/home/jovyan"]
    for made_from in (member, pooled):  # whatever the configuration said
        assert member_mounts(made_from)[spec.JUPYTER_DATA_PATH] == LAB_MOUNT


def test_another_mount_at_the_path_is_the_servers_own():
    described = make_spec(
        inputs(volume_binds={"/srv/mine": {"bind": spec.JUPYTER_DATA_PATH, "mode": "ro"}})
    )
    assert spec.slots(described.mounts) == (spec.JUPYTER_DATA_PATH,)


# -- the extension as JupyterLab's server reads it ------------------------------------


def _package() -> dict:
    return json.loads((EXT / "package.json").read_text(encoding="utf-8"))


def test_the_package_is_what_jupyterlab_reads():
    package = _package()
    # jupyterlab_server.config.get_federated_extensions / get_page_config
    assert package["name"] == EXT.name == "jhub-kit-notices"
    assert package["version"]
    build = package["jupyterlab"]["_build"]
    assert build["extension"] == "./extension"
    assert (EXT / build["load"]).is_file()
    # nothing else in the folder JupyterLab would list or serve
    files = sorted(str(p.relative_to(EXT)) for p in EXT.rglob("*") if p.is_file())
    assert files == sorted(["install.json", build["load"], "package.json"])
    assert json.loads((EXT / "install.json").read_text())["packageName"] == "jhub_kit"


def test_the_scripts_name_carries_its_hash():
    """JupyterLab serves an extension's ``static/`` as immutable: a changed script
    must have a new name, or browsers keep the old one for a year."""
    load = Path(_package()["jupyterlab"]["_build"]["load"])
    digest = hashlib.sha256((EXT / load).read_bytes()).hexdigest()[:20]
    assert load.name == f"remoteEntry.{digest}.js", (
        f"rename {load.name} to remoteEntry.{digest}.js and change package.json's load"
    )


# -- the extension, run as JupyterLab loads it ----------------------------------------

OWNER = {"hubPrefix": "/hub/", "hubUser": "ann", "hubServerUser": "ann", "hubHost": ""}
WARN = {"kind": "warning", "key": "max-age", "text": "stopped at about 14:32"}


def play(config=OWNER, answers=(), origin="http://hub.test", **more) -> dict:
    node = shutil.which("node")
    if node is None:
        _unavailable("node is not installed (configurable-http-proxy needs it too)")
    scenario = {
        "script": str(EXT / _package()["jupyterlab"]["_build"]["load"]),
        "name": EXT.name,
        "module": "./extension",
        "config": config,
        "origin": origin,
        "answers": list(answers),
        **more,
    }
    run = subprocess.run(
        [node, str(HARNESS)], input=json.dumps(scenario), capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["errors"] == []
    return out


def ok(*notices, poll=60):
    return {"status": 200, "body": {"notices": list(notices), "poll": poll}}


def _ids(out):
    return [(c["id"].split(":")[1], c["args"]) for c in out["commands"]]


def test_a_warning_is_shown_kept_updated_and_dismissed():
    later = {**WARN, "text": "stopped at about 14:40"}
    out = play(answers=[ok(WARN, poll=45), ok(WARN), ok(later), ok()])
    assert out["plugins"] == [{"id": "jhub-kit-notices:plugin", "autoStart": True}]
    assert out["fetches"][0] == {
        "url": "/hub/jhub-kit/notices?server=",
        "credentials": "same-origin",
        "cache": "no-store",
    }
    assert len(out["fetches"]) == 4
    assert out["timers"][:2] == [45_000, 60_000]  # as often as the hub says
    assert _ids(out) == [
        ("notify", {"message": WARN["text"], "type": "warning", "options": {"autoClose": False}}),
        # the same text again: nothing; a new time: the same notification, changed
        (
            "update-notification",
            {"id": "n1", "message": later["text"], "type": "warning", "autoClose": False},
        ),
        ("dismiss-notification", {"id": "n1"}),  # no longer applies
    ]


def test_a_warning_the_student_dismissed_comes_back_when_it_changes():
    later = {**WARN, "text": "stopped at about 14:40"}
    out = play(answers=[ok(WARN), ok(later)], update=False)
    assert [c["id"] for c in out["commands"]] == [
        "apputils:notify",
        "apputils:update-notification",
        "apputils:notify",
    ]
    assert out["commands"][-1]["args"]["message"] == later["text"]


def test_an_information_is_shown_once_and_closes():
    info = {"kind": "info", "key": "opened", "text": "Your teacher ada opened your server"}
    out = play(answers=[ok(info), ok(info)])
    assert _ids(out) == [
        ("notify", {"message": info["text"], "type": "info", "options": {"autoClose": 15000}})
    ]


@pytest.mark.parametrize(
    "config, origin",
    [
        ({**OWNER, "hubUser": "teach-a"}, "http://hub.test"),  # a teacher in ann's server
        ({**OWNER, "hubHost": "https://hub.example.org"}, "https://ann.example.org"),
        ({**OWNER, "hubPrefix": ""}, "http://hub.test"),  # not behind a hub
    ],
    ids=["a-teacher-looks", "subdomain-host", "no-hub"],
)
def test_nobody_else_is_asked_for(config, origin):
    out = play(config=config, origin=origin, answers=[ok(WARN)])
    assert out["fetches"] == [] and out["commands"] == []


def test_a_named_server_asks_for_its_own():
    config = {**OWNER, "hubServerName": "gpu 1", "hubPrefix": "/base/hub"}
    out = play(config=config, answers=[ok()])
    assert out["fetches"][0]["url"] == "/base/hub/jhub-kit/notices?server=gpu%201"


@pytest.mark.parametrize("status", [401, 403, 404])
def test_it_stops_asking_when_refused(status):
    out = play(answers=[{"status": status, "body": {}}, ok(WARN)])
    assert len(out["fetches"]) == 1 and out["pending"] == 0 and out["commands"] == []
    assert f"answers {status}, not asking again" in out["log"][0]


def test_it_asks_again_after_a_failure():
    out = play(answers=[{"error": "network down"}, {"status": 502, "body": {}}, ok(WARN)])
    assert len(out["fetches"]) == 3 and out["timers"][:2] == [60_000, 60_000]
    assert [c["id"] for c in out["commands"]] == ["apputils:notify"]


def test_why_it_stopped_is_told_once_if_it_stopped_while_the_page_was_open():
    old = {"kind": "stopped", "key": "stopped", "text": "culled yesterday", "at": "2026-12-06"}
    new = {**old, "text": "culled after 15m without activity", "at": "2026-12-07T14:31:00+00:00"}
    first = {"status": 200, "body": {"notices": [WARN], "now": "2026-12-07T14:30:00+00:00"}}
    then = {"status": 200, "body": {"notices": [old, new], "now": "2026-12-07T14:31:05+00:00"}}
    out = play(answers=[first, then, then])
    assert _ids(out) == [
        ("notify", {"message": WARN["text"], "type": "warning", "options": {"autoClose": False}}),
        ("notify", {"message": new["text"], "type": "error", "options": {"autoClose": False}}),
        ("dismiss-notification", {"id": "n1"}),
    ]


def test_without_jupyterlabs_notifications_nothing_is_executed():
    out = play(answers=[ok(WARN)], hasNotify=False)
    assert len(out["fetches"]) == 1 and out["commands"] == []


# -- the hub's answer -----------------------------------------------------------------


def test_the_answer():
    from datetime import datetime, timedelta, timezone

    notices = [{**WARN, "extra": 1}, {"kind": "stopped", "key": "s", "text": "t", "at": "x"}]
    now = datetime(2026, 12, 7, 15, 30, tzinfo=timezone(timedelta(hours=1)))
    assert payload("ann", "", notices, now) == {
        "user": "ann",
        "server": "",
        "notices": [WARN, {"kind": "stopped", "key": "s", "text": "t", "at": "x"}],
        "now": "2026-12-07T14:30:00+00:00",
        "poll": POLL_SECONDS,
    }


@pytest.mark.parametrize(
    "active, event, expected",
    [
        (False, {"text": "Stopped by the idle culler", "at": "2026-12-07T14:31:00+00:00"}, 1),
        (True, {"text": "Stopped by the idle culler", "at": "2026-12-07T14:31:00+00:00"}, 0),
        (False, None, 0),
        (False, {"text": "", "at": "2026-12-07T14:31:00+00:00"}, 0),
    ],
    ids=["stopped", "running-again", "no-event", "no-text"],
)
def test_why_the_server_stopped(active, event, expected):
    sp = SimpleNamespace(active=active, last_event=event)
    said = stop_notice(sp)
    assert len(said) == expected
    if said:
        assert said[0] == {"kind": "stopped", "key": "stopped", **event}
    assert stop_notice(None) == []


def _spawner(started_min_ago: int, max_age: int):
    from datetime import datetime, timedelta, timezone

    started = datetime.now(timezone.utc) - timedelta(minutes=started_min_ago)
    return SimpleNamespace(
        ready=True,
        orm_spawner=SimpleNamespace(last_activity=started, started=started),
        quota=SimpleNamespace(idle_timeout=None, max_age=max_age),
    )


def test_the_notices_of_a_named_server():
    made = []
    spawners = _SpawnerDict(lambda name: made.append(name))
    spawners[""] = _spawner(1, 0)  # the default server: no rule near
    spawners["gpu"] = _spawner(1, 180)  # 3m max age: the warning applies at once
    user = SimpleNamespace(name="ann", spawners=spawners, spawner=spawners[""])
    notices = StudentNotices("", "", warning=300, culler_timeout=3600, check_every=60)
    assert notices(user) == []
    assert [n["key"] for n in notices(user, "gpu")] == ["max-age"]
    assert notices(user, "nope") == []
    assert server_of(user, "nope") is None and made == []  # none made by asking


def test_the_handler_records_no_activity():
    assert NoticesHandler._record_activity(object(), object()) is False


# -- the bundle -----------------------------------------------------------------------


def _configured(**kit):
    import jhub_kit

    c = Config()
    for key, value in kit.items():
        setattr(c.JhubKit, key, value)
    c.JhubKit.data_dir = "/tmp/jhub-kit-unit-lab-notices"
    jhub_kit.configure(c)
    return c


def _notice_handlers(c):
    return [h for h in c.JupyterHub.get("extra_handlers", []) if NoticesHandler in h]


def test_the_bundle_serves_them_and_turns_them_on():
    from jhub_kit.config import JhubKit, add_lab_notices

    c = _configured()
    (handler,) = _notice_handlers(c)
    assert handler[0] == "/jhub-kit/notices"
    # the hub page's notices, shared (one cache of the files)
    assert handler[2]["notices"] is c.JupyterHub.template_vars["jhub_kit_notices"]
    assert c.QuotaDockerSpawner.lab_notices is True
    from jhub_kit.spawners.docker import QuotaDockerSpawner

    add_lab_notices(c, JhubKit(config=c), QuotaDockerSpawner)  # idempotent
    assert len(_notice_handlers(c)) == 1


@pytest.mark.parametrize(
    "kit",
    [
        {"lab_notices": False},
        {"idle_timeout": 0},  # no culler, no teachers: nothing to say
        {"idle_warning": "0"},
    ],
    ids=["off", "no-culler", "no-warning"],
)
def test_the_bundle_leaves_them_out(kit):
    c = _configured(**kit)
    assert _notice_handlers(c) == []
    assert "lab_notices" not in c.QuotaDockerSpawner


def test_teachers_alone_are_enough():
    c = _configured(idle_timeout=0, teachers={"ada": ["class-a"]})
    assert len(_notice_handlers(c)) == 1


def test_a_site_that_sets_the_spawners_option_keeps_it():
    import jhub_kit

    c = Config()
    c.JhubKit.data_dir = "/tmp/jhub-kit-unit-lab-notices"
    c.Spawner.lab_notices = False
    jhub_kit.configure(c)
    assert "lab_notices" not in c.QuotaDockerSpawner


def test_a_swarm_gets_none_and_says_so_once(caplog):
    from jhub_kit.spawners.swarm import QuotaSwarmSpawner

    c = Config()
    c.QuotaSwarmSpawner.lab_notices = True
    spawners = [QuotaSwarmSpawner(config=c) for _ in range(2)]
    for sp in spawners:
        sp._engine_key_value = "unit-lab-notices"
    with caplog.at_level(logging.WARNING):
        assert [sp.lab_notices_here() for sp in spawners] == [False, False]
    said = [r for r in caplog.records if "no JupyterLab notices" in r.getMessage()]
    assert len(said) == 1
