"""nbgrader in a course (issue 38) on a real hub and engine, on the production
layout: the servers on a bridge network of the test's own (the hub on the host,
reached through the network's gateway), the course image (nbgrader 0.9.6),
loopfile homes and a warm pool of one; one teacher and two students, every
container as uid 1000. Each server, cold or pooled, is on the bridge only and
asks the hub's API from inside.

The whole cycle, by nbgrader's own commands in the servers (``docker exec``, the
server's own user and environment): the teacher generates and releases an
assignment; ann (山田, a cold start) and ben (from the warm pool) fetch and submit it;
the teacher collects, autogrades, generates and releases feedback; each student
fetches their own. Then the attacks, from ben's server: another student's
submission and feedback, the solutions and the gradebook, by path, by the
network (the teacher's server's address on the bridge) and by nbgrader's
commands (list, fetch_feedback, submit as ann, collect, release); a submission
made of links to the teacher's files. Every attempt fails.

The course image is extended by an image that sets its own ``PYTHONPATH`` and
``JUPYTER_CONFIG_PATH`` (an ENV layer, built here): the kit's folders are put
before the image's, which stay, on a cold and on a pooled start.

One hub for all of it (about a minute of the suite).
"""

from __future__ import annotations

import io
import json
import os
import socket

import pytest
from conftest import remove_test_containers
from courserig import course_net, on_the_bridge, start  # noqa: F401 - course_net: a fixture
from hubutil import running_hub
from nbgraderrig import (  # noqa: F401 - fresh_registry is a fixture
    COURSE,
    EXCHANGE,
    HOME,
    SOLUTION_MARK,
    SOURCE,
    STAFF,
    answer,
    config,
    fresh_registry,
    open_course,
    run,
    sh,
    write_file,
)

pytestmark = [pytest.mark.docker, pytest.mark.hub, pytest.mark.root]

#: the first student, a cold start: a name in Japanese (ann in the comments)
ANN = "山田"
#: the image's own search paths (:func:`image_with_search_paths`)
IMAGE_PYTHONPATH = "/opt/course-lib"
IMAGE_CONFIG_PATH = "/opt/course-conf:/etc/course-jupyter"


@pytest.fixture
def image_with_search_paths(docker_client, course_image):
    """The course image with a ``PYTHONPATH`` and a ``JUPYTER_CONFIG_PATH`` of its own
    (one ENV layer over it: no download, a second's build)."""
    dockerfile = (
        f"FROM {course_image}\n"
        f'ENV PYTHONPATH="{IMAGE_PYTHONPATH}" JUPYTER_CONFIG_PATH="{IMAGE_CONFIG_PATH}"\n'
    )
    docker_client.images.build(
        fileobj=io.BytesIO(dockerfile.encode()), tag="jhub-kit-course-paths:test", rm=True
    )
    return "jhub-kit-course-paths:test"


async def test_nbgrader_cycle_and_attacks(
    docker_client,
    image_with_search_paths,
    chp,
    mount_area,
    course_net,  # noqa: F811
    fresh_registry,  # noqa: F811
    docker_debug,
):
    c = config(image_with_search_paths, mount_area, course_net)
    nbg_dir = mount_area / "courses-nbgrader" / COURSE
    try:
        async with running_hub(c) as app:
            tess, ann = await open_course(app, (ANN, "ben"), cold=(ANN,))
            ben = await start(app, "ben")
            assert ben.pool_member, "ben's start should have come from the warm pool"
            for sp in (tess, ann, ben):
                await on_the_bridge(docker_client, sp, course_net)
                # the server's own process has that address (a pooled one too)
                out = await run(docker_client, sp, "echo $JUPYTERHUB_API_URL")
                assert out.strip() == sp.get_env()["JUPYTERHUB_API_URL"], out
            await _the_images_search_paths_are_kept(docker_client, tess, ann, ben)

            await _the_cycle(docker_client, tess, ann, ben, nbg_dir)
            await _attacks_by_path(docker_client, ben)
            await _attacks_by_network(docker_client, tess, ben)
            await _attacks_by_commands(docker_client, tess, ben, nbg_dir)
            await _a_teacher_cannot_swap_a_students_folder(docker_client, tess, nbg_dir)
    finally:
        remove_test_containers(docker_client)


async def _the_cycle(docker_client, tess, ann, ben, nbg_dir) -> None:
    # the teacher: the staff folder is the course directory; generate and release
    await run(docker_client, tess, write_file(f"{STAFF}/source/ps1/ps1.ipynb", json.dumps(SOURCE)))
    out = await run(
        docker_client,
        tess,
        "cd ~ && nbgrader generate_assignment ps1 2>&1 && nbgrader release_assignment ps1 2>&1",
    )
    assert "Released as: stats-101 ps1" in out, out
    released = (nbg_dir / "exchange" / "outbound" / "ps1" / "ps1.ipynb").read_text()
    assert SOLUTION_MARK not in released and "add(1, 2)" in released

    # the students fetch (the released copy has no solution) and submit
    for sp, body in (
        (ann, "def add(a, b):\n    return a + b  # ann-answer-7f3a"),
        (ben, "def add(a, b):\n    return a - b  # ben-answer-c2d9"),
    ):
        out = await run(
            docker_client, sp, f"cd ~ && nbgrader fetch_assignment ps1 --course {COURSE} 2>&1"
        )
        assert "Fetched as: stats-101 ps1" in out, out
        await run(docker_client, sp, answer(f"{HOME}/ps1/ps1.ipynb", body))
        out = await run(docker_client, sp, f"cd ~ && nbgrader submit ps1 --course {COURSE} 2>&1")
        assert "Submitted as: stats-101 ps1" in out, out
    # on the host: each submission in its student's own folder, named as that student
    for user in (ANN, "ben"):
        names = os.listdir(nbg_dir / "exchange" / "inbound" / user)
        assert len(names) == 1 and names[0].startswith(f"{user}+ps1+"), names

    # the teacher collects, autogrades, makes and releases the feedback
    script = (
        "cd ~ && nbgrader collect ps1 2>&1 && nbgrader autograde ps1 2>&1 && "
        "nbgrader generate_feedback ps1 2>&1 && nbgrader release_feedback ps1 2>&1"
    )
    out = await run(docker_client, tess, script)
    assert f"Collecting submission: {ANN} ps1" in out and "Collecting submission: ben ps1" in out
    scores = await _scores(docker_client, tess)
    assert scores == {ANN: 1.0, "ben": 0.0}, scores
    for user in (ANN, "ben"):
        feedback = os.listdir(nbg_dir / "exchange" / "feedback" / user)
        assert len(feedback) == 1 and feedback[0].endswith(".html"), feedback

    # each student fetches their own feedback, and only theirs
    for sp, mine, theirs in (
        (ann, "ann-answer-7f3a", "ben-answer"),
        (ben, "ben-answer-c2d9", "ann-answer"),
    ):
        out = await run(
            docker_client, sp, f"cd ~ && nbgrader fetch_feedback ps1 --course {COURSE} 2>&1"
        )
        assert "Fetched feedback" in out, out
        html = await run(docker_client, sp, "cat ~/ps1/feedback/*/ps1.html")
        assert mine in html and theirs not in html and SOLUTION_MARK not in html


async def _the_images_search_paths_are_kept(docker_client, tess, ann, ben) -> None:
    """The kit's config folder first, the image's own folders after it (the
    container's value replaces the image's: the kit repeats them)."""
    conf = f"{HOME}/.jhub-kit/nbgrader/config"
    for sp, search in (
        (tess, conf),
        (ann, f"{conf}/student:{conf}"),
        (ben, f"{conf}/student:{conf}"),  # from the warm pool
    ):
        out = await run(docker_client, sp, 'printf "%s\\n" "$PYTHONPATH" "$JUPYTER_CONFIG_PATH"')
        assert out.splitlines()[-2:] == [
            f"{conf}:{IMAGE_PYTHONPATH}",
            f"{search}:{IMAGE_CONFIG_PATH}",
        ], out


async def _scores(docker_client, tess) -> dict[str, float]:
    code = (
        "from nbgrader.api import Gradebook; import json; "
        f"gb = Gradebook('sqlite:///{STAFF}/gradebook.db', course_id='{COURSE}'); "
        "print(json.dumps({s.student.id: s.score for s in gb.find_assignment('ps1').submissions}))"
    )
    out = await run(docker_client, tess, f'python3 -c "{code}"')
    return dict(json.loads(out.strip().splitlines()[-1]))


async def _attacks_by_path(docker_client, ben) -> None:
    """Nothing of ann, of the solutions or of the gradebook is anywhere in ben's server."""
    out = await run(
        docker_client,
        ben,
        "grep -rlI -e ann-answer-7f3a -e " + SOLUTION_MARK + " / "
        "--exclude-dir=proc --exclude-dir=sys --exclude-dir=dev 2>/dev/null; true",
    )
    assert out.strip() == "", out
    out = await run(
        docker_client,
        ben,
        # nbgrader's own package ships a sample gradebook and source folders
        "find / \\( -path /proc -o -path /sys -o -path /opt/venv \\) -prune -o "
        f"\\( -name '{ANN}+*' -o -name gradebook.db -o -path '*/source/ps1*' \\) -print "
        "2>/dev/null; true",
    )
    assert out.strip() == "", out
    # the exchange as ben sees it: his own inbound and feedback; no staff folder
    out = await run(docker_client, ben, f"ls -a {EXCHANGE}/inbound {EXCHANGE}/feedback")
    assert ANN not in out, out
    code, out = await sh(docker_client, ben, f"ls {STAFF} {HOME}/nbgrader")
    assert code != 0, out
    code, out = await sh(docker_client, ben, f"ls {EXCHANGE}/inbound/../../../../../nbgrader")
    assert code != 0, out
    # writes: the released assignment, his own feedback, and a file beside his inbound
    for path in (
        f"{EXCHANGE}/outbound/ps1/ps1.ipynb",
        f"{EXCHANGE}/outbound/ps2",
        f"{EXCHANGE}/feedback/forged.html",
    ):
        code, out = await sh(docker_client, ben, f"echo x > {path} 2>&1 || mkdir {path} 2>&1")
        assert code != 0 and "Read-only file system" in out, (path, out)
    # the mount table names no other student's folder, no staff folder
    out = await run(docker_client, ben, "cat /proc/self/mountinfo")
    assert f"/{ANN}" not in out and "/staff" not in out, out


async def _attacks_by_network(docker_client, tess, ben) -> None:
    """On the bridge, the teacher's server (the solutions, the gradebook, every
    submission) is an address away from ben's: the kit's rules refuse the
    connection, which the host (the proxy's side) makes."""
    ip, port = tess.server.ip, tess.server.port
    assert ip not in ("", "127.0.0.1", "0.0.0.0"), ip
    with socket.create_connection((ip, port), timeout=5):
        pass  # the port is open: what ben meets is the kit's rules
    code, out = await sh(
        docker_client,
        ben,
        f"python3 -c \"import socket; socket.create_connection(('{ip}', {port}), timeout=5)\" 2>&1",
    )
    assert code != 0 and ("refused" in out or "timed out" in out), out


async def _attacks_by_commands(docker_client, tess, ben, nbg_dir) -> None:
    """nbgrader's own commands, in ben's server, reach nothing of ann's or the staff's."""
    cmds = [
        f"nbgrader list --inbound --course {COURSE}",
        f"nbgrader list --inbound --course {COURSE} --student {ANN}",
        f"nbgrader list --cached --course {COURSE} --student {ANN}",
        f"nbgrader fetch_feedback ps1 --course {COURSE} --student {ANN}",
        f"nbgrader collect ps1 --course {COURSE}",
        f"nbgrader export --course {COURSE}",
        f"nbgrader db student list --course {COURSE}",
    ]
    for cmd in cmds:
        _, out = await sh(docker_client, ben, f"cd /tmp && {cmd} 2>&1")
        assert ANN not in out.replace(f"--student {ANN}", ""), (cmd, out)
        assert SOLUTION_MARK not in out
    out = await run(docker_client, ben, "cat ~/ps1/feedback/*/ps1.html")
    assert "ann-answer-7f3a" not in out
    # releasing over everyone's assignment, or feedback: refused by the mount
    for cmd in (
        f"nbgrader release_assignment ps1 --course {COURSE} --force",
        f"nbgrader release_feedback ps1 --course {COURSE}",
    ):
        code, out = await sh(
            docker_client,
            ben,
            f"mkdir -p /tmp/c/release/ps1 /tmp/c/feedback/ben/ps1 && echo x > /tmp/c/release/ps1/a "
            f"&& echo '<html/>' > /tmp/c/feedback/ben/ps1/ps1.html && echo t > "
            f"/tmp/c/feedback/ben/ps1/timestamp.txt && echo s > /tmp/c/feedback/ben/ps1/"
            f"submission_secret.txt && cd /tmp/c && {cmd} --CourseDirectory.root=/tmp/c 2>&1",
        )
        assert code != 0 and ("Read-only file system" in out or "ermission" in out), (cmd, out)
    assert os.listdir(nbg_dir / "exchange" / "outbound" / "ps1") == ["ps1.ipynb"]

    # ben submits as ann (nbgrader's --student), and hand-makes submissions of links
    # to the teacher's solutions: the teacher's collect takes none of them
    out = await run(
        docker_client,
        ben,
        f"cd ~ && nbgrader submit ps1 --course {COURSE} --student {ANN} 2>&1",
    )
    forged = "2099-01-01 00:00:00.000000 UTC"
    await run(
        docker_client,
        ben,
        f"cd {EXCHANGE}/inbound && mkdir 'ben+ps1+{forged}+a' && "
        f"ln -s {STAFF}/source/ps1/ps1.ipynb 'ben+ps1+{forged}+a/ps1.ipynb' && "
        f"echo '{forged}' > 'ben+ps1+{forged}+a/timestamp.txt' && "
        f"ln -s {STAFF}/source/ps1 'ben+ps1+2099-01-02 00:00:00.000000 UTC+b' && "
        # a FIFO: nbgrader's own copy would wait on it for ever
        "mkdir 'ben+ps1+2099-01-03 00:00:00.000000 UTC+c' && "
        "mkfifo 'ben+ps1+2099-01-03 00:00:00.000000 UTC+c/ps1.ipynb'",
    )
    out = await run(docker_client, tess, "cd ~ && timeout 60 nbgrader collect ps1 --update 2>&1")
    assert f"it says it is {ANN}'s, but it is in ben's folder" in out, out
    assert out.count("holds folders and files only") == 3, out
    submitted = await run(docker_client, tess, f"cat {STAFF}/submitted/*/ps1/ps1.ipynb")
    assert submitted.count("ann-answer-7f3a") == 1 and "ben-answer-c2d9" in submitted
    assert SOLUTION_MARK not in submitted


async def _a_teacher_cannot_swap_a_students_folder(docker_client, tess, nbg_dir) -> None:
    """The engine follows a link in a mount's source: a teacher who could replace
    ben's feedback folder by a link would give ben's next server any folder of the
    host. inbound/ and feedback/ belong to root; each student's folder to uid 1000."""
    for part in ("inbound", "feedback"):
        assert os.stat(nbg_dir / "exchange" / part).st_uid == 0
        assert os.stat(nbg_dir / "exchange" / part / "ben").st_uid == 1000
    for script in (
        f"mv {EXCHANGE}/feedback/ben {EXCHANGE}/feedback/gone",
        f"rm -rf {EXCHANGE}/feedback/ben",
        f"ln -s / {EXCHANGE}/feedback/zed",
        f"mkdir {EXCHANGE}/inbound/zed",
    ):
        code, out = await sh(docker_client, tess, f"{script} 2>&1")
        assert code != 0, (script, out)
    assert sorted(os.listdir(nbg_dir / "exchange" / "feedback")) == sorted([ANN, "ben"])
    assert os.path.isdir(nbg_dir / "exchange" / "feedback" / "ben")
