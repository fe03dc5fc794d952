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
- the class dashboard's answer (its route served for real, the hub's answers
  about tokens and users stood in for): the token's user only, each server's
  notices from the hub's model, why a stopped server stopped; the bundle's settings.
- where the engine's host does not see the kit's folder: tests/unit/test_kit_folders.py.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from conftest import _unavailable
from jupyterhub.services.auth import HubAuth
from test_spec import inputs, member_mounts
from tornado.netutil import bind_sockets
from traitlets.config import Config

from jhub_kit import spec
from jhub_kit.hubapi import HubAPI
from jhub_kit.quota.policy import Quota
from jhub_kit.spec import make_spec
from jhub_kit.views.dashboard import SERVICE_NAME
from jhub_kit.views.dashboard.lab_notices import (
    NOTICES_ENV,
    PATH,
    POLL_SECONDS,
    TokenOwners,
    answer,
    payload,
    routes,
    settings_from_env,
    stop_notice,
)
from jhub_kit.views.notices import IdleInputs, StudentNotices, idle_inputs_of, idle_warning

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

OWNER = {
    "hubPrefix": "/hub/",
    "hubUser": "ann",
    "hubServerUser": "ann",
    "hubHost": "",
    "token": "ann-token",
}
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
        [node, str(HARNESS)], input=json.dumps(scenario), capture_output=True, text=True, timeout=60
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
        "url": f"/services/{SERVICE_NAME}/{PATH}?server=",
        "headers": {"Authorization": "token ann-token"},
        "credentials": "omit",
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
        ({**OWNER, "token": ""}, "http://hub.test"),
    ],
    ids=["a-teacher-looks", "subdomain-host", "no-hub", "no-token"],
)
def test_nobody_else_is_asked_for(config, origin):
    out = play(config=config, origin=origin, answers=[ok(WARN)])
    assert out["fetches"] == [] and out["commands"] == []


def test_a_named_server_asks_for_its_own():
    config = {**OWNER, "hubServerName": "gpu 1", "hubPrefix": "/base/hub/"}
    out = play(config=config, answers=[ok()])
    assert out["fetches"][0]["url"] == f"/base/services/{SERVICE_NAME}/{PATH}?server=gpu%201"


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


# -- the service's answer ------------------------------------------------------------

NOW = datetime.now(timezone.utc)
SETTINGS = {"warning": 300, "culler_timeout": 3600, "check_every": 60}


def server(started_min_ago: int = 1, max_age: int | None = None, ready=True, event=None):
    """A server as the hub's REST API shows it to the dashboard (its state too)."""
    started = (NOW - timedelta(minutes=started_min_ago)).isoformat().replace("+00:00", "Z")
    kit: dict = {}
    if max_age is not None:
        kit["quota"] = Quota(max_age=max_age).to_state()
    if event:
        kit["last_event"] = event
    return {
        "ready": ready,
        "pending": None,
        "started": started if ready else None,
        "last_activity": started,
        "state": {"jhub_kit": kit} if kit else {},
    }


def test_the_answer():
    notices = [{**WARN, "extra": 1}, {"kind": "stopped", "key": "s", "text": "t", "at": "x"}]
    now = datetime(2026, 12, 7, 15, 30, tzinfo=timezone(timedelta(hours=1)))
    assert payload("ann", "", notices, now) == {
        "user": "ann",
        "server": "",
        "notices": [WARN, {"kind": "stopped", "key": "s", "text": "t", "at": "x"}],
        "now": "2026-12-07T14:30:00+00:00",
        "poll": POLL_SECONDS,
    }


EVENT = {"text": "Your last server was stopped by the idle culler", "at": "2026-12-07T14:31Z"}


def test_what_jupyterlab_shows_fits_its_notification():
    """JupyterLab 4's notification shows the first 140 characters of a message (its
    apputils-extension's toast), the whole in the notification center."""
    idle_server = IdleInputs(NOW - timedelta(minutes=58), NOW - timedelta(hours=3), 3600, None)
    aged = IdleInputs(NOW, NOW - timedelta(hours=25, minutes=58), 0, 86400 + 7200 + 59)
    for idle in (idle_server, aged):
        warned = idle_warning(
            idle, NOW, warning=600, culler_timeout=3600, check_every=5400, extended=None
        )
        [shown] = payload("ann", "", [warned], NOW)["notices"]
        assert len(shown["text"]) <= 140, shown["text"]
        assert shown["text"] == warned.get("short", warned["text"])


@pytest.mark.parametrize(
    "model, expected",
    [
        (server(ready=False, event=EVENT), [{"kind": "stopped", "key": "stopped", **EVENT}]),
        (server(event=EVENT), []),  # running again
        ({**server(ready=False, event=EVENT), "pending": "spawn"}, []),  # starting
        (server(ready=False), []),
        (server(ready=False, event={"text": "", "at": "x"}), []),
        (None, []),
    ],
    ids=["stopped", "running-again", "starting", "no-event", "no-text", "no-server"],
)
def test_why_the_server_stopped(model, expected):
    assert stop_notice(model) == expected


def test_the_notices_of_each_server_from_the_hubs_model():
    user = {
        "name": "ann",
        "servers": {
            "": server(1),  # the culler's rule: no warning near
            "gpu": server(1, max_age=180),  # 3m: within the 5m warning at once
            "old": server(ready=False, event=EVENT),
        },
    }
    notices = StudentNotices("", "", **SETTINGS)
    said = {name: answer(notices, user, name, NOW)["notices"] for name in ("", "gpu", "old", "x")}
    assert said[""] == [] and said["x"] == []
    assert [n["key"] for n in said["gpu"]] == ["max-age"]
    assert "maximum age of 3m" in said["gpu"][0]["text"]
    assert said["old"] == [{"kind": "stopped", "key": "stopped", **EVENT}]
    assert idle_inputs_of(server(1, max_age=180)).max_age == 180
    # a record that cannot be read: the culler's own rule
    broken = {**server(1), "state": {"jhub_kit": {"quota": {"nonsense": 1}}}}
    assert idle_inputs_of(broken).max_age is None


@pytest.mark.parametrize(
    "env, expected",
    [
        ({}, None),
        ({NOTICES_ENV: json.dumps(SETTINGS)}, SETTINGS),
        ({NOTICES_ENV: '{"warning": 60}'}, {"warning": 60, "culler_timeout": 0, "check_every": 0}),
    ],
)
def test_the_settings_the_hub_hands_over(env, expected):
    assert settings_from_env(env) == expected


class TokenAuth(HubAuth):
    """The hub's answer to ``GET /hub/api/user`` with a token, without a hub."""

    def user_for_token(self, token, use_cache=True, session_id="", *, sync=True):
        async def ask():
            return {"ann-token": {"kind": "user", "name": "ann"}}.get(token)

        return ask()


class UsersAPI(HubAPI):
    """The hub's REST API as the dashboard's client asks it (HubAPI's own methods
    over the requests recorded here), without a hub."""

    def __init__(self, users):
        self.users, self.asked = users, []

    def request(self, method, path, ok=(200,), **kw):
        self.asked.append((method, path, kw))
        return self.users[path.rsplit("/", 1)[1]]


@pytest.fixture
async def service():
    """The notices' route of the dashboard on a port of its own, ``ann`` known to the
    collector with her default server running, her server ``old`` stopped."""
    from tornado.httpserver import HTTPServer
    from tornado.web import Application

    from jhub_kit.views.dashboard.app import Collector

    stopped = {"name": "ann", "servers": {"old": server(ready=False, event=EVENT)}}
    collector = Collector(UsersAPI({"ann": stopped}), "")
    collector.users = {"ann": {"name": "ann", "servers": {"": server(1, max_age=180)}}}
    prefix = "/services/class-dashboard/"
    with pytest.MonkeyPatch.context() as env:
        env.setenv(NOTICES_ENV, json.dumps(SETTINGS))
        handlers = routes(prefix, "")
    auth = TokenAuth(api_token="unused", api_url="http://127.0.0.1:1/hub/api")
    app = Application(handlers, hub_auth=auth, collector=collector)
    http = HTTPServer(app)
    [sock] = bind_sockets(0, "127.0.0.1")
    http.add_sockets([sock])
    yield f"http://127.0.0.1:{sock.getsockname()[1]}{prefix}{PATH}", collector.api
    http.stop()


async def _get(url, token=""):
    from tornado.httpclient import AsyncHTTPClient

    headers = {"Authorization": f"token {token}"} if token else {}
    r = await AsyncHTTPClient().fetch(url, headers=headers, raise_error=False)
    return r.code, json.loads(r.body or b"{}")


async def test_the_service_answers_the_tokens_user_only(service):
    url, api = service
    assert (await _get(url))[0] == 403  # no token
    assert (await _get(url, "someone-else"))[0] == 403  # the hub knows no such token
    code, body = await _get(url, "ann-token")
    assert code == 200 and body["user"] == "ann" and body["server"] == ""
    assert [n["key"] for n in body["notices"]] == ["max-age"]
    assert api.asked == []  # a running server: from what the dashboard read last
    code, body = await _get(url + "?server=old", "ann-token")  # stopped: asked now
    assert code == 200 and body["notices"] == [{"kind": "stopped", "key": "stopped", **EVENT}]
    assert api.asked == [("GET", "/users/ann", {"params": {"include_stopped_servers": 1}})]


async def test_the_service_without_the_hubs_settings_answers_404():
    from jhub_kit.views.dashboard.lab_notices import NoticesHandler

    assert routes("/p/", "")[0][1] is NoticesHandler
    assert routes("/p/", "")[0][2]["notices"] is None  # NOTICES_ENV unset here


async def test_whose_token_is_remembered_for_a_while():
    asked = []

    class Counting(TokenAuth):
        def user_for_token(self, token, use_cache=True, session_id="", *, sync=True):
            asked.append(token)
            return super().user_for_token(token, sync=sync)

    auth = Counting(api_token="unused", api_url="http://127.0.0.1:1/hub/api")
    owners = TokenOwners(ttl=600, most=2)
    assert await owners.name(auth, "ann-token", now=0) == "ann"
    assert await owners.name(auth, "ann-token", now=599) == "ann"
    assert asked == ["ann-token"]  # once in ten minutes
    assert await owners.name(auth, "ann-token", now=601) == "ann"
    assert await owners.name(auth, "nobody's", now=601) is None
    assert await owners.name(auth, "nobody's", now=602) is None  # a refusal is not kept
    assert asked == ["ann-token", "ann-token", "nobody's", "nobody's"]


# -- the bundle -----------------------------------------------------------------------


def _configured(**kit):
    import jhub_kit

    c = Config()
    for key, value in kit.items():
        setattr(c.JhubKit, key, value)
    c.JhubKit.data_dir = "/tmp/jhub-kit-unit-lab-notices"
    jhub_kit.configure(c)
    return c


def _handed_over(c):
    """What the hub hands the dashboard for the notices (None: they are off)."""
    (board,) = [s for s in c.JupyterHub.services if s["name"] == SERVICE_NAME]
    return settings_from_env(board["environment"])


def test_the_bundle_turns_them_on():
    c = _configured(idle_timeout=7200, idle_warning="10m", idle_check_every=60)
    assert c.QuotaDockerSpawner.lab_notices is True
    assert _handed_over(c) == {"warning": 600, "culler_timeout": 7200, "check_every": 60}
    assert not c.JupyterHub.get("extra_handlers")  # JupyterHub's deprecated way: not used


@pytest.mark.parametrize(
    "kit",
    [
        {"lab_notices": False},
        {"dashboard": False},  # nobody to answer the extension
        {"idle_timeout": 0},  # no culler, no teachers: nothing to say
        {"idle_warning": "0"},
    ],
    ids=["off", "no-dashboard", "no-culler", "no-warning"],
)
def test_the_bundle_leaves_them_out(kit):
    c = _configured(**kit)
    assert "lab_notices" not in c.QuotaDockerSpawner
    if kit.get("dashboard") is not False:
        assert _handed_over(c) is None


def test_teachers_alone_are_enough():
    c = _configured(idle_timeout=0, teachers={"ada": ["class-a"]})
    assert c.QuotaDockerSpawner.lab_notices is True
    assert _handed_over(c) == {"warning": 0, "culler_timeout": 0, "check_every": 0}


def test_a_courses_teachers_alone_are_enough():
    """Teachers declared only in c.Courses.courses: the lab notices, the teachers'
    policy file and the course's role, all from the one reading of the courses."""
    import jhub_kit

    c = Config()
    c.JhubKit.data_dir = "/tmp/jhub-kit-unit-lab-notices"
    c.JhubKit.idle_timeout = 0
    c.Courses.courses = {
        "lab": {
            "teachers": {"users": ["Ada"]},
            "students": {"groups": ["lab-1"]},
            "size_limit": "1G",
        }
    }
    jhub_kit.configure(c)
    assert c.QuotaDockerSpawner.lab_notices is True
    assert c.QuotaDockerSpawner.teacher_policy_file.endswith("/teachers/policy.toml")
    (role,) = [r for r in c.JupyterHub.load_roles if r.get("users") == ["ada"]]
    assert "lab" in role["name"] and "access:servers!group=lab-1" in role["scopes"]


def test_a_site_that_sets_the_spawners_option_keeps_it():
    import jhub_kit

    c = Config()
    c.JhubKit.data_dir = "/tmp/jhub-kit-unit-lab-notices"
    c.Spawner.lab_notices = False
    jhub_kit.configure(c)
    assert "lab_notices" not in c.QuotaDockerSpawner


def test_the_bundle_on_a_swarm_leaves_them_out():
    c = _configured(engine="swarm")
    assert "lab_notices" not in c.QuotaSwarmSpawner and "lab_notices" not in c.QuotaDockerSpawner
    assert _handed_over(c) is None


async def test_a_swarm_gets_none_and_says_so_once(caplog):
    from jhub_kit.spawners.swarm import QuotaSwarmSpawner

    c = Config()
    c.QuotaSwarmSpawner.lab_notices = True
    spawners = [QuotaSwarmSpawner(config=c) for _ in range(2)]
    for sp in spawners:
        sp._engine_key_value = "unit-lab-notices"
    with caplog.at_level(logging.WARNING):
        folders = [await sp.kit_folders_here() for sp in spawners]
    assert [f.lab for f in folders] == [False, False]
    said = [r for r in caplog.records if "no JupyterLab notices" in r.getMessage()]
    assert len(said) == 1
