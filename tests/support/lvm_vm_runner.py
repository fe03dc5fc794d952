"""The LVM guest (tests/system/test_lvm_vm.py) beside the suite: its two boots under
software emulation take about four and a half minutes of one core, mostly in the
guest's class of 100 homes. Started in the background when the suite collects
tests/system/test_lvm_vm.py, at the lowest CPU priority (``nice 19``, one virtual
CPU), so it runs on what the suite's own tests leave idle (they mostly wait on
containers); the test waits for it and reads the guest's results. Its console and
qemu's output go to files in its work directory, never to the terminal; a boot
still running when the suite ends is stopped."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PHASES = ("first", "reboot")
BOOT_TIMEOUT = 1800  # s, per boot, under software emulation at the lowest priority


@dataclass
class Run:
    """One run of the guest: both boots on the same data disks."""

    work: Path
    consoles: dict[str, str] = field(default_factory=dict)
    boots: dict[str, float] = field(default_factory=dict)
    #: why the run could not happen or report (then the tests fail with it)
    error: str = ""
    #: qemu stays out of the way of the suite's tests (nice 19); "alone" when run
    #: by the test itself (nothing in the background)
    background: bool = False
    done: threading.Event = field(default_factory=threading.Event)
    proc: subprocess.Popen | None = None
    stopped: bool = False


_run: Run | None = None
_lock = threading.Lock()


def vm_dir() -> tuple[Path | None, str]:
    """The cached VM (kernel, initrd, root image), built if missing; or why not."""
    given = os.environ.get("JHUB_KIT_LVM_VM")
    if given:
        return Path(given), ""
    if not shutil.which("qemu-system-x86_64"):
        return None, "qemu-system-x86_64 is missing; run scripts/test.sh (it installs it)"
    r = subprocess.run([str(ROOT / "scripts" / "build-lvm-vm.sh")], capture_output=True, text=True)
    if r.returncode != 0:
        return None, f"building the LVM VM failed:\n{r.stderr[-3000:]}"
    return Path(r.stdout.strip()), ""


def kit_disk(work: Path) -> Path:
    """The checkout's jhub_kit and the VM cases, as an ext4 image (no mount needed)."""
    stage = work / "kit"
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "jhub_kit", stage / "jhub_kit", ignore=ignore)
    shutil.copytree(ROOT / "tests" / "lvm_vm", stage / "tests" / "lvm_vm", ignore=ignore)
    img = work / "kit.img"
    subprocess.run(["truncate", "-s", "64M", str(img)], check=True)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-d", str(stage), str(img)], check=True)
    return img


def _boot(run: Run, vm: Path, phase: str, disks: list[Path]) -> bool:
    console = run.work / f"console-{phase}.log"
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
    if run.background:
        argv = ["nice", "-n", "19", *argv]
    # software emulation (TCG) always: /dev/kvm can exist on these machines and hang
    t0 = time.monotonic()
    with open(run.work / f"qemu-{phase}.log", "wb") as log:
        with _lock:
            if run.stopped:
                return False
            run.proc = subprocess.Popen(
                argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True
            )
        try:
            code = run.proc.wait(BOOT_TIMEOUT)
        except subprocess.TimeoutExpired:
            run.proc.kill()
            code = run.proc.wait()
    run.boots[phase] = time.monotonic() - t0
    text = console.read_text(errors="replace") if console.exists() else ""
    run.consoles[phase] = text
    if code != 0 or "JHK-END-JUNIT" not in text:
        qemu_log = (run.work / f"qemu-{phase}.log").read_text(errors="replace")
        run.error = (
            f"the VM ({phase}) did not report (qemu exit {code}, after "
            f"{run.boots[phase]:.0f} s); console tail:\n{text[-4000:]}\nqemu: {qemu_log[-1000:]}"
        )
        return False
    return True


def _run_both(run: Run) -> None:
    try:
        vm, why = vm_dir()
        if vm is None:
            run.error = why
            return
        kit = kit_disk(run.work)
        pv, state = run.work / "pv.img", run.work / "state.img"
        subprocess.run(["truncate", "-s", "16G", str(pv)], check=True)
        subprocess.run(["truncate", "-s", "256M", str(state)], check=True)
        for phase in PHASES:
            if not _boot(run, vm, phase, [kit, pv, state]):
                return
    except Exception as e:  # reported by the test that waits for it
        run.error = f"the LVM VM run failed: {e!r}"
    finally:
        run.done.set()


def start(work: Path | None = None, *, background: bool = True) -> Run:
    """Start both boots on a thread (once per suite); the run to :func:`wait` for."""
    global _run
    if _run is None:
        work = work or Path(tempfile.mkdtemp(prefix="jhub-kit-lvm-vm-"))
        _run = Run(work=work, background=background)
        threading.Thread(target=_run_both, args=(_run,), name="lvm-vm", daemon=True).start()
    return _run


def wait(run: Run) -> Run:
    run.done.wait()
    return run


def stop() -> None:
    """End a boot still running when the suite ends; the work directory goes too."""
    global _run
    run, _run = _run, None
    if run is None:
        return
    with _lock:
        run.stopped = True
        if run.proc is not None and run.proc.poll() is None:
            run.proc.kill()
    run.done.wait(30)
    shutil.rmtree(run.work, ignore_errors=True)
