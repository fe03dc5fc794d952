#!/usr/bin/env bash
# Build the VM that runs the LVM tests: these machines' kernel has no device-mapper,
# so real LVM runs in a Debian guest with its own kernel under qemu (software emulation).
#
#   1. debootstrap a minimal Debian with linux-image-amd64, lvm2, e2fsprogs, xfsprogs,
#      python3-venv (the .debs are cached),
#   2. download wheels of the kit's dependencies and pytest on the host and install them
#      offline into /opt/venv in the guest,
#   3. add /sbin/jhk-init: mounts what Linux needs, the kit's disk (/dev/vdb) at /kit,
#      runs the cases named on the kernel command line with pytest, prints the JUnit
#      report between markers on the serial console, powers off,
#   4. make an ext4 image of the tree (mkfs.ext4 -d, no mount needed) and copy out the
#      kernel and initrd.
# Output: a directory with vmlinuz, initrd.img and root.img, cached by a hash of this
# script and pyproject.toml; when it exists nothing is built. Prints its path on stdout.
# The kit itself is not in the image: tests put the checkout on a second disk each run.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
suite=${JHUB_KIT_IMAGE_SUITE:-bookworm}
mirror=${JHUB_KIT_DEBIAN_MIRROR:-http://deb.debian.org/debian}
cache=${JHUB_KIT_CACHE:-/var/cache/jhub-kit}

hash=$(cat "$0" "$here/pyproject.toml" <(echo "$suite") | sha256sum | cut -c1-12)
out="$cache/lvm-vm-$hash"

log() { echo "[build-lvm-vm] $*" >&2; }

if [ -s "$out/root.img" ] && [ -s "$out/vmlinuz" ] && [ -s "$out/initrd.img" ]; then
    log "VM $out exists, skipping build"
    echo "$out"
    exit 0
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/jhub-kit-vm.XXXXXX")
cleanup() {
    for m in proc sys dev; do umount -l "$work/root/$m" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$cache"
pkgs=linux-image-amd64,lvm2,e2fsprogs,xfsprogs,python3-venv,kmod,util-linux
debs="$cache/debootstrap-vm-$suite.tgz"
root="$work/root"
start=$(date +%s)
if [ ! -s "$debs" ]; then
    log "downloading Debian $suite packages with a kernel (once)"
    debootstrap --variant=minbase --include="$pkgs" \
        --make-tarball="$debs.part" "$suite" "$work/tarball-root" "$mirror" >"$work/dl.log" 2>&1 \
        || { tail -50 "$work/dl.log" >&2; exit 1; }
    mv "$debs.part" "$debs"
fi
log "debootstrap $suite with a kernel"
debootstrap --variant=minbase --include="$pkgs" \
    --unpack-tarball="$debs" "$suite" "$root" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -50 "$work/debootstrap.log" >&2; exit 1; }
log "debootstrap done in $(( $(date +%s) - start )) s"

pyver=$(chroot "$root" python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
log "downloading wheels for python $pyver"
mkdir -p "$root/tmp/wheels"
# the kit's own dependencies (from pyproject.toml) and the test runner
deps=$(python3 - "$here/pyproject.toml" <<'PY'
import sys, tomllib
data = tomllib.loads(open(sys.argv[1]).read())
print("\n".join(d for d in data["project"]["dependencies"] if "python_version" not in d))
PY
)
printf '%s\npytest>=8\npytest-asyncio>=1.0\n' "$deps" >"$root/tmp/requirements.txt"
python3 -m pip download -q --dest "$root/tmp/wheels" \
    --only-binary=:all: --python-version "$pyver" --implementation cp \
    --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux_2_28_x86_64 --platform linux_x86_64 \
    -r "$root/tmp/requirements.txt"
chroot "$root" python3 -m venv /opt/venv
chroot "$root" env PIP_CONFIG_FILE=/dev/null /opt/venv/bin/pip install -q --no-index \
    --find-links /tmp/wheels -r /tmp/requirements.txt
rm -rf "$root/tmp/wheels" "$root/tmp/requirements.txt"

# no udev in the guest: LVM creates its device nodes itself
sed -i 's/^\(\s*\)# *udev_sync = 1/\1udev_sync = 0/; s/^\(\s*\)# *udev_rules = 1/\1udev_rules = 0/' \
    "$root/etc/lvm/lvm.conf"
cat >"$root/sbin/jhk-init" <<'INIT'
#!/bin/sh
# PID 1 of the LVM test VM: run the cases, report on the console, power off.
export PATH=/opt/venv/bin:/usr/sbin:/usr/bin:/sbin:/bin DM_DISABLE_UDEV=1 LC_ALL=C.UTF-8
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/pts /run /tmp /kit && mount -t tmpfs tmpfs /run && mount -t tmpfs tmpfs /tmp
modprobe dm_mod 2>/dev/null; modprobe loop 2>/dev/null
mount -o ro /dev/vdb /kit
phase=$(sed -n 's/.*jhk.phase=\([a-z0-9-]*\).*/\1/p' /proc/cmdline)
echo "JHK-PHASE $phase"
cd /kit
JHK_PHASE="$phase" JHK_DISK=/dev/vdc PYTHONPATH=/kit python -m pytest -p no:cacheprovider \
    -o python_files=vm_cases.py -o asyncio_mode=auto tests/lvm_vm -q -rA \
    --junitxml=/tmp/junit.xml >/tmp/pytest.log 2>&1
echo "JHK-PYTEST-EXIT $?"
tail -40 /tmp/pytest.log
echo "JHK-BEGIN-JUNIT"
cat /tmp/junit.xml
echo "JHK-END-JUNIT"
sync
echo o >/proc/sysrq-trigger
sleep 30
INIT
chmod 755 "$root/sbin/jhk-init"
echo "jhk-lvm-vm" >"$root/etc/hostname"
rm -rf "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* \
    "$root"/usr/share/man/* "$root"/usr/share/locale/*

mkdir -p "$work/out"
cp "$(readlink -f "$root/vmlinuz")" "$work/out/vmlinuz"
cp "$(readlink -f "$root/initrd.img")" "$work/out/initrd.img"
log "making the root filesystem image"
truncate -s 3G "$work/out/root.img"
mkfs.ext4 -q -F -d "$root" "$work/out/root.img"
rm -rf "$out"
mv "$work/out" "$out"
log "built $out in $(( $(date +%s) - start )) s"
echo "$out"
