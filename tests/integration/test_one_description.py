"""One description, every start path: the cold start is the oracle.

For each configuration, on the real engine with a real hub and a warm pool of
one: the same user is started cold (the pool's member held back), then again
with the member there. Either the pooled server is the same server as
``docker inspect`` and the server itself see it (image, limits, security
options, extra hosts, user, labels, working directory, network, the mounts the
server sees and whether each is read-only, the names of its environment
variables, the uid it runs as), or the pooled attempt is declined in words and
the start is made cold. Files written in the home and in every writable volume
are there at the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from dataclasses import dataclass, field
from typing import Any

import docker.errors
import pytest
from conftest import TEST_PREFIX, remove_test_containers
from hubutil import ensure_user, in_client_thread, kit_config, own_network, running_hub
from jupyterhub.tests.utils import auth_header, public_url
from jupyterhub.utils import url_path_join

from jhub_kit.quota.docker_limits import INSPECT_FIELDS

pytestmark = [pytest.mark.docker, pytest.mark.hub, pytest.mark.root]

NET = f"{TEST_PREFIX}-onenet"
#: mounts every container has, or the pool's own: not the server's description
SYSTEM_MOUNTS = ("/proc", "/sys", "/dev", "/etc/hostname", "/etc/hosts", "/etc/resolv.conf")
#: (the kit's notices: in every member, in a cold server only while its home is full;
#: its JupyterLab extension: in every member, in a cold server with lab_notices)
KIT_MOUNTS = (
    "/run/jhub-kit-pool",
    "/opt/jhub-kit/launcher.py",
    "/opt/jhub-kit/notices",
    "/opt/jhub-kit/jupyter",
)


@dataclass
class Case:
    spawner: dict[str, Any] = field(default_factory=dict)
    user: str = "una"
    server: str = ""  # a named server
    options: dict[str, Any] = field(default_factory=dict)
    pooled: bool = True  # else: declined, with these words in the log
    declined_for: str = ""
    writable: tuple[str, ...] = ("/home/jovyan",)  # where files must persist
    read_only: tuple[str, ...] = ()
    bridge: bool = False
    hook: Any = None
    extra: Any = None  # more config
    server_app: str = "extension"
    members: int = 1  # ready before the starts (a profile's kind adds its own)
    kernelspecs: tuple[str, ...] = ()  # the server lists these (and is asked which it lists)
    lab_extensions: tuple[str, ...] = ()  # JupyterLab's page loads these (and is asked)


def _hook_extra_hosts_for_teacher(spawner):
    if spawner.user.name == "teacher":
        spawner.extra_host_config = {"extra_hosts": {"exam-server": "10.99.0.5"}}


CASES = {
    # 1. DockerSpawner's most common setting, no kit home: the volume is the work
    "volumes-no-home": Case(
        spawner={
            "volumes": {f"{TEST_PREFIX}-one-{{username}}": "/home/jovyan/work"},
            "image": "STACKS_IMAGE",
        },
        writable=("/home/jovyan/work",),
    ),
    # 2. another image, asked for in user_options
    "allowed-images": Case(
        spawner={"allowed_images": {"default": "TEST_IMAGE", "other": "OTHER_IMAGE"}},
        options={"image": "other"},
        pooled=False,
        declined_for="another image",
    ),
    # 3. one user's setting from a hook
    "hook-extra-hosts": Case(
        hook=_hook_extra_hosts_for_teacher,
        user="teacher",
        pooled=False,
        declined_for="extra_hosts",
    ),
    # named servers, volumes templated with the user and the server
    "named-server": Case(
        spawner={
            "home_provisioner": "directory",
            "volumes": {f"{TEST_PREFIX}-one-{{username}}-{{servername}}": "/home/jovyan/work"},
            "name_template": "{prefix}-{username}-{servername}",
        },
        server="lab2",
        writable=("/home/jovyan", "/home/jovyan/work"),
        extra=lambda c: setattr(c.JupyterHub, "allow_named_servers", True),
    ),
    # a kit home, a named volume inside it, a read-only course folder (issue 29)
    "loopfile-volume-course": Case(
        spawner={
            "home_provisioner": "loopfile",
            "disk_limit": "60M",
            "volumes": {
                f"{TEST_PREFIX}-one-{{username}}-data": "/home/jovyan/work",
                "COURSE": {"bind": "/home/jovyan/course", "mode": "ro"},
            },
        },
        writable=("/home/jovyan", "/home/jovyan/work"),
        read_only=("/home/jovyan/course",),
    ),
    "read-only-bind-outside-home": Case(
        spawner={
            "home_provisioner": "directory",
            "volumes": {"COURSE": {"bind": "/srv/course", "mode": "ro"}},
        },
        read_only=("/srv/course",),
    ),
    "extra-create-kwargs": Case(
        spawner={
            "extra_create_kwargs": {"labels": {"course": "intro"}, "working_dir": "/tmp"},
            "environment": {"COURSE": "intro"},
        },
        writable=(),
    ),
    "remove-false": Case(
        spawner={"remove": False},
        pooled=False,
        declined_for="Warm pool off: the servers cannot be pooled: remove = False",
        writable=(),
    ),
    "post-start-cmd": Case(
        spawner={"home_provisioner": "directory", "post_start_cmd": "touch /tmp/post-started"},
    ),
    "singleuser-app": Case(
        spawner={"environment": {"JUPYTERHUB_SINGLEUSER_EXTENSION": "0"}},
        writable=(),
        server_app="subclass app",
    ),
    "bridge-port-bindings": Case(
        spawner={"network_name": NET, "use_internal_ip": False, "home_provisioner": "directory"},
        bridge=True,
    ),
    # a profile that changes only limits and a trait the pool key ignores: pooled,
    # the same server as its cold start (limits handed over, override applied)
    "profile-limits": Case(
        spawner={
            "home_provisioner": "directory",
            "profile_list": [
                {"display_name": "Small", "slug": "small", "default": True, "mem_limit": "300M"},
                {
                    "display_name": "Big",
                    "slug": "big",
                    "mem_limit": "450M",
                    "cpu_limit": 1,
                    "pids_limit": 300,
                },
            ],
        },
        options={"profile": "big"},
    ),
    # a profile with its own image: the pool's members run another, so it steps aside
    "profile-image": Case(
        spawner={
            "home_provisioner": "directory",
            "profile_list": [
                {"display_name": "Default", "default": True},
                {"display_name": "Other", "slug": "other", "image": "OTHER_IMAGE"},
            ],
        },
        options={"profile": "other"},
        pooled=False,
        declined_for="another image",
    ),
    # ... unless the profile has members of its own (issue 27): then it is pooled
    "profile-image-pooled": Case(
        spawner={
            "home_provisioner": "directory",
            "profile_list": [
                {"display_name": "Default", "default": True},
                {
                    "display_name": "Other",
                    "slug": "other",
                    "image": "OTHER_IMAGE",
                    "mem_limit": "350M",
                    "pool_size": 1,
                    "spawner_override": {"environment": {"COURSE_PROFILE": "other"}},
                },
            ],
        },
        options={"profile": "other"},
        members=2,
    ),
    # the student's notices in JupyterLab (issue 39): the kit's extension, a folder
    # every member has, found through JUPYTER_PATH (handed over with the identity)
    # before the spawner's own value, on both paths
    "lab-notices": Case(
        spawner={
            "home_provisioner": "directory",
            "lab_notices": True,
            "environment": {"JUPYTER_PATH": "/opt/site-jupyter"},
        },
        lab_extensions=("jhub-kit-notices",),
    ),
    # the student's ~/.local (here a read-only folder mounted there) holds a package
    # with an entry point and a kernel that needs it (an image whose Python reads the
    # user site, as the Docker Stacks' conda does): the server process itself finds
    # the entry point (importlib.metadata.entry_points, at the request) and lists the
    # kernel, right after the hand-over as after a cold start; and JupyterLab's
    # extension manager is the one the class asks for, on both paths
    "entry-point-in-user-site": Case(
        spawner={
            "home_provisioner": "directory",
            "volumes": {"USER_LOCAL": {"bind": "/home/jovyan/.local", "mode": "ro"}},
            "lab_extension_manager": "readonly",
            "image": "USER_SITE_IMAGE",
        },
        kernelspecs=("kit-course",),
    ),
}

#: the entry point of the package in the student's ~/.local, and the kernel naming it
PROVISIONER = "kit-course-provisioner"
KERNEL = {
    "argv": ["python3", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
    "display_name": "Course kernel",
    "language": "python",
    "metadata": {"kernel_provisioner": {"provisioner_name": PROVISIONER}},
}


async def until(check, timeout: float = 180, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)


async def _api(app, method: str, path: str, body: Any = None):
    import requests

    url = url_path_join(public_url(app), "hub/api", path)
    headers = {**auth_header(app.db, "admin"), "Sec-Fetch-Mode": "cors"}
    return await in_client_thread(
        requests.request, method, url, headers=headers, json=body, timeout=300
    )


async def start(app, case: Case) -> Any:
    path = (
        f"users/{case.user}/servers/{case.server}" if case.server else f"users/{case.user}/server"
    )
    r = await _api(app, "POST", path, case.options or None)
    assert r.status_code in (201, 202), r.text
    sp = app.users[case.user].spawners[case.server]
    await until(lambda: not sp.pending, what="the start")
    assert sp.ready, f"{case.user}'s server did not start: {sp._spawn_future.exception()!r}"
    return sp


async def stop(app, case: Case) -> None:
    path = (
        f"users/{case.user}/servers/{case.server}" if case.server else f"users/{case.user}/server"
    )
    r = await _api(app, "DELETE", path)
    assert r.status_code in (202, 204), r.text
    sp = app.users[case.user].spawners[case.server]
    await until(lambda: not sp.pending and not sp.ready, 60, "the stop")


async def run_in(docker_client, cid: str, script: str, user: str = "") -> str:
    c = docker_client.containers.get(cid)
    r = await in_client_thread(c.exec_run, ["sh", "-c", script], user=user)
    return r.output.decode("utf-8", "replace")


async def kernelspec_names(app, sp) -> list[str]:
    """The kernels the server lists: jupyter_client drops a kernel whose provisioner
    is no entry point the server's process finds (``importlib.metadata``)."""
    import requests

    token = sp.user.new_api_token()
    url = url_path_join(public_url(app, sp.user), sp.name, "api/kernelspecs")
    r = await in_client_thread(
        requests.get, url, headers={"Authorization": f"token {token}"}, timeout=60
    )
    assert r.status_code == 200, r.text
    return sorted(r.json()["kernelspecs"])


async def lab_extension_names(app, sp) -> list[str]:
    """The extensions JupyterLab's page hands its loader (``federated_extensions`` of
    the page config, what the browser loads)."""
    import re

    import requests

    token = sp.user.new_api_token()
    url = url_path_join(public_url(app, sp.user), sp.name, "lab")
    r = await in_client_thread(
        requests.get, url, headers={"Authorization": f"token {token}"}, timeout=60
    )
    assert r.status_code == 200, r.text[:500]
    found = re.search(r'id="jupyter-config-data"[^>]*>(.*?)</script>', r.text, re.S)
    assert found, r.text[:500]
    return sorted(e["name"] for e in json.loads(found.group(1))["federated_extensions"])


async def kernel_env_names(app, sp, docker_client) -> list[str]:
    """The environment a notebook kernel gets from the server (what the student sees)."""
    import requests

    token = sp.user.new_api_token()
    base = url_path_join(public_url(app, sp.user), sp.name)
    s = requests.Session()
    s.headers["Authorization"] = f"token {token}"
    # the legacy server app (JUPYTERHUB_SINGLEUSER_EXTENSION=0) wants an XSRF token too
    await in_client_thread(s.get, url_path_join(base, "lab"), timeout=60)  # sets _xsrf
    xsrf = s.cookies.get("_xsrf")
    if xsrf:
        s.headers["X-XSRFToken"] = xsrf
    r = await in_client_thread(s.post, url_path_join(base, "api/kernels"), json={}, timeout=60)
    assert r.status_code == 201, r.text
    script = (
        "for p in /proc/[0-9]*; do grep -q ipykernel $p/cmdline 2>/dev/null && "
        "tr '\\0' '\\n' < $p/environ && exit 0; done; exit 1"
    )
    for _ in range(100):
        out = await run_in(docker_client, sp.object_id, script)
        if "=" in out:
            return sorted({line.split("=", 1)[0] for line in out.splitlines() if "=" in line})
        await asyncio.sleep(0.2)
    raise AssertionError("no kernel process found")


def visible_mounts(mountinfo: str) -> dict[str, str]:
    """{mount point: "ro" | "rw"} of what the server sees (the last mount at a point)."""
    seen: dict[str, str] = {}
    for line in mountinfo.splitlines():
        fields = line.split()
        if len(fields) < 6:
            continue
        point, options = fields[4], fields[5].split(",")
        if point == "/" or point.startswith(SYSTEM_MOUNTS) or point in KIT_MOUNTS:
            continue
        seen[point] = "ro" if "ro" in options else "rw"
    return seen


def _limit(value: Any) -> Any:
    return 0 if value in (None, -1) else value  # unlimited, whichever way it is said


async def observe(app, sp, docker_client, case: Case) -> dict[str, Any]:
    info = docker_client.api.inspect_container(sp.object_id)
    hc, cfg = info["HostConfig"], info["Config"]
    mountinfo = await run_in(docker_client, sp.object_id, "cat /proc/self/mountinfo")
    logs = docker_client.api.logs(sp.object_id).decode(errors="replace")
    return {
        "image": cfg["Image"],
        "limits": {f: _limit(hc.get(f)) for f in INSPECT_FIELDS},
        "security_opt": hc.get("SecurityOpt"),
        "cap_add": sorted(hc.get("CapAdd") or []),
        "cap_drop": sorted(hc.get("CapDrop") or []),
        "extra_hosts": sorted(hc.get("ExtraHosts") or []),
        "user": cfg.get("User"),
        "labels": {
            k: v for k, v in (cfg.get("Labels") or {}).items() if not k.startswith("io.jhub-kit.")
        },
        "working_dir": cfg.get("WorkingDir"),
        "network_mode": hc.get("NetworkMode"),
        "port_bindings": {
            k: [b["HostIp"] for b in v] for k, v in (hc.get("PortBindings") or {}).items()
        },
        "mounts": visible_mounts(mountinfo),
        "env": await kernel_env_names(app, sp, docker_client),
        "uid": (await run_in(docker_client, sp.object_id, "id -u")).strip(),
        "server app": _server_app(logs),
        "lab extension manager": _extension_manager(logs),
        "kernelspecs": await kernelspec_names(app, sp) if case.kernelspecs else None,
        "lab extensions": await lab_extension_names(app, sp) if case.lab_extensions else None,
    }


def _server_app(logs: str) -> str:
    """Which of jupyterhub-singleuser's two servers runs (its start line says)."""
    if "single-user server extension version" in logs:
        return "extension"
    if "single-user server version" in logs or "jupyterhub-singleuser server version" in logs:
        return "subclass app"
    return "unknown"


def _extension_manager(logs: str) -> str:
    """JupyterLab's extension manager, as its start line names it."""
    import re

    found = re.findall(r"Extension Manager is '([^']*)'", logs)
    return found[-1] if found else "none"


async def _no_member(key: str) -> None:
    return None


def hold_members(pool) -> None:
    """The pool gives no member (it keeps them) until :func:`give_back`: a cold start."""
    pool.take = _no_member


def give_back(pool) -> None:
    del pool.take


@pytest.fixture(scope="module")
def stacks_image(docker_client, test_image):
    """The test image with the Jupyter Docker Stacks' ~/work (owned by jovyan), which
    the engine copies into a new named volume mounted there."""
    import io

    tag = f"{TEST_PREFIX}-stacks:latest"
    dockerfile = (
        f"FROM {test_image}\nUSER root\n"
        "RUN mkdir /home/jovyan/work && chown 1000:100 /home/jovyan/work\nUSER 1000\n"
    )
    docker_client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True)
    yield tag
    docker_client.images.remove(tag, force=True)


@pytest.fixture(scope="module")
def user_site_image(docker_client, test_image):
    """The test image with a Python that reads ``~/.local`` (its venv made to include
    the system's site-packages, which also enables the user site)."""
    import io

    tag = f"{TEST_PREFIX}-usersite:latest"
    dockerfile = (
        f"FROM {test_image}\nUSER root\n"
        "RUN sed -i 's/^include-system-site-packages = false/include-system-site-packages"
        " = true/' /opt/venv/pyvenv.cfg\n"
        "USER 1000\n"
    )
    docker_client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True)
    yield tag
    docker_client.images.remove(tag, force=True)


@pytest.fixture
def course(tmp_path):
    d = tmp_path / "course"
    d.mkdir()
    (d / "syllabus.txt").write_text("week 1\n")
    os.chmod(tmp_path, 0o755)
    return d


@pytest.fixture
def user_local(tmp_path, docker_client, test_image):
    """A ~/.local as ``pip install --user`` leaves it: a package (its dist-info, with
    an entry point for jupyter_client's provisioners) and a kernel that uses it."""
    d = tmp_path / "user-local"
    where = (
        "import sysconfig; "
        "print(sysconfig.get_path('purelib', 'posix_user', vars={'userbase': ''}))"
    )
    relative = docker_client.containers.run(
        test_image, ["python3", "-c", where], entrypoint=[], remove=True
    )
    site_dir = d / relative.decode().strip().lstrip("/")  # lib/python3.X/site-packages
    dist = site_dir / "kit_course_tools-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: kit-course-tools\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        f"[jupyter_client.kernel_provisioners]\n"
        f"{PROVISIONER} = jupyter_client.provisioning:LocalProvisioner\n"
    )
    kernel = d / "share" / "jupyter" / "kernels" / "kit-course"
    kernel.mkdir(parents=True)
    (kernel / "kernel.json").write_text(json.dumps(KERNEL))
    for path in [d, *d.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    os.chmod(tmp_path, 0o755)
    return d


@pytest.fixture
def bridge(name, docker_client):
    """The case's own bridge network, if it runs on one (made and removed outside the
    test's event loop: removing it also removes the kit's rules for it)."""
    if not CASES[name].bridge:
        yield None
        return
    with own_network(docker_client, NET) as net:
        yield net


@pytest.mark.parametrize("name", list(CASES))
async def test_cold_and_pooled_are_one_server(
    name,
    docker_client,
    test_image,
    stacks_image,
    user_site_image,
    chp,
    mount_area,
    course,
    user_local,
    bridge,
    caplog,
    docker_debug,
):
    case = CASES[name]
    settings = json.loads(
        json.dumps(case.spawner)
        .replace("TEST_IMAGE", test_image)
        .replace("OTHER_IMAGE", f"{TEST_PREFIX}-other:latest")
        .replace("COURSE", str(course))
        .replace("USER_LOCAL", str(user_local))
        .replace("STACKS_IMAGE", stacks_image)
        .replace("USER_SITE_IMAGE", user_site_image)
    )
    if name in ("allowed-images", "profile-image", "profile-image-pooled"):
        docker_client.images.get(test_image).tag(f"{TEST_PREFIX}-other", "latest")
    image = settings.pop("image", test_image)
    c = kit_config(image, pool_size=1, mem_limit="300M", pids_limit=400, **settings)
    c.QuotaDockerSpawner.pool_dir = str(mount_area / "pool")
    c.HomeProvisioner.base_dir = str(mount_area / "homes")
    if case.hook:
        c.QuotaDockerSpawner.pre_spawn_hook = case.hook
    if case.extra:
        case.extra(c)
    if case.bridge:
        c.JupyterHub.hub_ip = "0.0.0.0"
    try:
        async with running_hub(c) as app:
            await _run(app, case, docker_client, course, caplog)
    finally:
        remove_test_containers(docker_client)
        for v in docker_client.volumes.list(filters={"name": f"{TEST_PREFIX}-one-"}):
            v.remove(force=True)


async def _run(app, case: Case, docker_client, course, caplog) -> None:
    ensure_user(app, case.user)
    ensure_user(app, "student")
    sp0 = app.users[case.user].spawner  # a named one exists once the API makes it
    pool = sp0.warm_pool()
    pool_off = case.declined_for.startswith("Warm pool off")
    if not pool_off:
        await until(lambda: len(pool.ready) == case.members, what="the members ready")

    # the oracle: a cold start
    hold_members(pool)
    sp = await start(app, case)
    assert sp.pool_member == ""
    cold = await observe(app, sp, docker_client, case)
    assert cold["server app"] == case.server_app, cold
    assert set(case.kernelspecs) <= set(cold["kernelspecs"] or ()), cold["kernelspecs"]
    assert set(case.lab_extensions) <= set(cold["lab extensions"] or ()), cold
    manager = case.spawner.get("lab_extension_manager", "pypi")  # else JupyterLab's default
    assert cold["lab extension manager"] == manager, cold
    for i, where in enumerate(case.writable):
        out = await run_in(
            docker_client, sp.object_id, f"echo cold > {where}/from-cold-{i} && echo ok"
        )
        assert out.strip() == "ok", (where, out)
    for where in case.read_only:
        out = await run_in(docker_client, sp.object_id, f"touch {where}/x 2>&1; ls {where}")
        assert "Read-only file system" in out and "syllabus.txt" in out, out
    await stop(app, case)
    give_back(pool)

    # the same user with a member ready
    if not pool_off:
        caplog.clear()
    sp = await start(app, case)
    if not case.pooled:
        assert sp.pool_member == "", "a start the pool cannot serve was given a member"
        said = " ".join(
            r.getMessage()
            for r in caplog.records
            if "starting cold" in r.getMessage() or "Warm pool off" in r.getMessage()
        )
        assert case.declined_for in said or (pool_off and pool.kind is None), said
        again = await observe(app, sp, docker_client, case)
        assert again == cold
        if case.user == "teacher":  # the next student's pooled server has none of it
            await stop(app, case)
            student = Case(user="student")
            sp2 = await start(app, student)
            assert sp2.pool_member, "the student's start should come from the pool"
            info = docker_client.api.inspect_container(sp2.object_id)
            assert not info["HostConfig"].get("ExtraHosts"), info["HostConfig"]["ExtraHosts"]
            await stop(app, student)
        return
    assert sp.pool_member, "this start should have come from the pool"
    pooled = await observe(app, sp, docker_client, case)
    assert pooled == cold
    for i, where in enumerate(case.writable):
        out = await run_in(docker_client, sp.object_id, f"cat {where}/from-cold-{i}")
        assert out.strip() == "cold", (where, out)
        out = await run_in(
            docker_client, sp.object_id, f"echo pooled > {where}/from-pool-{i} && echo ok"
        )
        assert out.strip() == "ok", (where, out)
    if case.spawner.get("post_start_cmd"):
        assert "post-started" in await run_in(docker_client, sp.object_id, "ls /tmp")
    await stop(app, case)

    # and the next start (cold: the pool waits for a quiet moment) finds the files
    hold_members(pool)
    sp = await start(app, case)
    for i, where in enumerate(case.writable):
        out = await run_in(docker_client, sp.object_id, f"cat {where}/from-pool-{i}")
        assert out.strip() == "pooled", (where, out)
    await stop(app, case)
    give_back(pool)


async def test_a_first_start_with_a_new_named_volume_is_pooled_and_equal_to_a_cold_one(
    docker_client, stacks_image, chp, mount_area, docker_debug
):
    """jupyterhub-deploy-docker's setting (a named volume per user, no kit home) on a
    user's very first start: the pool makes the volume as the engine makes it for the
    cold start's container (the image's ~/work with its owner copied in), so a first
    login is pooled too; the same first start done cold is the oracle."""
    case = Case(
        spawner={"volumes": {f"{TEST_PREFIX}-one-{{username}}": "/home/jovyan/work"}},
        writable=("/home/jovyan/work",),
    )
    c = kit_config(stacks_image, pool_size=1, mem_limit="300M", pids_limit=400, **case.spawner)
    c.QuotaDockerSpawner.pool_dir = str(mount_area / "pool")
    volume = f"{TEST_PREFIX}-one-{case.user}"

    async def first_start(pooled: bool) -> tuple[dict[str, Any], str]:
        assert not docker_client.volumes.list(filters={"name": volume}), "not a first start"
        if not pooled:
            hold_members(pool)
        sp = await start(app, case)
        assert bool(sp.pool_member) == pooled, sp.pool_member
        seen = await observe(app, sp, docker_client, case)
        work = await run_in(
            docker_client, sp.object_id, "stat -c '%U:%G %a' /home/jovyan/work; ls -A ~/work"
        )
        out = await run_in(docker_client, sp.object_id, "echo x > ~/work/f && echo ok")
        assert out.strip() == "ok", out
        container = sp.object_id
        await stop(app, case)
        if not pooled:
            give_back(pool)
        with contextlib.suppress(docker.errors.NotFound):  # the volume's last user
            docker_client.api.remove_container(container, force=True)
        docker_client.volumes.get(volume).remove(force=True)
        return seen, work

    try:
        async with running_hub(c) as app:
            ensure_user(app, case.user)
            pool = app.users[case.user].spawner.warm_pool()
            await until(lambda: len(pool.ready) == 1, what="a member ready")
            cold, cold_work = await first_start(pooled=False)
            await until(lambda: len(pool.ready) == 1, what="a member ready")
            pooled, pooled_work = await first_start(pooled=True)
            assert pooled == cold
            assert pooled_work == cold_work and cold_work.startswith("jovyan:users"), cold_work
    finally:
        remove_test_containers(docker_client)
        for v in docker_client.volumes.list(filters={"name": f"{TEST_PREFIX}-one-"}):
            v.remove(force=True)
