# Shared by scripts/demo.sh and scripts/test.sh: install and start what is missing.
# Everything here is idempotent; each step is skipped when its result is already there.
# shellcheck shell=bash

KIT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KIT_STATE=${JHUB_KIT_STATE:-/var/lib/jhub-kit-dev}
KIT_LOGS=${JHUB_KIT_LOGS:-/var/log/jhub-kit}
KIT_VENV=${JHUB_KIT_VENV:-$KIT_ROOT/.venv}
KIT_STARTED_DOCKERD=""
export JHUB_KIT_STATE="$KIT_STATE" JHUB_KIT_LOGS="$KIT_LOGS"

say() { echo "[jhub-kit] $*" >&2; }
die() { echo "[jhub-kit] error: $*" >&2; exit 1; }

require_root() {
    if [ "$(id -u)" != 0 ]; then
        die "this needs root to install packages, start dockerd and make loop devices.
Run it with sudo, or as a non-root user: install docker.io, debootstrap and
nodejs and npm yourself, add yourself to the 'docker' group, start
dockerd, and run 'JHUB_KIT_NO_ROOT=1 $0' (tests that need root are then skipped)."
    fi
}

# Debian packages the rig needs, as "command:package" pairs; a command that starts
# with / is a path (a glob), for programs that are not on PATH.
KIT_APT_NEEDS=(
    "dockerd:docker.io"
    "debootstrap:debootstrap"
    "npm:npm"
    "mkfs.btrfs:btrfs-progs"
    "mkfs.xfs:xfsprogs"
    "mkfs.ext4:e2fsprogs"
    "losetup:mount"
    "docker-compose:docker-compose"   # the Compose layout's end-to-end test
    "nginx:nginx"                     # TLS in front of it
    "openssl:openssl"                 # the test's certificate
    "iptables-restore:iptables"       # network isolation
    "docker-registry:docker-registry" # the swarm rig's registry
    # a throwaway server for the hub on PostgreSQL (tests/support/pgrig.py); pg_lsclusters
    # and psql alone do not tell: they come with the client packages too
    "/usr/lib/postgresql/*/bin/initdb:postgresql"
)

kit_has() {
    case $1 in
        /*) compgen -G "$1" >/dev/null ;;
        *) command -v "$1" >/dev/null 2>&1 ;;
    esac
}

ensure_system_packages() {
    local missing=() pair
    for pair in "${KIT_APT_NEEDS[@]}"; do
        kit_has "${pair%%:*}" || missing+=("${pair#*:}")
    done
    python3 -m venv --help >/dev/null 2>&1 || missing+=(python3-venv)
    [ ${#missing[@]} -eq 0 ] && return 0
    [ -n "${JHUB_KIT_NO_ROOT:-}" ] && die "missing packages: ${missing[*]} (install them, then rerun)"
    say "installing Debian packages: ${missing[*]}"
    mkdir -p "$KIT_LOGS"
    # No system service from these packages: the suite starts what it needs itself
    # (dockerd, nginx, docker-registry and PostgreSQL on its own ports and sockets),
    # and postgresql's postinst would start the "main" cluster it creates on 5432.
    # A policy-rc.d that says 101 ("not allowed") keeps invoke-rc.d and
    # deb-systemd-invoke from starting anything during this install; it is removed
    # afterwards (an interrupted install too), and one that is already there is kept.
    local policy=/usr/sbin/policy-rc.d started
    started=$(date +%s)
    (
        if [ ! -e "$policy" ]; then
            trap 'rm -f "$policy"' EXIT
            trap 'exit 130' INT TERM HUP
            printf '#!/bin/sh\n# scripts/lib.sh, during its apt-get install\nexit 101\n' >"$policy"
            chmod 755 "$policy"
        fi
        apt-get update -q &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
    ) >"$KIT_LOGS/apt.log" 2>&1 || { tail -30 "$KIT_LOGS/apt.log" >&2; die "apt-get failed (log: $KIT_LOGS/apt.log)"; }
    case " ${missing[*]} " in
        *" postgresql "*) drop_new_main_clusters "$started" >>"$KIT_LOGS/apt.log" 2>&1 || true ;;
    esac
}

# postgresql's postinst also creates a "main" cluster (port 5432) and enables its
# service, which would start at the next boot: the tests run their own servers
# (tests/support/pgrig.py), so a main cluster made by the install above is dropped. Only
# one whose directory is newer than the install's start: never an older one.
drop_new_main_clusters() {
    local since=$1 ver name rest dir
    command -v pg_lsclusters >/dev/null 2>&1 || return 0
    while read -r ver name rest; do
        [ "$name" = main ] || continue
        dir=/var/lib/postgresql/$ver/main
        if [ -d "$dir" ] && [ "$(stat -c %Y "$dir")" -ge "$since" ]; then
            echo "dropping the main cluster $ver the install created (the tests run their own)"
            pg_dropcluster --stop "$ver" main
        fi
    done < <(pg_lsclusters -h)
}

ensure_venv() {
    local stamp want
    want=$(cat "$KIT_ROOT/pyproject.toml" | sha256sum | cut -c1-16)
    stamp="$KIT_VENV/.jhub-kit-deps"
    if [ ! -x "$KIT_VENV/bin/python" ]; then
        say "creating $KIT_VENV"
        python3 -m venv "$KIT_VENV"
    fi
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        say "installing Python dependencies into $KIT_VENV"
        mkdir -p "$KIT_LOGS"
        "$KIT_VENV/bin/python" -m pip install -q -e "$KIT_ROOT[dev]" >"$KIT_LOGS/pip.log" 2>&1 \
            || { tail -30 "$KIT_LOGS/pip.log" >&2; die "pip install failed (log: $KIT_LOGS/pip.log)"; }
        echo "$want" >"$stamp"
    fi
    export PATH="$KIT_VENV/bin:$PATH"
}

# configurable-http-proxy from the npm registry, into .node/ of the checkout
# (Debian's node-configurable-http-proxy does not run on a NodeSource node).
ensure_proxy() {
    local prefix="$KIT_ROOT/.node"
    export PATH="$prefix/node_modules/.bin:$PATH"
    configurable-http-proxy --version >/dev/null 2>&1 && return 0
    say "installing configurable-http-proxy from npm into $prefix"
    mkdir -p "$KIT_LOGS"
    npm install --no-audit --no-fund --prefix "$prefix" configurable-http-proxy@4 >"$KIT_LOGS/npm.log" 2>&1 \
        || { tail -20 "$KIT_LOGS/npm.log" >&2; die "npm install configurable-http-proxy failed (log: $KIT_LOGS/npm.log)"; }
    configurable-http-proxy --version >/dev/null 2>&1 || die "configurable-http-proxy does not run (node: $(node --version 2>&1))"
}

docker_up() { timeout 10 docker info >/dev/null 2>&1; }

ensure_dockerd() {
    docker_up && return 0
    [ -n "${JHUB_KIT_NO_ROOT:-}" ] && die "no Docker engine answers; start dockerd and rerun"
    mkdir -p "$KIT_LOGS" "$KIT_STATE"
    say "starting dockerd (log: $KIT_LOGS/dockerd.log)"
    # setsid + redirected fds: the daemon must never hold the caller's terminal or pipes
    setsid dockerd >"$KIT_LOGS/dockerd.log" 2>&1 </dev/null &
    echo $! >"$KIT_STATE/dockerd.pid"
    KIT_STARTED_DOCKERD=$!
    local i
    for i in $(seq 60); do
        docker_up && return 0
        kill -0 "$KIT_STARTED_DOCKERD" 2>/dev/null || { tail -20 "$KIT_LOGS/dockerd.log" >&2; die "dockerd exited"; }
        sleep 0.5
    done
    die "dockerd did not answer within 30 s (log: $KIT_LOGS/dockerd.log)"
}

# Stop dockerd only if this script started it (and its containerd with it). The pid
# file is read again: a test that restarts the engine writes the new dockerd's pid there.
stop_dockerd_if_started() {
    [ -n "$KIT_STARTED_DOCKERD" ] || return 0
    local pid i
    pid=$(cat "$KIT_STATE/dockerd.pid" 2>/dev/null || echo "$KIT_STARTED_DOCKERD")
    say "stopping the dockerd this run started"
    kill "$pid" 2>/dev/null || true
    for i in $(seq 40); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.5
    done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$KIT_STATE/dockerd.pid"
    KIT_STARTED_DOCKERD=""
}

ensure_image() {
    mkdir -p "$KIT_LOGS"
    JHUB_KIT_TEST_IMAGE=$("$KIT_ROOT/scripts/build-singleuser-image.sh" 2>"$KIT_LOGS/image-build.log") \
        || { tail -40 "$KIT_LOGS/image-build.log" >&2; die "building the single-user image failed (log: $KIT_LOGS/image-build.log)"; }
    export JHUB_KIT_TEST_IMAGE
    say "single-user image: $JHUB_KIT_TEST_IMAGE"
    # the course image: the same and nbgrader, for the nbgrader tests only (nbgrader's
    # server extensions would slow every other test's server start)
    JHUB_KIT_TEST_COURSE_IMAGE=$(JHUB_KIT_IMAGE_EXTRA_REQS="$KIT_ROOT/tests/image/requirements-course.txt" \
        JHUB_KIT_IMAGE_REPO=jhub-kit-course \
        "$KIT_ROOT/scripts/build-singleuser-image.sh" 2>"$KIT_LOGS/course-image-build.log") \
        || { tail -40 "$KIT_LOGS/course-image-build.log" >&2; die "building the course image failed (log: $KIT_LOGS/course-image-build.log)"; }
    export JHUB_KIT_TEST_COURSE_IMAGE
    say "course image: $JHUB_KIT_TEST_COURSE_IMAGE"
}

# The VM that runs the LVM tests (scripts/build-lvm-vm.sh): qemu, a Debian guest kernel.
ensure_lvm_vm() {
    if ! command -v qemu-system-x86_64 >/dev/null 2>&1; then
        [ -n "${JHUB_KIT_NO_ROOT:-}" ] && die "qemu-system-x86 is missing (apt-get install qemu-system-x86)"
        say "installing Debian packages: qemu-system-x86"
        { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
            --no-install-recommends qemu-system-x86; } >"$KIT_LOGS/apt-qemu.log" 2>&1 \
            || { tail -30 "$KIT_LOGS/apt-qemu.log" >&2; die "apt-get install qemu-system-x86 failed"; }
    fi
    [ -n "${JHUB_KIT_NO_ROOT:-}" ] && return 0  # building the guest needs root (debootstrap)
    JHUB_KIT_LVM_VM=$("$KIT_ROOT/scripts/build-lvm-vm.sh" 2>"$KIT_LOGS/lvm-vm-build.log") \
        || { tail -40 "$KIT_LOGS/lvm-vm-build.log" >&2; die "building the LVM test VM failed (log: $KIT_LOGS/lvm-vm-build.log)"; }
    export JHUB_KIT_LVM_VM
    say "LVM test VM: $JHUB_KIT_LVM_VM"
}

# Debian's chromium, which the browser tests drive with Playwright for Python
# (Playwright's own browser download needs the internet: executable_path instead)
ensure_browser() {
    if ! command -v chromium >/dev/null 2>&1; then
        [ -n "${JHUB_KIT_NO_ROOT:-}" ] && die "chromium is missing (apt-get install chromium)"
        say "installing Debian packages: chromium"
        { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
            --no-install-recommends chromium fonts-dejavu-core; } >"$KIT_LOGS/apt-chromium.log" 2>&1 \
            || { tail -30 "$KIT_LOGS/apt-chromium.log" >&2; die "apt-get install chromium failed"; }
    fi
    export JHUB_KIT_CHROMIUM
    JHUB_KIT_CHROMIUM=$(command -v chromium)
}

# DockerSpawner's own tests, from the sdist of the installed version (its wheel has
# none): tests/system/test_conformance.py runs them with the kit in DockerSpawner's place
ensure_upstream_tests() {
    local version cache="${JHUB_KIT_CACHE:-/var/cache/jhub-kit}"
    version=$(python -c 'import dockerspawner; print(dockerspawner.__version__)')
    export JHUB_KIT_DOCKERSPAWNER_SDIST="$cache/dockerspawner-$version.tar.gz"
    [ -s "$JHUB_KIT_DOCKERSPAWNER_SDIST" ] && return 0
    say "downloading the sdist of dockerspawner $version (its own tests)"
    mkdir -p "$cache" "$KIT_LOGS"
    python -m pip download -q --no-deps --no-binary :all: --dest "$cache" \
        "dockerspawner==$version" >"$KIT_LOGS/pip-sdist.log" 2>&1 \
        || { tail -20 "$KIT_LOGS/pip-sdist.log" >&2; die "downloading dockerspawner $version's sdist failed"; }
    [ -s "$JHUB_KIT_DOCKERSPAWNER_SDIST" ] || die "no $JHUB_KIT_DOCKERSPAWNER_SDIST after the download"
}

# The other Pythons of the version matrix (noxfile.py): pyenv's, each as pythonX.Y
# in a directory of their own on PATH (pyenv's shims answer only the global one)
ensure_pythons() {
    local v found root links="$KIT_STATE/pythons"
    root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
    mkdir -p "$links"
    for v in 3.10 3.11 3.12 3.13; do
        found=$(ls -d "$root/versions/$v".*/bin/"python$v" 2>/dev/null | sort -V | tail -1)
        [ -n "$found" ] || found=$(command -v "python$v" 2>/dev/null || true)
        [ -n "$found" ] && "$found" -c 1 >/dev/null 2>&1 \
            || die "no Python $v (the version matrix needs CPython 3.10 to 3.13, e.g. pyenv's)"
        ln -sfn "$found" "$links/python$v"
    done
    export PATH="$links:$PATH"
}

ensure_all() {
    [ -n "${JHUB_KIT_NO_ROOT:-}" ] || require_root
    ensure_system_packages
    ensure_venv
    ensure_proxy
    ensure_dockerd
    ensure_image
}
