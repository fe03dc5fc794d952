#!/usr/bin/env bash
# Build a release and check it, offline: the sdist and the wheel from the checkout
# (version: the git tag, see CHANGELOG.md), `twine check`, the wheel's contents,
# and the wheel installed alone into a fresh virtualenv. Publishing stays a manual
# step:  twine upload dist/jhub_kit-VERSION*
#   ./scripts/release.sh [OUTDIR]       (default: dist/)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out=$(realpath -m "${1:-$here/dist}")
py=${PYTHON:-$here/.venv/bin/python}
say() { echo "[release] $*" >&2; }

rm -rf "$out" && mkdir -p "$out"
say "building the sdist and the wheel in $out"
# --no-isolation: hatchling and hatch-vcs from the dev extra, nothing downloaded
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
version=$("$venv/bin/python" -c 'import jhub_kit; print(jhub_kit.__version__)')
case "$version" in ""|0+unknown) say "no version in the wheel: $version"; exit 1 ;; esac
say "jhub_kit $version: $(basename "$wheel"), $(basename "$sdist")"
echo "$version"
