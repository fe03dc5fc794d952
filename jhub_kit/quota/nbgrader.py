"""nbgrader in a course: where each member's server sees the exchange, as data.

Every student's container runs as the same uid (1000, ``jovyan``), so nbgrader's
own separation (Unix users and a world-writable exchange, ``0733`` inbound) does
not hold; here it comes from what is mounted. Each course with ``"nbgrader":
True`` gets one folder on the host (made like the course folder, with its size
limit), laid out as::

    exchange/outbound/               released assignments
    exchange/inbound/<student>/      that student's submissions
    exchange/feedback/<student>/     that student's feedback
    staff/                           the course directory: source/, release/,
                                     submitted/, autograded/, feedback/, gradebook.db

and a member's server gets (:func:`nbgrader_mounts`), under the exchange root
``<home>/.jhub-kit/nbgrader/exchange`` (:func:`exchange_root`):

==========  ==========================  ==================================
role        in the server               from the host
==========  ==========================  ==================================
teacher     ``<root>/<course>/outbound``  ``exchange/outbound`` (rw)
teacher     ``<root>/<course>/inbound``   ``exchange/inbound`` (ro)
teacher     ``<root>/<course>/feedback``  ``exchange/feedback`` (rw)
teacher     ``<home>/nbgrader/<course>``  ``staff`` (rw)
student     ``<root>/<course>/outbound``  ``exchange/outbound`` (ro)
student     ``<root>/<course>/inbound``   ``exchange/inbound/<student>`` (rw)
student     ``<root>/<course>/feedback``  ``exchange/feedback/<student>`` (ro)
==========  ==========================  ==================================

A student's server holds nothing of another student and nothing of the staff
folder (the solutions, the gradebook): no path, no command reaches what is not
mounted. The stock nbgrader classes serve the students unchanged; the teachers'
collect, release_feedback and list know the per-student folders
(``jhub_kit/provision/nbgrader_image/jhub_kit_nbgrader.py``, mounted read-only into
every course member's server at :func:`config_dir` with the ``nbgrader_config.py``
that reads :func:`nbgrader_env`).

Pure: nothing here touches a file.
"""

from __future__ import annotations

import json
import posixpath
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from .courses import STUDENT, TEACHER, Course

#: the kit's nbgrader files in a member's home (the exchange root, the config)
KIT_DIR = ".jhub-kit/nbgrader"
#: where a teacher's server gets each course's staff folder: ``<home>/nbgrader/<course>``
STAFF_FOLDER = "nbgrader"
#: the course folder's parts on the host
EXCHANGE = "exchange"
STAFF = "staff"
OUTBOUND = "outbound"
INBOUND = "inbound"
FEEDBACK = "feedback"
#: an ext4 name's limit, in bytes (a student's folder is named by their username)
NAME_BYTES = 255

#: the environment's names (read by ``nbgrader_image/nbgrader_config.py``)
ENV_EXCHANGE = "JHUB_KIT_NBGRADER_EXCHANGE"
ENV_TEACHES = "JHUB_KIT_NBGRADER_TEACHES"
ENV_STUDENT = "JHUB_KIT_NBGRADER_STUDENT"
#: the config folder (in :func:`config_dir`) that a student's server reads first
STUDENT_CONFIG = "student"


def exchange_root(home: str) -> str:
    """nbgrader's ``Exchange.root`` in a member's server."""
    return posixpath.join(home, KIT_DIR, "exchange")


def config_dir(home: str) -> str:
    """Where a member's server gets the kit's ``nbgrader_config.py`` and exchange
    classes (read-only; on ``JUPYTER_CONFIG_PATH`` and ``PYTHONPATH``)."""
    return posixpath.join(home, KIT_DIR, "config")


def staff_target(home: str, course: Course) -> str:
    """A teacher's course directory (nbgrader's ``CourseDirectory.root``)."""
    return posixpath.join(home, STAFF_FOLDER, course.name)


def _bad_name(name: str) -> str:
    if name in ("", ".", "..") or name != name.strip():
        return "empty, '.', '..' or spaces at its ends"
    if name.startswith("."):
        # nbgrader's listings glob '*', which leaves out hidden names: never collected
        return "a name starting with '.' is hidden from nbgrader's listings"
    if any(ch in name for ch in "/+*?[]") or any(
        unicodedata.category(ch) in ("Cc", "Cf", "Cs") for ch in name
    ):
        return "'/', '+', '*', '?', '[', ']' and control characters are not allowed"
    if len(name.encode()) > NAME_BYTES:
        return f"longer than {NAME_BYTES} bytes"
    return ""


def student_refusal(user: str) -> str:
    """Why ``user`` cannot be an nbgrader student id and name their exchange
    folders ("" when they can). nbgrader splits a submission's name on ``+``
    (``ann+ps1+<time>+<random>``) and globs ``*``; ``..`` would name the whole
    inbound folder."""
    why = _bad_name(user)
    return f"the username {user!r} cannot be an nbgrader student id ({why})" if why else ""


def course_refusal(course: Course) -> str:
    """Why ``course``'s name cannot be its nbgrader course id ("" when it can)."""
    why = _bad_name(course.name)
    return f"the course name {course.name!r} cannot be an nbgrader course id ({why})" if why else ""


@dataclass(frozen=True)
class ExchangeMount:
    """One nbgrader mount of a member's server: ``rel`` of the course's nbgrader
    folder on the host at ``target``."""

    target: str
    rel: str
    read_only: bool


def nbgrader_mounts(course: Course, role: str, user: str, home: str) -> list[ExchangeMount]:
    """The mounts ``user`` (``role`` in ``course``) gets for its nbgrader exchange;
    a refused username or course name gets none (:func:`student_refusal`)."""
    if student_refusal(user) or course_refusal(course):
        return []
    at = posixpath.join(exchange_root(home), course.name)
    if role == TEACHER:
        return [
            ExchangeMount(posixpath.join(at, OUTBOUND), f"{EXCHANGE}/{OUTBOUND}", False),
            ExchangeMount(posixpath.join(at, INBOUND), f"{EXCHANGE}/{INBOUND}", True),
            ExchangeMount(posixpath.join(at, FEEDBACK), f"{EXCHANGE}/{FEEDBACK}", False),
            ExchangeMount(staff_target(home, course), STAFF, False),
        ]
    if role == STUDENT:
        return [
            ExchangeMount(posixpath.join(at, OUTBOUND), f"{EXCHANGE}/{OUTBOUND}", True),
            ExchangeMount(posixpath.join(at, INBOUND), f"{EXCHANGE}/{INBOUND}/{user}", False),
            ExchangeMount(posixpath.join(at, FEEDBACK), f"{EXCHANGE}/{FEEDBACK}/{user}", True),
        ]
    raise ValueError(f"unknown role {role!r}")


#: folders on the host that belong to root (0755): the teachers write inside each
#: student's folder but cannot rename, remove or replace one (by a link the engine
#: would follow when it mounts a student's folder)
ROOT_OWNED = frozenset({EXCHANGE, f"{EXCHANGE}/{INBOUND}", f"{EXCHANGE}/{FEEDBACK}"})


def host_folders(students: Iterable[str]) -> list[str]:
    """The folders of a course's nbgrader folder on the host, relative to it,
    parents first: the exchange, the staff folder, each student's own two (those
    in :data:`ROOT_OWNED` belong to root, the others to the servers' uid)."""
    out = [EXCHANGE, f"{EXCHANGE}/{OUTBOUND}", f"{EXCHANGE}/{INBOUND}", f"{EXCHANGE}/{FEEDBACK}"]
    out.append(STAFF)
    for user in sorted(set(students)):
        if not student_refusal(user):
            out += [f"{EXCHANGE}/{INBOUND}/{user}", f"{EXCHANGE}/{FEEDBACK}/{user}"]
    return out


def nbgrader_env(user: str, home: str, roles: Iterable[tuple[Course, str]]) -> dict[str, str]:
    """The environment a course member's server gets for nbgrader (none for a user
    in no nbgrader course): its config on ``JUPYTER_CONFIG_PATH`` (for a user who
    teaches none, :data:`STUDENT_CONFIG` first), the exchange
    classes on ``PYTHONPATH``, the exchange root, the courses taught (course id and
    course directory) and, for a user who teaches none, the student id."""
    taught = []
    member = False
    for course, role in roles:
        if not course.nbgrader or course_refusal(course):
            continue
        member = True
        if role == TEACHER:
            taught.append({"course_id": course.name, "root": staff_target(home, course)})
    if not member:
        return {}
    conf = config_dir(home)
    # a student's server leaves out the teachers' parts of nbgrader (the formgrader,
    # the course list, the create-assignment toolbar): ``student/`` turns them off
    search = conf if taught else f"{conf}/{STUDENT_CONFIG}:{conf}"
    env = {
        "JUPYTER_CONFIG_PATH": search,
        "PYTHONPATH": conf,
        ENV_EXCHANGE: exchange_root(home),
        ENV_TEACHES: json.dumps(taught, ensure_ascii=False),
    }
    if not taught and not student_refusal(user):
        env[ENV_STUDENT] = user
    return env
