"""Course folders (issue 38) on a real hub and engine, with the servers on a bridge
network of the test's own (each start, cold or pooled, on the bridge only and
reaching the hub through its gateway), loopfile homes and a warm pool of one: the
teacher writes in the course folder, a student sees the file and
cannot write (the engine's read-only mount: EROFS), on a cold and on a pooled start
alike; the course's loopfile holds its size limit (ENOSPC past it); a user in no
course gets nothing new; a user added to a course's group gets its folder at their
next start, after a hub restart; a named server with another profile gets the same
folders. A student's name and a course's name are Japanese.
"""

from __future__ import annotations

import os

import pytest
from conftest import remove_test_containers
from courserig import (  # noqa: F401 - course_net is a fixture
    course_hub_config,
    course_net,
    give_back,
    hold_members,
    on_the_bridge,
    sh,
    start,
    stop,
    until,
)
from hubutil import ensure_user, running_hub

from jhub_kit.names import safe_name

pytestmark = [pytest.mark.docker, pytest.mark.hub, pytest.mark.root]

M = 1024**2
COURSES = {
    "physics-101": {
        "teachers": {"users": ["tina"]},
        "students": {"groups": ["physics"]},
        "size_limit": "16M",
    },
    "物理-101": {
        "teachers": {"users": ["tina"]},
        "students": {"users": ["山田"]},
        "size_limit": "16M",
    },
}
HOME = "/home/jovyan"


async def course_mounts(docker_client, sp) -> dict[str, str]:
    """{course folder: "ro" | "rw"} as the server sees them (its mountinfo)."""
    _, out = await sh(docker_client, sp, "cat /proc/self/mountinfo")
    seen = {}
    for line in out.splitlines():
        fields = line.split()
        point = fields[4].encode().decode("unicode_escape").encode("latin-1").decode()
        if point.startswith(f"{HOME}/courses/"):
            seen[point] = "ro" if "ro" in fields[5].split(",") else "rw"
    return seen


def config(image, mount_area, net):
    return course_hub_config(image, mount_area, COURSES, net)


@pytest.fixture
def fresh_registry():
    from jhub_kit import registry

    for what in ("provisioner", "course-provisioner", "pool"):
        registry.forget(what)
    yield
    for what in ("provisioner", "course-provisioner", "pool"):
        registry.forget(what)


async def test_course_folders_cold_pooled_limited_and_after_a_restart(
    docker_client,
    test_image,
    chp,
    mount_area,
    course_net,  # noqa: F811
    fresh_registry,
    docker_debug,
    monkeypatch,
):
    # a database on disk: the restarted hub finds the users and their groups
    monkeypatch.setenv("JUPYTERHUB_TEST_DB_URL", f"sqlite:///{mount_area}/hub.sqlite")
    c = config(test_image, mount_area, course_net)
    courses_dir = mount_area / "courses"
    both = {f"{HOME}/courses/physics-101", f"{HOME}/courses/物理-101"}
    try:
        async with running_hub(c) as app:
            ensure_user(app, "tina")
            ensure_user(app, "山田", groups=("physics",))
            ensure_user(app, "zed", groups=("art",))
            pool = app.users["tina"].spawner.warm_pool()
            await until(lambda: len(pool.ready) == 1, what="a member ready")

            # the teacher, cold: both folders writable, each its own loopfile of 16M
            hold_members(pool)
            tina = await start(app, "tina")
            assert tina.pool_member == ""
            await on_the_bridge(docker_client, tina, course_net)
            assert await course_mounts(docker_client, tina) == dict.fromkeys(both, "rw")
            code, out = await sh(
                docker_client,
                tina,
                f"id -u && echo 'week 1' > {HOME}/courses/physics-101/syllabus.txt "
                f"&& echo '第1週' > {HOME}/courses/物理-101/シラバス.txt && echo ok",
            )
            assert code == 0 and out.split() == ["1000", "ok"], out
            code, out = await sh(
                docker_client,
                tina,
                f"dd if=/dev/zero of={HOME}/courses/physics-101/big bs=1M count=40 2>&1",
            )
            assert code != 0 and "No space left on device" in out, out
            code, out = await sh(docker_client, tina, f"rm {HOME}/courses/physics-101/big")
            assert code == 0, out
            # on the host: one image file per course, its folder the server's uid's
            images = sorted(os.listdir(courses_dir / ".images"))
            assert images == sorted(f"{safe_name(n)}.img" for n in ("physics-101", "物理-101")), (
                images
            )
            assert os.stat(courses_dir / ".images" / "physics-101.img").st_size == 16 * M
            assert os.stat(courses_dir / "physics-101").st_uid == 1000

            # a student in both (by group, by name), cold: reads, cannot write
            student = await start(app, "山田")
            assert student.pool_member == ""
            cold = await course_mounts(docker_client, student)
            assert cold == dict.fromkeys(both, "ro")
            await _student_reads_and_cannot_write(docker_client, student)
            await stop(app, "山田")
            give_back(pool)

            # the same student from the warm pool: the same folders, the same rights
            student = await start(app, "山田")
            assert student.pool_member, "this start should have come from the pool"
            await on_the_bridge(docker_client, student, course_net)
            assert await course_mounts(docker_client, student) == cold
            await _student_reads_and_cannot_write(docker_client, student)
            await stop(app, "山田")

            # a user in no course: nothing new, not even the folder
            hold_members(pool)
            zed = await start(app, "zed")
            assert await course_mounts(docker_client, zed) == {}
            code, out = await sh(docker_client, zed, f"ls -d {HOME}/courses")
            assert code != 0, out
            await stop(app, "zed")
            give_back(pool)

            # the teacher's named server, another profile, from the pool: the same folders
            await until(lambda: len(pool.ready) == 1, what="the pool refilled")
            lab = await start(app, "tina", "lab2", {"profile": "big"})
            assert lab.pool_member, "the named server should have come from the pool"
            assert await course_mounts(docker_client, lab) == dict.fromkeys(both, "rw")
            code, out = await sh(docker_client, lab, f"cat {HOME}/courses/物理-101/シラバス.txt")
            assert code == 0 and out.strip() == "第1週", out
            await stop(app, "tina", "lab2")
            await stop(app, "tina")
            ensure_user(app, "zed", groups=("physics",))  # joins the course's group

        # a hub restart: zed's next start has the course's folder, with its file
        registry_fresh()
        c = config(test_image, mount_area, course_net)
        async with running_hub(c, restart=True) as app:
            zed = await start(app, "zed")
            await on_the_bridge(docker_client, zed, course_net)  # the restarted hub's too
            assert await course_mounts(docker_client, zed) == {f"{HOME}/courses/physics-101": "ro"}
            code, out = await sh(docker_client, zed, f"cat {HOME}/courses/physics-101/syllabus.txt")
            assert code == 0 and out.strip() == "week 1", out
            await stop(app, "zed")
    finally:
        remove_test_containers(docker_client)


def registry_fresh() -> None:
    from jhub_kit import registry

    for what in ("provisioner", "course-provisioner", "pool"):
        registry.forget(what)


async def _student_reads_and_cannot_write(docker_client, sp) -> None:
    code, out = await sh(
        docker_client,
        sp,
        f"cat {HOME}/courses/physics-101/syllabus.txt {HOME}/courses/物理-101/シラバス.txt",
    )
    assert code == 0 and out.split() == ["week", "1", "第1週"], out
    for path in (
        f"{HOME}/courses/physics-101/syllabus.txt",
        f"{HOME}/courses/physics-101/new.txt",
        f"{HOME}/courses/物理-101/mine.txt",
    ):
        # EROFS from the kernel (EACCES would do as well): the write never happens
        code, out = await sh(
            docker_client,
            sp,
            'python3 -c "import errno, sys\n'
            "try:\n"
            f"    open('{path}', 'a').write('x')\n"
            "except OSError as e:\n"
            "    print(errno.errorcode[e.errno]); sys.exit(0)\n"
            "print('written'); sys.exit(1)\"",
        )
        assert code == 0 and out.strip() in ("EROFS", "EACCES"), (path, out)
    code, out = await sh(docker_client, sp, f"rm -f {HOME}/courses/physics-101/syllabus.txt")
    assert code != 0 and "Read-only file system" in out, out
    code, out = await sh(docker_client, sp, f"echo mine > {HOME}/notes.txt && echo ok")
    assert out.strip() == "ok", out  # the home itself stays the student's
