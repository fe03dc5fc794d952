"""Drop-in, proven: DockerSpawner's own published test suite with the kit's classes
in DockerSpawner's place, against the same suite on stock DockerSpawner, in the
same run, on the real engine (and a one-node swarm of it for SwarmSpawner).

The test command downloads the sdist of the installed DockerSpawner
(scripts/lib.sh: ``ensure_upstream_tests``); its test modules run twice in a
pytest of their own with the fixtures of ``tests/conformance/upstream_conftest.py``:
once as they are (the baseline), once with QuotaDockerSpawner for
DockerSpawner and QuotaSwarmSpawner for SwarmSpawner. Every test that fails
with the kit must also fail on stock, except the deliberate differences in
:data:`DELIBERATE`, which the kit's run skips by name with the reason (each
listed in docs/reference/dropin.md, each with a kit test of its own). The
outcome of both runs is printed as its own group at the end of the suite.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import dockerspawner
import pytest
from conftest import REQUIRE_SERVICES
from ports import free_port

pytestmark = [pytest.mark.docker, pytest.mark.hub, pytest.mark.conformance]

HERE = Path(__file__).resolve().parents[1]  # tests/
LOGS = Path(os.environ.get("JHUB_KIT_LOGS", "/var/log/jhub-kit"))
SUMMARY = LOGS / "conformance-summary.txt"
OVERLAY = "dockerspawner-test-overlay"

#: upstream tests the kit fails on purpose: test id -> what stock does, what the kit does, why
DELIBERATE: dict[str, str] = {
    "test_deprecations.py::test_deprecated_config": (
        "the deprecation warning names the class that reads the setting "
        "(QuotaDockerSpawner.image_whitelist), where the test expects DockerSpawner's name; "
        "the old name still applies (tests/unit/test_dropin.py)"
    ),
}


def _sdist() -> Path | None:
    """The sdist of the installed DockerSpawner (downloaded by the test command)."""
    found = os.environ.get("JHUB_KIT_DOCKERSPAWNER_SDIST")
    if found and Path(found).is_file():
        return Path(found)
    cache = Path(os.environ.get("JHUB_KIT_CACHE", "/var/cache/jhub-kit"))
    path = cache / f"dockerspawner-{dockerspawner.__version__}.tar.gz"
    return path if path.is_file() else None


def upstream_tests(dest: Path) -> Path:
    sdist = _sdist()
    if sdist is None:
        message = (
            f"the sdist of dockerspawner {dockerspawner.__version__} is missing; "
            "scripts/test.sh downloads it (ensure_upstream_tests)"
        )
        if REQUIRE_SERVICES:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    with tarfile.open(sdist) as tar:
        members = [m for m in tar.getmembers() if "/tests/" in m.name and m.isfile()]
        tar.extractall(dest, members=members, filter="data")
    tests = next(dest.glob("dockerspawner-*/tests"))
    shutil.copy(HERE / "conformance" / "upstream_conftest.py", tests / "conftest.py")
    (tests / "pytest.ini").write_text(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
        "filterwarnings =\n    ignore::DeprecationWarning\n"
    )
    return tests


def outcomes(junit: Path) -> dict[str, tuple[str, str]]:
    """{test id: (passed | failed | skipped, message)} from a JUnit XML report."""
    out = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        module = case.get("classname", "").rsplit(".", 1)[-1]
        test_id = f"{module}.py::{case.get('name')}"
        state, message = "passed", ""
        for kind in ("failure", "error", "skipped"):
            el = case.find(kind)
            if el is not None:
                state = "skipped" if kind == "skipped" else "failed"
                message = (
                    (el.get("message") or "").splitlines()[0][:160] if el.get("message") else ""
                )
                break
        out[test_id] = (state, message)
    return out


def start_upstream(tests: Path, mode: str, settings: dict, tmp: Path) -> tuple[Any, Path]:
    """One run of the upstream modules, in the background: (the process, its report)."""
    junit = tmp / f"{mode}.xml"
    LOGS.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "JHUB_KIT_CONFORMANCE": mode,
        "JHUB_KIT_CONFORMANCE_SETTINGS": json.dumps(settings),
        "JHUB_KIT_CONFORMANCE_DELIBERATE": json.dumps(DELIBERATE),
        "PYTHONPATH": os.pathsep.join([str(HERE / "support"), os.environ.get("PYTHONPATH", "")]),
    }
    log = open(LOGS / f"conformance-{mode}.log", "w")  # noqa: SIM115 - the run's own file
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA", "-v"),
            *(str(tests), f"--junitxml={junit}", "--rootdir", str(tests)),
        ],
        cwd=tests,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    return proc, junit


def run_both(tests: Path, settings: dict[str, dict], tmp: Path) -> dict[str, dict]:
    """Stock and the kit side by side (each with its own names and ports)."""
    started = {mode: start_upstream(tests, mode, settings[mode], tmp) for mode in settings}
    out = {}
    for mode, (proc, junit) in started.items():
        try:
            proc.wait(1800)
        except subprocess.TimeoutExpired:
            proc.kill()
        out[mode] = outcomes(junit) if junit.exists() else {}
    return out


@pytest.fixture(scope="module")
def one_node_swarm(docker_client):
    """The test engine as a one-node swarm, with an attachable overlay network;
    left again afterwards if this test made it a swarm."""
    info = docker_client.info()
    made = info.get("Swarm", {}).get("LocalNodeState") != "active"
    if made:
        docker_client.swarm.init(advertise_addr="127.0.0.1", listen_addr="127.0.0.1:2377")
    try:
        for old in docker_client.networks.list(names=[OVERLAY]):
            old.remove()
        net = docker_client.networks.create(OVERLAY, driver="overlay", attachable=True)
        # a service's task reaches the host (any of its addresses: docker0's here)
        # through the swarm's docker_gwbridge
        yield {"swarm_network": OVERLAY}
        for s in docker_client.services.list():
            if s.name.startswith("dockerspawner-test"):
                s.remove()
        net.remove()
    finally:
        if made:
            docker_client.swarm.leave(force=True)


@pytest.fixture(scope="module")
def upstream_images(docker_client, test_image):
    """The local test image under the names the upstream tests ask for."""
    image = docker_client.images.get(test_image)
    names = [
        dockerspawner.DockerSpawner().image,
        "quay.io/jupyterhub/singleuser:4.0",
        "quay.io/jupyterhub/singleuser:4",
        "busybox:1.29.1",
    ]
    added = []
    for name in names:
        repo, tag = name.rsplit(":", 1)
        try:
            docker_client.images.get(name)
        except Exception:
            image.tag(repo, tag)
            added.append(name)
    yield names
    for name in added:
        with contextlib.suppress(Exception):
            docker_client.images.remove(name)


async def test_dockerspawners_own_tests_pass_with_the_kit(
    docker_client, chp, one_node_swarm, upstream_images, tmp_path
):
    from jhub_kit.network.hub_address import gateway_or_bridge_address

    tests = upstream_tests(tmp_path)
    bridge = docker_client.api.inspect_network("bridge")
    host = gateway_or_bridge_address(bridge)
    common = {"hub_connect_ip": host, "swarm_hub_connect_ip": host, **one_node_swarm}
    runs = run_both(
        tests,
        {mode: {**common, "swarm_published_port": free_port()} for mode in ("stock", "kit")},
        tmp_path,
    )
    stock, kit = runs["stock"], runs["kit"]
    assert stock and set(stock) == set(kit), (sorted(stock), sorted(kit))

    failed = {t for t, (s, _) in stock.items() if s == "failed"}
    kit_failed = {t for t, (s, _) in kit.items() if s == "failed"}
    lines = [
        f"DockerSpawner {dockerspawner.__version__}'s own tests "
        f"(logs: {LOGS}/conformance-stock.log, conformance-kit.log)",
        f"{'test':70} {'stock':8} kit",
    ]
    for t in sorted(stock):
        lines.append(f"{t:70} {stock[t][0]:8} {kit[t][0]}")
        if kit[t][0] != "passed" and kit[t][1]:
            lines.append(f"{'':70} kit: {kit[t][1]}")
    for label, data in (("stock", stock), ("kit", kit)):
        counts = {
            s: sum(1 for v in data.values() if v[0] == s) for s in ("passed", "failed", "skipped")
        }
        lines.append(
            f"{label}: {counts['passed']} passed, {counts['failed']} failed, "
            f"{counts['skipped']} skipped"
        )
    new = sorted(kit_failed - failed)
    lines.append(f"failures only with the kit: {new or 'none'}")
    SUMMARY.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))

    assert not new, f"the kit fails upstream tests that stock passes: {new}"
    for test_id in DELIBERATE:  # skipped by name in the kit's run, never silently
        assert kit[test_id][0] == "skipped" and "deliberate" in kit[test_id][1], kit[test_id]
    documented = (HERE.parent / "docs" / "reference" / "dropin.md").read_text()
    for test_id in DELIBERATE:
        assert test_id in documented, f"{test_id} is not listed in docs/reference/dropin.md"
    assert sum(1 for s, _ in kit.values() if s == "passed") >= len(stock) // 2
