#!/usr/bin/env bash
# Build a release and check it, offline: the sdist and the wheel from the checkout
# (version: jhub_kit/_version.py, kept in git), `twine check`, the wheel's contents,
# and the wheel installed alone into a fresh virtualenv. The version never goes
# backwards: it must be above every release CHANGELOG.md lists, or be the newest.
#   ./scripts/release.sh [OUTDIR]                    check the checkout's version
#   ./scripts/release.sh --release X.Y.Z [OUTDIR]    set jhub_kit/_version.py to X.Y.Z
#       (CHANGELOG.md must have its "## [X.Y.Z] - DATE" section), then build and check
# Committing, tagging, the next .dev0 and publishing stay manual steps (printed):
#   twine upload dist/jhub_kit-VERSION*
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
release=""
if [ "${1:-}" = "--release" ]; then
    release=${2:?--release needs a version, e.g. 0.5.0}
    shift 2
fi
out=$(realpath -m "${1:-$here/dist}")
py=${PYTHON:-$here/.venv/bin/python}
say() { echo "[release] $*" >&2; }

# the version file and the changelog agree, and nothing goes backwards
"$py" - "$here" "$release" <<'PY'
import re, sys
from pathlib import Path
from packaging.version import InvalidVersion, Version

here, release = Path(sys.argv[1]), sys.argv[2]
vfile = here / "jhub_kit" / "_version.py"
text = vfile.read_text()
found = re.search(r'^__version__ = "([^"]+)"$', text, re.M)
if not found:
    sys.exit(f"[release] no __version__ = \"...\" line in {vfile}")
current = Version(found.group(1))
changelog = (here / "CHANGELOG.md").read_text()
released = [Version(v) for v in re.findall(r"^## \[(\d[^\]]*)\] - ", changelog, re.M)]
newest = max(released, default=Version("0"))
if release:
    try:
        wanted = Version(release)
    except InvalidVersion:
        sys.exit(f"[release] {release!r} is not a version (X.Y.Z)")
    if wanted.is_devrelease or wanted.local or wanted < current:
        sys.exit(f"[release] {wanted} would go back from {current} ({vfile})")
    if wanted not in released:
        sys.exit(f"[release] CHANGELOG.md has no section ## [{wanted}] - DATE: write it first")
    if wanted != newest:
        sys.exit(f"[release] {wanted} is not the newest release in CHANGELOG.md ({newest})")
    vfile.write_text(text.replace(found.group(0), f'__version__ = "{wanted}"'))
    print(f"[release] {vfile.relative_to(here)}: {current} -> {wanted}", file=sys.stderr)
elif not (current > newest or (current == newest and not current.is_devrelease)):
    sys.exit(
        f"[release] {vfile.relative_to(here)} says {current}, not above {newest}, the newest "
        "release in CHANGELOG.md: set the next version's .dev0"
    )
PY

rm -rf "$out" && mkdir -p "$out"
say "building the sdist and the wheel in $out"
# --no-isolation: hatchling from the dev extra, nothing downloaded
"$py" -m build --no-isolation --sdist --wheel --outdir "$out" "$here" >"$out/build.log" 2>&1 \
    || { tail -30 "$out/build.log" >&2; exit 1; }
wheel=$(ls "$out"/jhub_kit-*.whl)
sdist=$(ls "$out"/jhub_kit-*.tar.gz)
"$py" -m twine check --strict "$wheel" "$sdist" >&2

say "the wheel holds what runs outside Python's imports"
"$py" - "$wheel" <<'PY'
import sys, zipfile
names = set(zipfile.ZipFile(sys.argv[1]).namelist())
need = [
    "jhub_kit/py.typed",
    "jhub_kit/_version.py",
    "jhub_kit/pool/launcher.py",
    "jhub_kit/culler/idle_culler_config.py",
    "jhub_kit/views/templates/home.html",
    "jhub_kit/views/dashboard/templates/index.html",
]
missing = [n for n in need if n not in names]
assert not missing, f"missing from the wheel: {missing}"
assert not any(n.startswith(("tests/", "docs/")) for n in names), "tests or docs in the wheel"
PY

say "installing the wheel alone into a fresh virtualenv"
venv=$(mktemp -d)
trap 'rm -rf "$venv"' EXIT
"$py" -m venv "$venv"
"$venv/bin/pip" install -q --no-deps --no-index "$wheel"
# -I: the wheel's jhub_kit, not a checkout in the working directory
version=$("$venv/bin/python" -I -c 'import jhub_kit; print(jhub_kit.__version__)')
case "$version" in ""|0+unknown) say "no version in the wheel: $version"; exit 1 ;; esac
want=$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$here/jhub_kit/_version.py")
[ "$version" = "$want" ] || { say "the wheel says $version, jhub_kit/_version.py $want"; exit 1; }
say "jhub_kit $version: $(basename "$wheel"), $(basename "$sdist")"
if [ -n "$release" ]; then
    say "next: git commit -m 'Release $release' jhub_kit/_version.py CHANGELOG.md;" \
        "git tag v$release; twine upload $out/jhub_kit-$release*;" \
        "then set jhub_kit/_version.py to the next version's .dev0 and commit it"
fi
echo "$version"
