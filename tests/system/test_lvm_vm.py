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
import os
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import REQUIRE_SERVICES

pytestmark = [pytest.mark.root, pytest.mark.vm]

ROOT = Path(__file__).resolve().parents[2]
CASES_FILE = ROOT / "tests" / "lvm_vm" / "vm_cases.py"
PHASES = ("first", "reboot")
BOOT_TIMEOUT = 900  # s, per boot, under software emulation


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


def vm_dir() -> Path:
    given = os.environ.get("JHUB_KIT_LVM_VM")
    if given:
        return Path(given)
    if not shutil.which("qemu-system-x86_64"):
        _unavailable("qemu-system-x86_64 is missing; run scripts/test.sh (it installs it)")
    r = subprocess.run([str(ROOT / "scripts" / "build-lvm-vm.sh")], capture_output=True, text=True)
    if r.returncode != 0:
        _unavailable(f"building the LVM VM failed:\n{r.stderr[-3000:]}")
    return Path(r.stdout.strip())


def kit_disk(work: Path) -> Path:
    """The checkout's jhub_kit and the VM cases, as an ext4 image (no mount needed)."""
    stage = work / "kit"
    shutil.copytree(
        ROOT / "jhub_kit", stage / "jhub_kit", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copytree(
        ROOT / "tests" / "lvm_vm",
        stage / "tests" / "lvm_vm",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    img = work / "kit.img"
    subprocess.run(["truncate", "-s", "64M", str(img)], check=True)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-d", str(stage), str(img)], check=True)
    return img


def boot(vm: Path, work: Path, phase: str, disks: list[Path]) -> tuple[str, float]:
    console = work / f"console-{phase}.log"
    argv = [
        "qemu-system-x86_64",
        "-m", "2048",
        "-smp", "2",
        "-display", "none",
        "-no-reboot",
        "-nic", "none",
        "-monitor", "none",
        "-serial", f"file:{console}",
        "-kernel", str(vm / "vmlinuz"),
        "-initrd", str(vm / "initrd.img"),
        "-append",
        f"root=/dev/vda rw console=ttyS0 init=/sbin/jhk-init jhk.phase={phase} panic=-1 quiet",
        "-drive", f"file={vm / 'root.img'},if=virtio,format=raw,snapshot=on",
        "-drive", f"file={disks[0]},if=virtio,format=raw,readonly=on",
        "-drive", f"file={disks[1]},if=virtio,format=raw",
        "-drive", f"file={disks[2]},if=virtio,format=raw",
    ]  # fmt: skip
    # software emulation (TCG) always: /dev/kvm can exist on these machines and hang
    t0 = time.monotonic()
    with open(work / f"qemu-{phase}.log", "wb") as log:
        r = subprocess.run(
            argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL, timeout=BOOT_TIMEOUT
        )
    took = time.monotonic() - t0
    text = console.read_text(errors="replace") if console.exists() else ""
    if r.returncode != 0 or "JHK-END-JUNIT" not in text:
        qemu_log = (work / f"qemu-{phase}.log").read_text(errors="replace")
        pytest.fail(
            f"the VM ({phase}) did not report (qemu exit {r.returncode}); console tail:\n"
            f"{text[-4000:]}\nqemu: {qemu_log[-1000:]}",
            pytrace=False,
        )
    return text, took


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
    vm = vm_dir()
    work = tmp_path_factory.mktemp("lvm-vm")
    kit = kit_disk(work)
    pv, state = work / "pv.img", work / "state.img"
    subprocess.run(["truncate", "-s", "16G", str(pv)], check=True)
    subprocess.run(["truncate", "-s", "256M", str(state)], check=True)
    results, boots = {}, {}
    for phase in PHASES:
        console, took = boot(vm, work, phase, [kit, pv, state])
        results[phase] = parse(console)
        boots[phase] = took
    return {"results": results, "boots": boots, "work": work}


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
            f"\nLVM VM: boots {', '.join(f'{p} {t:.0f} s' for p, t in lvm_vm['boots'].items())}; "
            f"per 100 MB home: kit {props.get('kit_home_median_s')} s, "
            f"bare {props.get('bare_home_median_s')} s (medians, in the VM); "
            f"first home {props.get('first_home_s')} s; report rows {props.get('report_rows')}"
        )
    assert props.get("kit_home_median_s") and props.get("bare_home_median_s")
