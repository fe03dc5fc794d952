"""The kit's version, kept in git with the code (read by hatchling, pyproject.toml).

Between releases it is the next release's ``.dev0``; ``scripts/release.sh --release
X.Y.Z`` sets the release. It never goes below a release in CHANGELOG.md.
"""

__version__ = "0.5.0.dev0"
