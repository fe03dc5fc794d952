"""The teacher's collect copies a submission as it is when copied
(jhub_kit/provision/nbgrader_image/jhub_kit_safecopy.py): folders and regular files
byte for byte; a link (to a file or a folder), a FIFO or the top itself a link
refuses it, never followed and never waited on."""

from __future__ import annotations

import os
import sys
import types
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parents[2] / "jhub_kit" / "provision" / "nbgrader_image"


def _module():
    """The file as the server imports it (not through the package: it has none),
    with no bytecode written into the folder mounted into the servers."""
    path = HERE / "jhub_kit_safecopy.py"
    mod = types.ModuleType("jhub_kit_safecopy")
    mod.__file__ = str(path)
    sys.modules["jhub_kit_safecopy"] = mod  # dataclasses and pickling look it up
    exec(compile(path.read_text(), str(path), "exec"), mod.__dict__)
    return mod


safecopy = _module()


@pytest.fixture
def submission(tmp_path):
    src = tmp_path / "inbound" / "ann" / "ann+ps1+2026-12-07 10:00:00.000000 UTC+abc"
    (src / "data").mkdir(parents=True)
    (src / "ps1.ipynb").write_bytes(b'{"cells": []}\n' * 1000)
    (src / "data" / "t.csv").write_text("a,b\n1,2\n")
    (src / ".ipynb_checkpoints").mkdir()
    (src / ".ipynb_checkpoints" / "x").write_text("old")
    os.chmod(src / "ps1.ipynb", 0o640)
    return src


def test_folders_and_files_are_copied_byte_for_byte(submission, tmp_path):
    dest = tmp_path / "submitted" / "ann" / "ps1"
    dest.parent.mkdir(parents=True)
    safecopy.copy_submission(str(submission), str(dest), lambda d, names: [".ipynb_checkpoints"])
    got = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*"))
    assert got == ["data", "data/t.csv", "ps1.ipynb"]
    assert (dest / "ps1.ipynb").read_bytes() == (submission / "ps1.ipynb").read_bytes()
    assert (dest / "ps1.ipynb").stat().st_mtime_ns == (submission / "ps1.ipynb").stat().st_mtime_ns
    assert (dest / "ps1.ipynb").stat().st_mode & 0o777 == 0o640


@pytest.mark.parametrize("kind", ["file-link", "folder-link", "fifo", "top-link"])
def test_a_link_or_a_fifo_refuses_the_submission(submission, tmp_path, kind):
    secret = tmp_path / "staff" / "source" / "ps1"
    secret.mkdir(parents=True)
    (secret / "ps1.ipynb").write_text("the solutions")
    src = submission
    if kind == "file-link":
        (submission / "ps1.ipynb").unlink()
        (submission / "ps1.ipynb").symlink_to(secret / "ps1.ipynb")
    elif kind == "folder-link":
        (submission / "data" / "t.csv").unlink()
        (submission / "data").rmdir()
        (submission / "data").symlink_to(secret)
    elif kind == "fifo":
        os.mkfifo(submission / "data" / "pipe")  # opened at once, never read
    else:
        src = tmp_path / "inbound" / "ann" / "ann+ps1+link"
        src.symlink_to(secret)
    dest = tmp_path / "submitted-ps1"
    with pytest.raises(safecopy.UnsafeSubmission):
        safecopy.copy_submission(str(src), str(dest))
    copied = [p.read_bytes() for p in dest.rglob("*") if p.is_file()] if dest.exists() else []
    assert b"the solutions" not in copied
