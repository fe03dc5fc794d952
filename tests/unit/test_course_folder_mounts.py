"""Course folders in the one description (issue 38), pure: which mounts a user's
server gets, read-only or not, where a pooled start puts them, what a swarm
service carries; and the course provisioner's place and kind (no disk touched)."""

from __future__ import annotations

import logging

import pytest
from traitlets.config import Config

from jhub_kit import spec
from jhub_kit.provision import ProvisionError
from jhub_kit.provision.courses import LV_PREFIX, course_base_dir, make_course_provisioner
from jhub_kit.provision.directory import DirectoryProvisioner
from jhub_kit.provision.loopfile import LoopfileProvisioner
from jhub_kit.provision.lvm import LvmProvisioner
from jhub_kit.quota.courses import parse_courses
from jhub_kit.spawners.courses import CoursePart
from jhub_kit.spec import Mountpoint, SpecInputs, make_spec

DECLARED = {
    "physics-101": {
        "teachers": {"users": ["ada"]},
        "students": {"groups": ["physics"]},
        "size_limit": "20M",
    },
    "物理-101": {
        "teachers": {"groups": ["物理-staff"]},
        "students": {"groups": ["physics"], "users": ["ada"]},
        "size_limit": "unlimited",
    },
}
HOME = {"Target": "/home/jovyan", "Source": "/srv/homes/x", "Type": "bind"}


def part(declared=DECLARED) -> CoursePart:
    c = Config()
    c.Courses.courses = declared
    return CoursePart(c, logging.getLogger("test"))


def inputs(**kw) -> SpecInputs:
    base = dict(
        image="img:1",
        command=["jupyterhub-singleuser"],
        args=[],
        env={},
        name="jupyter-x",
        port=8888,
        network_name="net",
        use_internal_ip=True,
        host_ip="127.0.0.1",
        remove=True,
        home=HOME,
    )
    base.update(kw)
    return SpecInputs(**base)


MOUNTS = [
    # user, groups, [(target, read only)]: a teacher by name and a student by name
    (
        "ada",
        [],
        [("/home/jovyan/courses/physics-101", False), ("/home/jovyan/courses/物理-101", True)],
    ),
    # a student of both through one group
    (
        "山田",
        ["physics"],
        [("/home/jovyan/courses/physics-101", True), ("/home/jovyan/courses/物理-101", True)],
    ),
    ("김민수", ["物理-staff"], [("/home/jovyan/courses/物理-101", False)]),  # a teacher by group
    ("zed", ["art"], []),  # in no course: nothing new
]


@pytest.mark.parametrize(("user", "groups", "expected"), MOUNTS, ids=[m[0] for m in MOUNTS])
def test_the_mounts_a_users_server_gets_before_and_after_the_folders_are_made(
    user, groups, expected
):
    p = part()
    before = p.mounts(user, groups, "/home/jovyan")
    assert [(m["Target"], m["ReadOnly"]) for m in before] == expected
    assert all(m["Source"] == "" and m["Type"] == "bind" for m in before)  # not made yet
    # once made (here: by hand), their host paths
    wanted = p.wanted(user, groups, "/home/jovyan")
    p.made = [(f, f"/srv/courses/{f.course.disk_name}") for f in wanted]
    after = p.mounts(user, groups, "/home/jovyan")
    assert [(m["Target"], m["ReadOnly"]) for m in after] == expected
    assert [m["Source"] for m in after] == [
        f"/srv/courses/{parse_courses(DECLARED)[t.rsplit('/', 1)[1]].disk_name}"
        for t, _ in expected
    ]
    p.forget()  # the next start works them out again (the groups may have changed)
    assert p.made is None
    assert all(m["Source"] == "" for m in p.mounts(user, groups, "/home/jovyan"))
    assert [m["Target"] for m in p.mounts(user, [], "/home/jovyan")] == [
        f.target for f in p.wanted(user, [], "/home/jovyan")
    ]


def test_a_hub_with_no_courses_gives_nothing_and_reads_no_provisioner():
    p = part({})
    assert p.mounts("ada", ["physics"], "/home/jovyan") == []
    assert p.wanted("ada", ["physics"], "/home/jovyan") == []


def test_the_folders_are_mounts_of_the_description_inside_the_home_and_read_only_for_students():
    courses = (
        {
            "Target": "/home/jovyan/courses/physics-101",
            "Source": "/srv/courses/physics-101",
            "Type": "bind",
            "ReadOnly": True,
        },
        {
            "Target": "/home/jovyan/courses/物理-101",
            "Source": "/srv/courses/x--1",
            "Type": "bind",
            "ReadOnly": False,
        },
    )
    described = make_spec(inputs(courses=courses))
    assert described.host_config["mounts"][-2:] == [dict(m) for m in courses]
    assert described.mounts[-2:] == [
        Mountpoint("/home/jovyan/courses/physics-101", "/srv/courses/physics-101", "bind", True),
        Mountpoint("/home/jovyan/courses/物理-101", "/srv/courses/x--1", "bind", False),
    ]
    assert [m.home for m in described.mounts] == [True, False, False]


def test_a_pooled_start_mounts_them_in_the_home_slot_and_any_member_fits():
    """The pool's members are made for nobody (no course): a course member's server
    has the same slots (its folders are inside the home), so the same key."""
    nobody = make_spec(inputs(env={}, name=""))
    student = make_spec(
        inputs(
            courses=(
                {
                    "Target": "/home/jovyan/courses/physics-101",
                    "Source": "/srv/c/p",
                    "Type": "bind",
                    "ReadOnly": True,
                },
            )
        )
    )
    assert spec.slots(student.mounts) == ("/home/jovyan",)
    assert spec.pool_key(student) == spec.pool_key(nobody)
    assert spec.pool_refusals(student, spec.fixed_part(nobody)) == []
    plan = [(p.mount.target, p.path, p.mount.read_only) for p in spec.mount_plan(student)]
    assert plan == [
        ("/home/jovyan", "slot-0", False),
        ("/home/jovyan/courses/physics-101", "slot-0/courses/physics-101", True),
    ]


def test_without_a_home_mount_the_folders_are_slots_of_their_own_and_the_pool_says_so():
    nobody = make_spec(inputs(home=None))
    teacher = make_spec(
        inputs(
            home=None,
            courses=(
                {
                    "Target": "/home/jovyan/courses/p",
                    "Source": "/srv/c/p",
                    "Type": "bind",
                    "ReadOnly": False,
                },
            ),
        )
    )
    why = spec.pool_refusals(teacher, spec.fixed_part(nobody))
    assert any("other mount points" in w for w in why), why


def test_a_swarm_service_carries_the_folders_read_only_for_students():
    courses = (
        {
            "Target": "/home/jovyan/courses/p",
            "Source": "/srv/c/p",
            "Type": "bind",
            "ReadOnly": True,
        },
    )
    described = make_spec(inputs(courses=courses))
    assert spec.service_refusals(described) == []
    kw = spec.service_kwargs(
        described, name="s", resources={}, constraints=[], use_internal_ip=True, port=8888
    )
    mounts = kw["task_template"]["ContainerSpec"]["Mounts"]
    assert {
        "Target": "/home/jovyan/courses/p",
        "Source": "/srv/c/p",
        "Type": "bind",
        "ReadOnly": True,
    } in mounts


# -- the course provisioner: the homes' kind, its own place ----------------------------


def test_the_course_folders_live_beside_the_homes_by_default():
    assert course_base_dir("/srv/jupyterhub/homes") == "/srv/jupyterhub/courses"
    assert course_base_dir("/srv/jupyterhub/homes/") == "/srv/jupyterhub/courses"


def test_the_provisioner_is_the_homes_kind_with_its_own_base_dir_and_state(tmp_path):
    c = Config()
    c.HomeProvisioner.base_dir = str(tmp_path / "homes")
    c.HomeProvisioner.state_mirror = str(tmp_path / "homes-mirror.json")
    c.LoopfileProvisioner.default_size = "64M"
    prov = make_course_provisioner("loopfile", config=c)
    assert isinstance(prov, LoopfileProvisioner)
    assert prov.base_dir == str(tmp_path / "courses")
    assert prov.state_mirror == ""  # never the homes' copy
    assert prov.default_size == 64 * 1024**2  # the homes' settings otherwise
    own = make_course_provisioner("directory", config=c, base_dir=str(tmp_path / "c"))
    assert isinstance(own, DirectoryProvisioner) and own.base_dir == str(tmp_path / "c")


def test_an_instance_of_the_homes_is_copied_not_shared(tmp_path):
    homes = DirectoryProvisioner(base_dir=str(tmp_path / "h"), uid=1234, gid=55)
    prov = make_course_provisioner(homes, config=Config())
    assert prov is not homes and isinstance(prov, DirectoryProvisioner)
    assert (prov.uid, prov.gid, prov.base_dir) == (1234, 55, str(tmp_path / "courses"))


def test_on_lvm_course_volumes_never_share_a_name_with_a_users():
    prov = make_course_provisioner("lvm", config=Config())
    assert isinstance(prov, LvmProvisioner) and prov.lv_prefix == LV_PREFIX
    user = LvmProvisioner(config=Config())
    assert user.lv_name({"name": "course-x"}) != prov.lv_name({"name": "x"})
    assert not prov.lv_name({"name": "x"}).startswith(user.lv_prefix)


@pytest.mark.parametrize("kind", ["docker-volume", "system-user"])
def test_kinds_without_a_folder_on_the_host_are_refused_naming_the_option(kind):
    with pytest.raises(ProvisionError, match=r"cannot make course folders.*c.Courses.provisioner"):
        make_course_provisioner(kind, config=Config())


def test_courses_with_nothing_to_make_their_folders_are_refused_naming_the_options():
    with pytest.raises(ProvisionError, match=r"home_provisioner, or c\.Courses\.provisioner"):
        part().provisioner(None)


# -- the spawners' wiring: the user's groups as the hub has them, the home's place ----


@pytest.mark.parametrize("cls", ["QuotaDockerSpawner", "QuotaSwarmSpawner"])
@pytest.mark.parametrize("server", ["", "lab2"], ids=["default", "named"])
def test_both_spawners_give_a_users_server_its_folders_in_its_home(cls, server):
    from types import SimpleNamespace

    import jhub_kit

    c = Config()
    c.Courses.courses = DECLARED
    getattr(c, cls).home_target = "/home/jovyan/work"
    user = SimpleNamespace(name="山田", groups=[SimpleNamespace(name="physics")])
    sp = getattr(jhub_kit, cls)(config=c, user=user, name=server)
    assert [(m["Target"], m["ReadOnly"], m["Source"]) for m in sp.course_mounts()] == [
        ("/home/jovyan/work/courses/physics-101", True, ""),
        ("/home/jovyan/work/courses/物理-101", True, ""),
    ]
    user.groups = []  # left the group: the next start has none of it
    sp.course_part.forget()
    assert sp.course_mounts() == ()


def test_a_kept_container_is_made_again_only_when_its_course_folders_changed():
    """``remove = False``: a kept container restarted with last term's folders (or a
    student's read-only one for a new teacher) would be wrong; one with the same is kept."""
    from types import SimpleNamespace

    from jhub_kit import QuotaDockerSpawner

    c = Config()
    c.Courses.courses = DECLARED
    user = SimpleNamespace(name="zed", groups=[SimpleNamespace(name="physics")])
    sp = QuotaDockerSpawner(config=c, user=user)
    wanted = sp.course_part.wanted("zed", ["physics"], "/home/jovyan")
    sp.course_part.made = [(f, f"/srv/courses/{f.course.disk_name}") for f in wanted]

    def kept(*mounts):
        home = {"Destination": "/home/jovyan", "Source": "/srv/homes/zed", "RW": True}
        return {"Mounts": [home, *mounts]}

    def course(name, rw):
        disk = parse_courses(DECLARED)[name].disk_name
        return {
            "Destination": f"/home/jovyan/courses/{name}",
            "Source": f"/srv/courses/{disk}",
            "RW": rw,
        }

    same = kept(course("physics-101", False), course("物理-101", False))
    assert not sp._course_mounts_differ(same)
    assert sp._course_mounts_differ(kept(course("physics-101", False)))  # joined one
    assert sp._course_mounts_differ(kept(course("physics-101", True), course("物理-101", False)))
    sp.course_part.made = []  # in no course now
    assert sp._course_mounts_differ(same)
    assert not sp._course_mounts_differ(kept())  # nobody's container is made again for nothing


# -- jhub-kit config check -----------------------------------------------------------


def _config(**spawner) -> Config:
    c = Config()
    c.JupyterHub.spawner_class = "jhub_kit.QuotaDockerSpawner"
    c.JupyterHub.hub_ip = "0.0.0.0"
    c.Courses.courses = DECLARED
    for k, v in spawner.items():
        setattr(c.QuotaDockerSpawner, k, v)
    return c


@pytest.mark.parametrize(
    ("spawner", "courses", "setting", "error", "warning"),
    [
        pytest.param(
            {"home_provisioner": "loopfile"},
            {},
            "2, loopfile in /srv/jupyterhub/courses (size limits hold), at <home>/courses/NAME",
            "",
            "",
            id="loopfile",
        ),
        pytest.param(
            {"home_provisioner": "loopfile"},
            {"provisioner": "directory", "base_dir": "/data/c"},
            "2, directory in /data/c (no size limit), at <home>/courses/NAME",
            "",
            "size_limit is not enforced",
            id="directory",
        ),
        pytest.param({}, {}, None, "nothing makes their folders", "", id="none"),
        pytest.param(
            {"home_provisioner": "docker-volume"},
            {},
            None,
            "cannot make course folders",
            "",
            id="docker-volume",
        ),
    ],
)
def test_config_check_says_where_the_folders_are_and_whether_their_limits_hold(
    spawner, courses, setting, error, warning
):
    from jhub_kit.config_check import check_config

    c = _config(**spawner)
    for k, v in courses.items():
        setattr(c.Courses, k, v)
    report = check_config(c)
    assert report.settings.get("course folders") == setting
    said = [e for e in report.errors if "course" in e.lower()]
    assert (error in " ".join(said)) if error else said == [], said
    warned = [w for w in report.warnings if "course folders" in w]
    assert (warning in " ".join(warned)) if warning else warned == [], warned
