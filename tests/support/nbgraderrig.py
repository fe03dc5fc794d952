"""nbgrader on a course hub (tests/integration/test_nbgrader.py and
tests/system/test_browser_nbgrader.py): the course, an assignment with its
solution, and commands run in a server with the server's own environment."""

from __future__ import annotations

import base64

import pytest
from courserig import as_server, course_hub_config, give_back, hold_members, start, until
from hubutil import ensure_user

COURSE = "stats-101"
HOME = "/home/jovyan"
STAFF = f"{HOME}/nbgrader/{COURSE}"
EXCHANGE = f"{HOME}/.jhub-kit/nbgrader/exchange/{COURSE}"
#: what only the solution (the teacher's source) holds
SOLUTION_MARK = "solution-only-3b1f"


def notebook(answer: str) -> dict:
    """An nbgrader notebook: one solution cell, one autograded test (1 point)."""

    def cell(source: str, **nbgrader) -> dict:
        return {
            "cell_type": "code",
            "execution_count": None,
            "metadata": {"nbgrader": {"schema_version": 3, "task": False, **nbgrader}},
            "outputs": [],
            "source": source,
        }

    return {
        "cells": [
            cell(answer, grade=False, grade_id="answer", locked=False, solution=True),
            cell(
                "assert add(1, 2) == 3",
                grade=True,
                grade_id="test_add",
                locked=True,
                points=1,
                solution=False,
            ),
        ],
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


SOURCE = notebook(
    f"def add(a, b):\n    ### BEGIN SOLUTION\n    return a + b  # {SOLUTION_MARK}\n"
    "    ### END SOLUTION"
)


def write_file(path: str, content: str) -> str:
    """A shell command that writes ``content`` to ``path`` (any bytes, no quoting)."""
    b64 = base64.b64encode(content.encode()).decode()
    return f"mkdir -p \"$(dirname '{path}')\" && echo {b64} | base64 -d > '{path}'"


def answer(nb_path: str, body: str) -> str:
    """A shell command that replaces the solution cell's body in a fetched notebook."""
    code = (
        "import json, sys; p = sys.argv[1]; nb = json.load(open(p)); "
        "nb['cells'][0]['source'] = sys.argv[2]; json.dump(nb, open(p, 'w'))"
    )
    b64 = base64.b64encode(body.encode()).decode()
    return f'python3 -c "{code}" {nb_path} "$(echo {b64} | base64 -d)"'


#: ``script`` in the server as its own user, with the server's environment
sh = as_server


async def run(docker_client, sp, script: str) -> str:
    code, out = await sh(docker_client, sp, script)
    assert code == 0, f"{script}\n{out}"
    return out


def config(image, mount_area, net):
    """The course folders' hub (servers on the bridge network ``net``, loopfile homes,
    a pool of one), with one nbgrader course."""
    course = {
        "teachers": {"users": ["tess"]},
        "students": {"groups": ["stats"]},
        "size_limit": "64M",
        "nbgrader": True,
    }
    c = course_hub_config(image, mount_area, {COURSE: course}, net)
    c.QuotaDockerSpawner.mem_limit = "400M"
    c.QuotaDockerSpawner.disk_limit = "64M"
    return c


@pytest.fixture
def fresh_registry():
    from jhub_kit import registry

    names = ("provisioner", "course-provisioner", "nbgrader-provisioner", "pool")
    for what in names:
        registry.forget(what)
    yield
    for what in names:
        registry.forget(what)


async def open_course(app, students: tuple[str, ...], cold: tuple[str, ...]) -> list:
    """The teacher tess and ``students`` (group stats) on the hub; once the warm pool
    has its member, tess and the users in ``cold`` start cold (the pool held back);
    their spawners, in that order. The pool's member is left for the next start."""
    ensure_user(app, "tess")
    for name in students:
        ensure_user(app, name, groups=("stats",))
    pool = app.users["tess"].spawner.warm_pool()
    await until(lambda: len(pool.ready) == 1, what="a member ready")
    hold_members(pool)
    started = [await start(app, name) for name in ("tess", *cold)]
    give_back(pool)
    assert all(sp.pool_member == "" for sp in started)
    return started
