"""Real LVM homes, in a VM: these machines' kernel has no device-mapper, so the cases in
tests/lvm_vm/vm_cases.py run inside a Debian guest with its own kernel under qemu
(software emulation), through the kit's LvmProvisioner. Each case here is one case
there, with its own pass/fail and message.

The VM (kernel, initrd, root image) is built by scripts/build-lvm-vm.sh and cached by
content hash; the checkout's jhub_kit goes in on a second disk at every run. The guest
boots twice on the same data disks: "first", then "reboot" (a power-off in between:
nothing mounted, no volume active)."""

from __future__ import annotations

import ast
import xml.etree.ElementTree as ET
from pathlib import Path

import lvm_vm_runner
import pytest
from conftest import REQUIRE_SERVICES
from lvm_vm_runner import PHASES

pytestmark = [pytest.mark.root, pytest.mark.vm]

ROOT = Path(__file__).resolve().parents[2]
CASES_FILE = ROOT / "tests" / "lvm_vm" / "vm_cases.py"


def case_names() -> list[str]:
    tree = ast.parse(CASES_FILE.read_text())
    return [
        n.name
        for n in tree.body
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name.startswith("test_")
    ]


def _unavailable(reason: str) -> None:
    if REQUIRE_SERVICES:  # the test command: it must show the LVM cases ran
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def parse(console: str) -> dict[str, dict]:
    xml = console.split("JHK-BEGIN-JUNIT", 1)[1].split("JHK-END-JUNIT", 1)[0].strip()
    out = {}
    for tc in ET.fromstring(xml).iter("testcase"):
        props = {p.get("name"): p.get("value") for p in tc.iter("property")}
        status, message = "passed", ""
        for tag in ("failure", "error", "skipped"):
            el = tc.find(tag)
            if el is not None:
                status = tag
                message = (el.get("message") or "") + "\n" + (el.text or "")
        out[tc.get("name")] = {"status": status, "message": message, "properties": props}
    return out


@pytest.fixture(scope="session")
def lvm_vm(tmp_path_factory):
    """The guest's results: from the run conftest.py started in the background when
    this file was collected, or (this file's tests picked alone) started here."""
    run = lvm_vm_runner.wait(
        lvm_vm_runner.start(tmp_path_factory.mktemp("lvm-vm"), background=False)
    )
    if run.error:
        if "did not report" in run.error:
            pytest.fail(run.error, pytrace=False)
        _unavailable(run.error)
    results = {phase: parse(run.consoles[phase]) for phase in PHASES}
    return {"results": results, "boots": run.boots, "work": run.work, "background": run.background}


@pytest.mark.parametrize("case", case_names())
def test_lvm_in_vm(lvm_vm, case):
    seen = {phase: lvm_vm["results"][phase].get(case) for phase in PHASES}
    ran = {p: r for p, r in seen.items() if r and r["status"] != "skipped"}
    if not ran:
        pytest.fail(f"{case} did not run in the VM: {seen}", pytrace=False)
    for phase, r in ran.items():
        if r["status"] != "passed":
            pytest.fail(f"{case} ({phase} boot) {r['status']}: {r['message']}", pytrace=False)


def test_lvm_vm_measurements(lvm_vm, capsys):
    props = {}
    for phase in PHASES:
        for r in lvm_vm["results"][phase].values():
            props.update(r["properties"])
    with capsys.disabled():
        print(
            f"\nLVM VM: boots {', '.join(f'{p} {t:.0f} s' for p, t in lvm_vm['boots'].items())}"
            f"{' (in the background, nice 19, beside the suite)' if lvm_vm['background'] else ''}; "
            f"per 100 MB home: kit {props.get('kit_home_median_s')} s, "
            f"bare {props.get('bare_home_median_s')} s (medians, in the VM); "
            f"first home {props.get('first_home_s')} s; report rows {props.get('report_rows')}"
        )
    assert props.get("kit_home_median_s") and props.get("bare_home_median_s")
