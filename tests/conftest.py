"""Shared fixtures. Pure tests need none of this; markers keep them service-free.

The suite comes in tiers, one folder each, and every test is marked with its tier:

- ``tests/unit`` (marker ``unit``): no service, no root; the whole tier in under two
  minutes (``pytest tests/unit``);
- ``tests/integration`` (``integration``): a real Docker engine, JupyterHub and
  configurable-http-proxy, loop devices and mounts, and the repository's own checks
  (lint, docs, the release build);
- ``tests/system`` (``system``): a qemu guest (``vm``), a swarm of engines
  (``swarm``), Compose with nginx (``compose``), Chromium (``browser``), the version
  matrix (``matrix``) and DockerSpawner's own tests (``conformance``).

What a test needs is marked too: ``docker`` (real engine + test image), ``hub``
(real JupyterHub and configurable-http-proxy), ``root`` (loop devices, mounts).
The harness the tests share is in ``tests/support`` (on ``sys.path`` through
pyproject.toml's ``pythonpath``). Pure tests run first.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

#: the browser tests' fixtures (tests/support/browserrig.py), found by name
pytest_plugins = ["browserrig"]

# Set by scripts/test.sh: a missing service is then a failure, never a skip.
REQUIRE_SERVICES = os.environ.get("JHUB_KIT_REQUIRE_SERVICES") == "1"
#: names of the suite's containers, networks, volumes; another run beside this one
#: (the version matrix's sessions, tests/system/test_matrix.py) uses its own
TEST_PREFIX = os.environ.get("JHUB_KIT_TEST_PREFIX", "jhubkit-test")
_STARTED = time.time()


#: set when this run hands the lane's files to a process of their own
_LANE = pytest.StashKey[bool]()


def pytest_collection_finish(session):
    """The version matrix and the LVM guest start in the background as soon as they
    are known to run (with other tests: alone, the LVM guest boots in its test)."""
    if session.config.option.collectonly:
        return
    import lane_runner
    import matrix_runner

    ids = [item.nodeid for item in session.items]
    if any(i.startswith("tests/system/test_matrix.py") for i in ids):
        matrix_runner.start()
    if session.config.stash.get(_LANE, False):
        lane_runner.start(wait_first=matrix_runner.wait_for_the_end)
    vm = [i.startswith("tests/system/test_lvm_vm.py") for i in ids]
    if any(vm) and not all(vm):
        import lvm_vm_runner

        lvm_vm_runner.start()


def pytest_sessionfinish(session, exitstatus):
    import lane_runner
    import lvm_vm_runner
    import matrix_runner

    matrix_runner.stop()
    lane_runner.stop()
    lvm_vm_runner.stop()


#: a test's tier is the folder it is in
TIERS = ("unit", "integration", "system")


def pytest_configure(config):
    """Test files are imported by their base name (no packages): two tiers with a
    file of the same name would make one of them fail to import. Say which, first."""
    from collections import Counter
    from pathlib import Path

    here = Path(__file__).parent
    shadowing = [f"tests/{t}/conftest.py" for t in TIERS if (here / t / "conftest.py").exists()]
    if shadowing:
        raise pytest.UsageError(
            f"{', '.join(shadowing)}: a tier's conftest.py is imported as 'conftest' too and "
            "hides tests/conftest.py from the tests that import it; put its fixtures there"
        )
    names = Counter(p.name for tier in TIERS for p in (here / tier).glob("test_*.py"))
    twice = sorted(name for name, n in names.items() if n > 1)
    if twice:
        raise pytest.UsageError(f"test files of the same name in two tiers: {', '.join(twice)}")


def pytest_collection_modifyitems(config, items):
    """Each test gets its tier's marker; pure tests first, then hub/docker/root ones
    (stable within each group)."""
    for item in items:
        parts = item.nodeid.split("/")
        tier = parts[1] if len(parts) > 2 and parts[0] == "tests" else None
        if tier in TIERS:
            item.add_marker(getattr(pytest.mark, tier))

    def rank(item):
        if not any(item.get_closest_marker(m) for m in ("docker", "hub", "root")):
            return 0
        # the engine's restart first of the engine's tests: it waits for every process
        # beside the suite that holds the engine lock (the matrix's engine sessions,
        # the lane: whole sessions), and none does yet this early
        return 1 if item.nodeid.split("::", 1)[0] in ENGINE_RESTARTS else 2

    items.sort(key=rank)

    import lane_runner

    if lane_runner.wanted([item.nodeid for item in items]):
        # the lane's files run beside the suite (tests/support/lane_runner.py);
        # tests/system/test_lane.py reports them
        lane = [i for i in items if i.nodeid.split("::", 1)[0] in lane_runner.FILES]
        items[:] = [i for i in items if i not in lane]
        config.hook.pytest_deselected(items=lane)
        config.stash[_LANE] = True
    if os.environ.get("JHUB_KIT_NO_ROOT") == "1" and os.geteuid() != 0:
        skip = pytest.mark.skip(
            reason="needs root for loop devices and mounts (JHUB_KIT_NO_ROOT=1)"
        )
        for item in items:
            if item.get_closest_marker("root"):
                item.add_marker(skip)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    rep = yield
    setattr(item, f"rep_{rep.when}", rep)
    return rep


def _unavailable(reason: str):
    if REQUIRE_SERVICES:
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


#: the test files that restart the engine (kit_testing.restart_dockerd)
ENGINE_RESTARTS = ("tests/integration/test_engine_faults.py",)
#: held exclusively while a test restarts the engine (kit_testing.restart_dockerd), and
#: shared by the version matrix's sessions beside the suite while they use it
ENGINE_LOCK = Path(os.environ.get("JHUB_KIT_STATE", "/var/lib/jhub-kit-dev")) / "engine.lock"


@pytest.fixture(scope="session")
def docker_client():
    import docker

    with contextlib.ExitStack() as stack:
        if os.environ.get("JHUB_KIT_ENGINE_SHARED") == "1":  # the matrix (matrix_runner)
            ENGINE_LOCK.parent.mkdir(parents=True, exist_ok=True)
            lock = stack.enter_context(open(ENGINE_LOCK, "a"))
            fcntl.flock(lock, fcntl.LOCK_SH)  # waits while the engine restarts
        try:
            client = docker.from_env(version="auto", timeout=120)
            client.ping()
        except Exception as e:
            _unavailable(f"no Docker engine answers ({e}); run scripts/test.sh")
        yield client


def _local_image(docker_client, variable: str, default: str, what: str) -> str:
    image = os.environ.get(variable, default)
    try:
        docker_client.images.get(image)
    except Exception:
        _unavailable(f"{what} {image} is missing; run scripts/test.sh to build it")
    return image


@pytest.fixture(scope="session")
def test_image(docker_client):
    return _local_image(
        docker_client, "JHUB_KIT_TEST_IMAGE", "jhub-kit-singleuser:latest", "test image"
    )


@pytest.fixture(scope="session")
def course_image(docker_client):
    """The test image with nbgrader (tests/image/requirements-course.txt), built by
    scripts/lib.sh beside the test image."""
    return _local_image(
        docker_client, "JHUB_KIT_TEST_COURSE_IMAGE", "jhub-kit-course:latest", "course image"
    )


@pytest.fixture(scope="session")
def chp():
    path = shutil.which("configurable-http-proxy")
    if not path:
        _unavailable("configurable-http-proxy is not on PATH; run scripts/test.sh")
    return path


#: Set by the user for a run without root (README): root-only tests are skipped then.
NO_ROOT = os.environ.get("JHUB_KIT_NO_ROOT") == "1"


@pytest.fixture(scope="session")
def as_root():
    if os.geteuid() != 0:
        if NO_ROOT:
            pytest.skip("needs root for loop devices and mounts (JHUB_KIT_NO_ROOT=1)")
        _unavailable("needs root for loop devices and mounts")


def dump_containers(client, prefix: str = TEST_PREFIX) -> None:
    """Print logs and inspect output of the test containers (on failure)."""
    for c in client.containers.list(all=True, filters={"name": prefix}):
        print(f"===== docker logs {c.name} (status {c.status})")
        try:
            print(c.logs(tail=200).decode("utf-8", "replace"))
        except Exception as e:
            print(f"(logs unavailable: {e})")
        print(f"===== docker inspect {c.name} State / HostConfig limits")
        hc = c.attrs.get("HostConfig", {})
        print(c.attrs.get("State"))
        print(
            {k: hc.get(k) for k in ("Memory", "MemorySwap", "CpuQuota", "PidsLimit", "NetworkMode")}
        )


def remove_test_containers(client, prefix: str = TEST_PREFIX) -> None:
    for c in client.containers.list(all=True, filters={"name": prefix}):
        with contextlib.suppress(Exception):
            c.remove(force=True, v=True)


@pytest.fixture
def docker_debug(request, docker_client):
    """Use in docker tests: on failure, dump the containers' logs and inspect."""
    yield
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        dump_containers(docker_client)


def run(*cmd: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


MOUNT_AREAS = Path(os.environ.get("JHUB_KIT_TEST_AREAS", "/var/tmp/jhub-kit-test-areas"))


@pytest.fixture
def mount_area(request, as_root):
    """A temp dir that uid 1000 can traverse (as under /srv), unmounted and removed
    afterwards. It is not under pytest's own ``/tmp/pytest-of-root``: every pytest
    that starts as root (the swarm's lane, the version matrix, a second terminal)
    sets that back to 0700, and a home's owner could no longer reach a home in it
    (CI at 01d204d: the course archive, working as uid 1000, got EACCES halfway
    through a test once the lane had started)."""
    MOUNT_AREAS.mkdir(mode=0o711, parents=True, exist_ok=True)
    os.chmod(MOUNT_AREAS, 0o711)
    label = "".join(c if c.isalnum() else "-" for c in request.node.name)[:60]
    area = Path(tempfile.mkdtemp(prefix=f"{TEST_PREFIX}-{label}-", dir=MOUNT_AREAS))
    os.chmod(area, 0o711)
    yield area
    for mp in reversed(mounts_under(area)):  # deepest first
        subprocess.run(["umount", "-l", mp], check=False)
    if mounts_under(area):
        print(f"mount_area: something under {area} is still mounted; left in place")
        return
    shutil.rmtree(area, ignore_errors=True)


@pytest.fixture
def tmp_path(request, tmp_path):
    """pytest's own ``tmp_path``, except in a test that has a :func:`mount_area`
    (itself or through a fixture): there it is that area, so what such a test makes
    beside its homes (a config, a userlist, an archive) is where the home's owner
    can reach it too, as it was when the mount area was made of ``tmp_path``."""
    if "mount_area" in request.fixturenames:
        return request.getfixturevalue("mount_area")
    return tmp_path


def mounts_under(top: Path) -> list[str]:
    """The mount points at or under ``top``, in the mount table's order (the kit's
    reading of it: escaped names decoded)."""
    from jhub_kit.provision.mounts import mount_table

    return [
        e.mountpoint
        for e in mount_table()
        if e.mountpoint == str(top) or e.mountpoint.startswith(f"{top}/")
    ]


_TIME_BY_FILE: dict[str, float] = {}


def pytest_runtest_logreport(report):
    """Where the suite's time goes: seconds per test file (setup, call, teardown)."""
    path = report.nodeid.split("::", 1)[0]
    _TIME_BY_FILE[path] = _TIME_BY_FILE.get(path, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter):
    """Where the time went, per test file; DockerSpawner's own tests, stock and with
    the kit (tests/system/test_conformance.py), as their own group; and where the browser
    tests' screenshots are."""
    from pathlib import Path

    import matrix_runner

    _code, results, seconds = matrix_runner.last()
    if results:
        terminalreporter.section("version matrix (noxfile.py, beside the suite)")
        for name, verdict in results.items():
            terminalreporter.write_line(f"{name:14} {verdict}")
        terminalreporter.write_line(f"{seconds:.0f} s in the background (log: {matrix_runner.LOG})")

    total = sum(_TIME_BY_FILE.values())
    if total > 60:
        terminalreporter.section("where the time went (per test file)")
        for path, seconds in sorted(_TIME_BY_FILE.items(), key=lambda kv: -kv[1]):
            if seconds >= 10:
                terminalreporter.write_line(
                    f"{seconds:8.0f} s  {100 * seconds / total:4.1f}%  {path}"
                )
        terminalreporter.write_line(f"{total:8.0f} s  in all")

    logs = Path(os.environ.get("JHUB_KIT_LOGS", "/var/log/jhub-kit"))
    summary = logs / "conformance-summary.txt"
    if summary.is_file() and summary.stat().st_mtime >= _STARTED:
        terminalreporter.section("conformance: DockerSpawner's own tests, stock and with the kit")
        for line in summary.read_text().splitlines():
            terminalreporter.write_line(line)

    shots = Path(os.environ.get("JHUB_KIT_SCREENSHOTS", "/var/log/jhub-kit/screenshots"))
    if shots.is_dir() and any(p.stat().st_mtime >= _STARTED for p in shots.rglob("*.png")):
        terminalreporter.write_line(f"browser screenshots: {shots}/")


@pytest.fixture(scope="session")
def kit_hub_image(docker_client, test_image, tmp_path_factory):
    """example_config/'s hub image, FROM a local base with node and the proxy."""
    from hubimage import example_context, hub_base_image

    ctx = example_context(tmp_path_factory.mktemp("kithub") / "context")
    tag = f"{TEST_PREFIX}-kit-hub:latest"
    docker_client.images.build(
        path=str(ctx),
        tag=tag,
        rm=True,
        network_mode="none",
        buildargs={
            "BASE_IMAGE": hub_base_image(docker_client, test_image),
            "PIP_OPTIONS": "--no-index --find-links /tmp/wheels",
        },
    )
    yield tag
    with contextlib.suppress(Exception):
        docker_client.images.remove(tag, force=True)


@pytest.fixture
def hub_tz(request: pytest.FixtureRequest):
    """The hub's local time zone for one test: ``TZ`` set (default UTC; a test module
    may set ``HUB_TZ``), restored after."""
    zone = getattr(request.module, "HUB_TZ", "UTC")
    old = os.environ.get("TZ")
    os.environ["TZ"] = zone
    time.tzset()
    yield
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()
