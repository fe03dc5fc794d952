#!/usr/bin/env bash
# Build the local single-user image used by tests and the demo hub.
#
# No image registry can be reached, so the image is made from scratch:
#   1. debootstrap a minimal Debian (minbase) with python3-venv,
#   2. download wheels for jupyterhub + jupyterlab on the host (pip download),
#   3. install them offline into /opt/venv inside the chroot,
#   4. add user jovyan (uid 1000, gid 100) and `docker import` the tree with
#      USER 1000 and CMD ["jupyterhub-singleuser"].
# The tag is a content hash of this script and tests/image/requirements.txt
# (and of the extra requirements file, when one is given); when that tag exists,
# nothing is built. Prints the image tag on stdout.
#
# JHUB_KIT_IMAGE_EXTRA_REQS=FILE adds FILE's packages (the course image: nbgrader,
# tests/image/requirements-course.txt) on top of the base requirements; give it
# its own JHUB_KIT_IMAGE_REPO so the two images never share a tag.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
reqs="$here/tests/image/requirements.txt"
suite=${JHUB_KIT_IMAGE_SUITE:-bookworm}
mirror=${JHUB_KIT_DEBIAN_MIRROR:-http://deb.debian.org/debian}
repo=${JHUB_KIT_IMAGE_REPO:-jhub-kit-singleuser}
cache=${JHUB_KIT_CACHE:-/var/cache/jhub-kit}
extra=${JHUB_KIT_IMAGE_EXTRA_REQS:-}
extra_file=/dev/null
[ -n "$extra" ] && extra_file="$extra"

hash=$(cat "$0" "$reqs" "$extra_file" <(echo "$suite") | sha256sum | cut -c1-12)
tag="$repo:$hash"

log() { echo "[build-image] $*" >&2; }

if docker image inspect "$tag" >/dev/null 2>&1; then
    log "image $tag exists, skipping build"
    echo "$tag"
    exit 0
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/jhub-kit-image.XXXXXX")
cleanup() {
    # never leave proc/sys mounted inside a deleted tree
    for m in proc sys dev; do umount -l "$work/root/$m" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$cache"
# debootstrap tarball cache: reuse the downloaded .debs across builds
debs="$cache/debootstrap-$suite.tgz"
root="$work/root"
start=$(date +%s)
if [ ! -s "$debs" ]; then
    log "downloading Debian $suite packages (once)"
    debootstrap --variant=minbase --include=python3-venv,ca-certificates \
        --make-tarball="$debs.part" "$suite" "$work/tarball-root" "$mirror" >"$work/debootstrap-dl.log" 2>&1 \
        || { cat "$work/debootstrap-dl.log" >&2; exit 1; }
    mv "$debs.part" "$debs"
fi
log "debootstrap $suite"
debootstrap --variant=minbase --include=python3-venv,ca-certificates \
    --unpack-tarball="$debs" "$suite" "$root" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -50 "$work/debootstrap.log" >&2; exit 1; }
log "debootstrap done in $(( $(date +%s) - start )) s"

pyver=$(chroot "$root" python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
log "downloading wheels for python $pyver"
mkdir -p "$root/tmp/wheels"
python3 -m pip download -q --dest "$root/tmp/wheels" \
    --only-binary=:all: --python-version "$pyver" --implementation cp \
    --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux_2_28_x86_64 --platform linux_x86_64 \
    -r "$reqs" -r "$extra_file"
cat "$reqs" "$extra_file" >"$root/tmp/requirements.txt"

log "installing offline into the chroot"
chroot "$root" python3 -m venv /opt/venv
chroot "$root" env PIP_CONFIG_FILE=/dev/null /opt/venv/bin/pip install -q --no-index \
    --find-links /tmp/wheels -r /tmp/requirements.txt
rm -rf "$root/tmp/wheels" "$root/tmp/requirements.txt"

chroot "$root" useradd --uid 1000 --gid 100 --create-home --shell /bin/bash jovyan
# keep the image small: apt lists, docs and caches are not needed at run time
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/usr/share/doc/* \
    "$root"/usr/share/man/* "$root"/usr/share/locale/* "$root"/root/.cache
# bytecode compiled once here, as pip and every published image do: without it
# each server (and each warm-pool member) compiled jupyter_server, JupyterLab and
# tornado from source at every start (a pool member's imports: 7.4 CPU-s, 3.8 with it)
chroot "$root" /opt/venv/bin/python -m compileall -q -j 0 /opt/venv/lib >/dev/null

log "docker import $tag"
tar -C "$root" --numeric-owner -c . | docker import \
    --change 'USER 1000' \
    --change 'WORKDIR /home/jovyan' \
    --change 'ENV HOME=/home/jovyan' \
    --change 'ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'EXPOSE 8888' \
    --change 'CMD ["jupyterhub-singleuser"]' \
    - "$tag" >/dev/null
docker tag "$tag" "$repo:latest"
log "built $tag in $(( $(date +%s) - start )) s"
echo "$tag"
