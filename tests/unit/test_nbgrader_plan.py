"""nbgrader in a course (issue 38), pure: which exchange folders each role's server
gets and where, read-only or not; hostile usernames and course names; the host's
folders; the environment that carries nbgrader's config; the mounts in the one
description, and where a pooled start puts them (inside the home: no new slot)."""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path

import pytest
from test_course_folder_mounts import inputs
from traitlets.config import Config

from jhub_kit import spec
from jhub_kit.provision.lvm import LvmProvisioner
from jhub_kit.provision.nbgrader import IMAGE_FILES, make_nbgrader_provisioner, nbgrader_base_dir
from jhub_kit.quota.courses import STUDENT, TEACHER, QuotaError, parse_course
from jhub_kit.quota.nbgrader import (
    ENV_EXCHANGE,
    ENV_STUDENT,
    ENV_TEACHES,
    ExchangeMount,
    host_folders,
    nbgrader_env,
    nbgrader_mounts,
    student_refusal,
)
from jhub_kit.spawners.courses import CoursePart
from jhub_kit.spec import make_spec

HOME = "/home/jovyan"
X = f"{HOME}/.jhub-kit/nbgrader/exchange/stats"
DECL = {
    "teachers": {"users": ["tess"]},
    "students": {"groups": ["stats"]},
    "size_limit": "1G",
    "nbgrader": True,
}
STATS = parse_course("stats", DECL)


def test_a_teacher_gets_the_whole_exchange_and_the_staff_folder():
    assert nbgrader_mounts(STATS, TEACHER, "tess", HOME) == [
        ExchangeMount(f"{X}/outbound", "exchange/outbound", False),
        ExchangeMount(f"{X}/inbound", "exchange/inbound", True),
        ExchangeMount(f"{X}/feedback", "exchange/feedback", False),
        ExchangeMount(f"{HOME}/nbgrader/stats", "staff", False),
    ]


def test_a_student_gets_the_released_assignments_and_only_their_own_folders():
    assert nbgrader_mounts(STATS, STUDENT, "ann", HOME) == [
        ExchangeMount(f"{X}/outbound", "exchange/outbound", True),
        ExchangeMount(f"{X}/inbound", "exchange/inbound/ann", False),
        ExchangeMount(f"{X}/feedback", "exchange/feedback/ann", True),
    ]
    # nothing of the staff folder, nothing of another student
    rels = [m.rel for m in nbgrader_mounts(STATS, STUDENT, "ann", HOME)]
    assert "staff" not in rels and not any("ben" in r for r in rels)


@pytest.mark.parametrize(
    "user, refused",
    [
        pytest.param("ann", False, id="plain"),
        pytest.param("山田.太郎", False, id="unicode"),
        pytest.param("cleo.k@uni.edu", False, id="email"),
        pytest.param("..", True, id="dotdot-would-be-all-of-inbound"),
        pytest.param(".", True, id="dot"),
        pytest.param("a+b", True, id="plus-splits-nbgraders-names"),
        pytest.param("*", True, id="star-globs-everyone"),
        pytest.param(".ann", True, id="hidden-from-nbgraders-glob"),
        pytest.param("a[1]", True, id="brackets-glob"),
        pytest.param("a?", True, id="question-mark-globs"),
        pytest.param("a\nb", True, id="control"),
        pytest.param(" ann", True, id="space"),
        pytest.param("x" * 256, True, id="too-long-for-a-folder"),
        pytest.param("é" * 128, True, id="too-many-bytes"),
    ],
)
def test_hostile_usernames_get_no_exchange(user, refused):
    assert bool(student_refusal(user)) is refused
    mounts = nbgrader_mounts(STATS, STUDENT, user, HOME)
    assert (mounts == []) is refused
    folders = host_folders([user])
    assert (f"exchange/inbound/{user}" not in folders) is refused
    for rel in folders:  # never a path out of the course's folder
        assert ".." not in rel.split("/")


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("a+b", {**DECL}, "cannot hold '+' or '*'"),
        ("stats", {**DECL, "nbgrader": "yes"}, "expected True or False"),
    ],
)
def test_a_course_nbgrader_cannot_serve_is_refused(name, value, message):
    with pytest.raises(QuotaError, match=re.escape(message)):
        parse_course(name, value)


def test_a_course_without_nbgrader_keeps_its_declaration():
    plain = {k: v for k, v in DECL.items() if k != "nbgrader"}
    assert parse_course("a+b", plain).nbgrader is False
    assert STATS.nbgrader is True


def test_the_hosts_folders_each_students_own_two():
    assert host_folders(["ben", "ann", "ann"]) == [
        "exchange",
        "exchange/outbound",
        "exchange/inbound",
        "exchange/feedback",
        "staff",
        "exchange/inbound/ann",
        "exchange/feedback/ann",
        "exchange/inbound/ben",
        "exchange/feedback/ben",
    ]


def test_the_environment_of_a_student_a_teacher_and_someone_else():
    other = parse_course("plain", {k: v for k, v in DECL.items() if k != "nbgrader"})
    conf = f"{HOME}/.jhub-kit/nbgrader/config"
    student = nbgrader_env("ann", HOME, [(STATS, STUDENT), (other, STUDENT)])
    assert student == {
        "JUPYTER_CONFIG_PATH": f"{conf}/student:{conf}",
        "PYTHONPATH": conf,
        ENV_EXCHANGE: f"{HOME}/.jhub-kit/nbgrader/exchange",
        ENV_TEACHES: "[]",
        ENV_STUDENT: "ann",
    }
    teacher = nbgrader_env("tess", HOME, [(STATS, TEACHER)])
    assert json.loads(teacher[ENV_TEACHES]) == [
        {"course_id": "stats", "root": f"{HOME}/nbgrader/stats"}
    ]
    assert ENV_STUDENT not in teacher  # a student id would narrow collect to one student
    assert teacher["JUPYTER_CONFIG_PATH"] == conf  # the formgrader stays
    assert nbgrader_env("zed", HOME, [(other, STUDENT)]) == {}
    assert nbgrader_env("zed", HOME, []) == {}


def _part() -> CoursePart:
    c = Config()
    c.Courses.courses = {"stats": DECL}
    return CoursePart(c, logging.getLogger("test"))


def test_the_mounts_in_the_description_and_the_pools_plan():
    part = _part()
    part.exchanges = {"stats": "/srv/courses-nbgrader/stats"}
    mounts = part.mounts("ann", ["stats"], HOME)
    by_target = {m["Target"]: m for m in mounts}
    assert by_target[f"{HOME}/.jhub-kit/nbgrader/config"]["Source"] == IMAGE_FILES
    assert by_target[f"{HOME}/.jhub-kit/nbgrader/config"]["ReadOnly"] is True
    assert by_target[f"{X}/inbound"]["Source"] == "/srv/courses-nbgrader/stats/exchange/inbound/ann"
    assert by_target[f"{X}/inbound"]["ReadOnly"] is False
    assert by_target[f"{X}/outbound"]["ReadOnly"] is True
    assert by_target[f"{X}/feedback"]["ReadOnly"] is True
    described = make_spec(
        inputs(
            env={"PYTHONPATH": "/site"},
            courses=tuple(mounts),
            courses_env=part.env("ann", ["stats"], HOME),
        )
    )
    # every exchange mount is inside the home: a warm member's one slot takes them
    assert spec.slots(described.mounts) == (HOME,)
    plan = {p.mount.target: p.path for p in spec.mount_plan(described)}
    assert plan[f"{X}/inbound"] == "slot-0/.jhub-kit/nbgrader/exchange/stats/inbound"
    # the kit's config first on the search paths, the spawner's own kept after
    conf = f"{HOME}/.jhub-kit/nbgrader/config"
    assert described.env["PYTHONPATH"] == f"{conf}:/site"
    assert described.env["JUPYTER_CONFIG_PATH"] == f"{conf}/student:{conf}"
    assert described.env[ENV_STUDENT] == "ann"


CONF = f"{HOME}/.jhub-kit/nbgrader/config"


@pytest.mark.parametrize(
    "spawner_env, image_env, want",
    [
        pytest.param({}, {}, CONF, id="nothing-set"),
        pytest.param({}, {"PYTHONPATH": "/opt/lib"}, f"{CONF}:/opt/lib", id="the-images-kept"),
        pytest.param(
            {"PYTHONPATH": "/site"}, {"PYTHONPATH": "/opt/lib"}, f"{CONF}:/site", id="spawner-wins"
        ),
        pytest.param({"PYTHONPATH": ""}, {"PYTHONPATH": "/opt/lib"}, CONF, id="spawner-empties"),
        pytest.param({}, {"PYTHONPATH": ""}, CONF, id="empty-adds-no-working-folder"),
        pytest.param({}, {"PYTHONPATH": "/a:/b"}, f"{CONF}:/a:/b", id="several-folders"),
    ],
)
def test_the_kits_search_paths_extend_the_images_and_the_spawners(spawner_env, image_env, want):
    env = spec.server_env(
        inputs(env=spawner_env, image_env=image_env, courses_env={"PYTHONPATH": CONF})
    )
    assert env["PYTHONPATH"] == want


def test_the_images_search_paths_from_its_config_env():
    env = [
        "PATH=/opt/conda/bin:/usr/bin",
        "PYTHONPATH=/opt/first",
        "JUPYTER_CONFIG_PATH=/etc/jupyter-extra:/opt/conf",
        "PYTHONPATH=/opt/lib=x",  # the last of a name wins; '=' in a value is kept
        "NOVALUE",
    ]
    assert spec.image_search_paths(env) == {
        "PYTHONPATH": "/opt/lib=x",
        "JUPYTER_CONFIG_PATH": "/etc/jupyter-extra:/opt/conf",
    }
    assert spec.image_search_paths(None) == {}
    described = make_spec(
        inputs(
            image_env=spec.image_search_paths(env),
            courses_env=_part().env("ann", ["stats"], HOME),
        )
    )
    assert described.env["JUPYTER_CONFIG_PATH"] == (
        f"{CONF}/student:{CONF}:/etc/jupyter-extra:/opt/conf"
    )
    assert "PATH" not in described.env  # only what the kit extends is repeated


def test_before_the_folders_are_made_the_mounts_have_no_source():
    mounts = _part().mounts("tess", [], HOME)
    assert {m["Target"] for m in mounts} >= {f"{X}/outbound", f"{HOME}/nbgrader/stats"}
    assert all(m["Source"] == "" for m in mounts if "exchange" in m["Target"])


def test_the_files_mounted_into_the_servers_are_there():
    assert sorted(set(os.listdir(IMAGE_FILES)) - {"__pycache__"}) == [
        "jhub_kit_nbgrader.py",
        "jhub_kit_safecopy.py",
        "nbgrader_config.py",
        "student",
    ]
    student = Path(IMAGE_FILES, "student")
    server = json.loads((student / "jupyter_server_config.json").read_text())
    off = server["ServerApp"]["jpserver_extensions"]
    assert off == {
        "nbgrader.server_extensions.formgrader": False,
        "nbgrader.server_extensions.course_list": False,
    }
    lab = json.loads((student / "labconfig" / "page_config.json").read_text())
    assert set(lab["disabledExtensions"]) == {
        "@jupyter/nbgrader:formgrader",
        "@jupyter/nbgrader:create-assignment",
        "@jupyter/nbgrader:course-list",
    }


def test_nbgrader_folders_live_beside_the_course_folders_with_their_own_lv_names():
    assert nbgrader_base_dir("/srv/jupyterhub/courses/") == "/srv/jupyterhub/courses-nbgrader"
    folders = LvmProvisioner(config=Config(), base_dir="/srv/c", lv_prefix="jhubcourse-")
    prov = make_nbgrader_provisioner(folders, config=Config())
    assert prov.base_dir == "/srv/c-nbgrader"
    assert prov.lv_prefix == "jhubnbgrader-"


def test_a_kept_container_is_made_again_when_its_exchange_changed():
    """``remove = False``: a student who became the course's teacher must not be
    restarted with a student's exchange (or the other way round)."""
    from types import SimpleNamespace

    from jhub_kit import QuotaDockerSpawner

    c = Config()
    c.Courses.courses = {"stats": DECL}
    user = SimpleNamespace(name="ann", groups=[SimpleNamespace(name="stats")])
    sp = QuotaDockerSpawner(config=c, user=user)
    sp.course_part.made = []
    sp.course_part.exchanges = {"stats": "/srv/nb/stats"}

    def kept(role):
        mounts = [{"Destination": HOME, "Source": "/srv/homes/ann", "RW": True}]
        mounts.append(
            {"Destination": f"{HOME}/.jhub-kit/nbgrader/config", "Source": IMAGE_FILES, "RW": False}
        )
        for m in nbgrader_mounts(STATS, role, "ann", HOME):
            mounts.append(
                {"Destination": m.target, "Source": f"/srv/nb/stats/{m.rel}", "RW": not m.read_only}
            )
        return {"Mounts": mounts}

    assert not sp._course_mounts_differ(kept(STUDENT))
    assert sp._course_mounts_differ(kept(TEACHER))
