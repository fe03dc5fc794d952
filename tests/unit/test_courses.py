"""The course declaration (jhub_kit.quota.courses): parsing, and who is in which course."""

from __future__ import annotations

import pytest
from traitlets import TraitError
from traitlets.config import Config

from jhub_kit.quota.courses import (
    STUDENT,
    TEACHER,
    Course,
    Courses,
    Members,
    courses_of,
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
        ("Physics", GOOD, "course name 'Physics' is not safe in paths.*e.g. 'physics--"),
        ("../etc", GOOD, "course name '../etc' is not safe in paths"),
        ("a--b", GOOD, "not safe in paths"),
        ("x" * 64, GOOD, "at most 63 characters"),
        ("", GOOD, r"course name '' is not safe in paths: use"),
        (3, GOOD, "course name 3 is not safe"),
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
    bad.Courses.courses = {"Physics": GOOD}
    with pytest.raises(TraitError, match=r"c.Courses.courses: course name 'Physics'"):
        Courses(config=bad)
    assert Courses().declared() == {}


def test_course_equality_ignores_where_it_was_declared():
    a = parse_course("p", GOOD, where="x")
    b = parse_course("p", GOOD, where="y")
    assert a == b and isinstance(a, Course)
