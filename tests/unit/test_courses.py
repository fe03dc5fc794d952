"""The course declaration (jhub_kit.quota.courses): parsing, and who is in which course."""

from __future__ import annotations

import pytest
from traitlets import TraitError
from traitlets.config import Config

from jhub_kit.names import safe_name
from jhub_kit.quota.courses import (
    STUDENT,
    TEACHER,
    Course,
    Courses,
    Members,
    courses_of,
    folders_of,
    parse_course,
    parse_courses,
    students_of,
    teachers_of,
)
from jhub_kit.quota.policy import QuotaError

G = 1024**3

DECLARED = {
    "physics-101": {
        "teachers": {"users": ["Ada"], "groups": ["physics-staff"]},
        "students": {"groups": ["physics-101"]},
        "size_limit": "2G",
    },
    "chem-200": {
        "teachers": {"users": ["bob"]},
        "students": {"groups": ["chem-200"], "users": ["carol"]},
        "size_limit": "500M",
    },
    "lab": {
        "teachers": {"groups": ["physics-101"]},  # the physics students teach the lab
        "students": {"groups": ["lab"]},
        "size_limit": "unlimited",
    },
}


def test_a_declaration_parses_to_courses():
    courses = parse_courses(DECLARED)
    assert set(courses) == {"physics-101", "chem-200", "lab"}
    physics = courses["physics-101"]
    assert physics.teachers == Members(frozenset({"ada"}), frozenset({"physics-staff"}))
    assert physics.students == Members(groups=frozenset({"physics-101"}))
    assert physics.size_limit == 2 * G
    assert courses["chem-200"].size_limit == 500 * 1024**2
    assert courses["lab"].size_limit is None
    assert courses["physics-101"].describe() == (
        "physics-101: teachers ada, group:physics-staff; students group:physics-101; size limit 2G"
    )


@pytest.mark.parametrize(
    ("user", "groups", "expected"),
    [
        ("ada", [], [("physics-101", TEACHER)]),
        ("ADA", [], [("physics-101", TEACHER)]),  # usernames compare lowercased
        ("dan", ["physics-staff"], [("physics-101", TEACHER)]),
        ("erin", ["physics-101"], [("lab", TEACHER), ("physics-101", STUDENT)]),
        ("carol", [], [("chem-200", STUDENT)]),
        ("fay", ["chem-200", "lab"], [("chem-200", STUDENT), ("lab", STUDENT)]),
        # a teaching assistant in the students' group too: a teacher (write wins)
        ("gus", ["physics-staff", "physics-101"], [("lab", TEACHER), ("physics-101", TEACHER)]),
        (
            "bob",
            ["physics-101"],
            [("chem-200", TEACHER), ("lab", TEACHER), ("physics-101", STUDENT)],
        ),
        ("hal", ["Physics-101"], []),  # group names are exact, as JupyterHub stores them
        ("ivy", [], []),
    ],
    ids=[
        "teacher-by-name",
        "teacher-by-name-any-case",
        "teacher-by-group",
        "student-of-one-teacher-of-another",
        "student-by-name",
        "student-of-two",
        "both-in-one-course-is-teacher",
        "three-courses",
        "group-case-matters",
        "in-none",
    ],
)
def test_courses_of(user, groups, expected):
    got = courses_of(parse_courses(DECLARED), user, groups)
    assert [(c.name, role) for c, role in got] == expected


def test_students_and_teachers_among_the_hubs_users():
    courses = parse_courses(DECLARED)
    users = {
        "ada": [],
        "erin": ["physics-101"],
        "fay": ["physics-101", "lab"],
        "gus": ["physics-staff", "physics-101"],
        "ivy": ["lab"],
    }
    assert students_of(courses["physics-101"], users) == ["erin", "fay"]
    assert teachers_of(courses["physics-101"], users) == ["ada", "gus"]
    assert students_of(courses["lab"], users) == ["ivy"]  # fay teaches it
    assert teachers_of(courses["lab"], users) == ["erin", "fay", "gus"]


GOOD = {"teachers": {"users": ["ada"]}, "students": {"groups": ["s"]}, "size_limit": "1G"}


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("../etc", GOOD, r"course name '../etc' cannot name its folder: '/' and control"),
        ("..", GOOD, "'.', '..' and a leading '-' are not names"),
        ("-rf", GOOD, "a leading '-'"),
        ("a\tb", GOOD, "control characters"),
        ("a\u200bb", GOOD, "control characters"),  # a zero-width space (Cf)
        (" p", GOOD, "spaces at its start or end"),
        ("x" * 64, GOOD, "longer than 63 characters"),
        ("", GOOD, r"course name '' cannot name its folder: empty.*'物理-101'"),
        (3, GOOD, "course name 3 cannot name its folder: not a string"),
        ("p", ["ada"], "expected a mapping like"),
        ("p", {**GOOD, "folder": "/x"}, r"unknown key\(s\) folder; valid keys are"),
        ("p", {"teachers": GOOD["teachers"], "size_limit": "1G"}, "missing students"),
        ("p", {**GOOD, "size_limit": "lots"}, r"\['p'\].size_limit: 'lots' is not a size"),
        ("p", {**GOOD, "size_limit": 0}, "0 bytes holds nothing"),
        ("p", {**GOOD, "teachers": ["ada"]}, r'teachers: expected \{"users"'),
        ("p", {**GOOD, "teachers": {"user": ["ada"]}}, r"unknown key\(s\) user; use users"),
        ("p", {**GOOD, "teachers": {"users": "ada"}}, "teachers.users: expected a list"),
        ("p", {**GOOD, "students": {"groups": []}}, "students: names no users and no groups"),
        ("p", {**GOOD, "students": {"groups": ["a/b"]}}, "cannot contain '/'"),
        ("p", {**GOOD, "students": {"users": [" ada"]}}, "' ada' is not a name"),
        ("p", {**GOOD, "students": {"users": [""]}}, "'' is not a name"),
        ("p", {**GOOD, "students": {"users": [7]}}, "7 is not a name"),
    ],
    ids=lambda v: v if isinstance(v, str) and len(v) < 20 else None,
)
def test_a_bad_declaration_names_what_to_fix(name, value, message):
    with pytest.raises(QuotaError, match=message):
        parse_course(name, value)


def test_not_a_mapping_of_courses():
    with pytest.raises(QuotaError, match="expected a mapping of course names"):
        parse_courses(["physics"])


def test_the_configurable_checks_on_load_and_finds_a_course():
    c = Config()
    c.Courses.courses = DECLARED
    courses = Courses(config=c)
    assert courses.course("lab") == parse_course("lab", DECLARED["lab"])
    with pytest.raises(QuotaError, match=r"no course 'art'.*declared: chem-200, lab, physics-101"):
        courses.course("art")
    bad = Config()
    bad.Courses.courses = {"a/b": GOOD}
    with pytest.raises(TraitError, match=r"c.Courses.courses: course name 'a/b'"):
        Courses(config=bad)
    assert Courses().declared() == {}


def test_course_equality_ignores_where_it_was_declared():
    a = parse_course("p", GOOD, where="x")
    b = parse_course("p", GOOD, where="y")
    assert a == b and isinstance(a, Course)


@pytest.mark.parametrize(
    ("name", "disk_name"),
    [
        ("physics-101", "physics-101"),  # safe: kept
        ("Physics 101", safe_name("Physics 101")),
        ("物理-101", safe_name("物理-101")),
        ("한국어", safe_name("한국어")),
        ("中文课", safe_name("中文课")),
        ("a--b", safe_name("a--b")),
    ],
)
def test_a_name_in_any_script_is_kept_and_its_folder_on_the_host_is_safe(name, disk_name):
    course = parse_course(name, GOOD)
    assert course.name == name
    assert course.disk_name == disk_name
    assert "/" not in disk_name and disk_name.isascii()
    if name != "physics-101":
        assert "--" in disk_name  # hashed: never a safe name of another course or user


#: (user, groups) -> {course: read-only?} in servers whose home is /home/jovyan
FOLDERS = [
    ("ada", [], {"physics-101": False}),  # teacher by name
    ("gus", ["physics-staff"], {"physics-101": False}),  # teacher by group
    ("erin", ["physics-101"], {"physics-101": True, "lab": False}),  # student, and lab teacher
    ("ivy", ["lab"], {"lab": True}),
    ("carol", [], {"chem-200": True}),  # a student by name
    ("bob", ["chem-200"], {"chem-200": False}),  # teacher and in the students' group: writes
    ("zed", ["art"], {}),  # in no course: nothing
    ("ADA", [], {"physics-101": False}),  # usernames compared lowercased
]


@pytest.mark.parametrize(("user", "groups", "expected"), FOLDERS, ids=[f[0] for f in FOLDERS])
def test_which_folders_a_user_gets_and_whether_they_may_write(user, groups, expected):
    folders = folders_of(parse_courses(DECLARED), user, groups, "/home/jovyan")
    assert {f.course.name: f.read_only for f in folders} == expected
    for f in folders:
        assert f.target == f"/home/jovyan/courses/{f.course.name}"
        assert f.read_only == (f.role == STUDENT)
    assert [f.course.name for f in folders] == sorted(expected)  # by name


def test_folders_sit_in_the_home_wherever_it_is_mounted_and_keep_a_unicode_name():
    courses = parse_courses(
        {"物理-101": {**GOOD, "students": {"groups": ["物理"]}}, "physics-101": GOOD}
    )
    folders = folders_of(courses, "山田", ["物理"], "/home/jovyan/work/")
    assert [(f.target, f.read_only) for f in folders] == [
        ("/home/jovyan/work/courses/物理-101", True)
    ]
    assert [f.target for f in folders_of(courses, "ada", [], "/srv/home")] == [
        "/srv/home/courses/physics-101",
        "/srv/home/courses/物理-101",
    ]


def test_the_folders_options_are_documented_traits():
    for name in ("courses", "provisioner", "base_dir"):
        trait = Courses.class_traits()[name]
        assert trait.metadata.get("config") and "versionadded" in (trait.help or ""), name
        assert "Example" in trait.help, name
