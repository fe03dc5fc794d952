"""The provisioner's state file read while another provision writes it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from jhub_kit.provision.state import StateError, StateFile


class _WrittenBetweenReads(StateFile):
    """A reader (it reads without the lock) during whose read another provision, a
    second StateFile on the same files as in another thread or process, writes the
    first record of a fresh ``base_dir``: after the reader's first file, before its
    second."""

    def __init__(self, path: Path, writer: StateFile) -> None:
        super().__init__(path)
        self.writer = writer
        self.loads = 0

    def _load(self, path: Path) -> dict[str, Any] | None:
        self.loads += 1
        if self.loads == 2:
            self.writer.put("alice", {"name": "alice"})
        return super()._load(path)


def test_a_first_write_between_a_readers_two_files_is_no_other_disk(tmp_path: Path) -> None:
    """20 first logins at once on a fresh base_dir: one was refused as "base_dir is
    not the filesystem it was" (it read no state, then the mirror the first writer
    had just written beside it) and fell back from the warm pool (CI at 26bc88d)."""
    state = tmp_path / "homes" / ".jhub-kit-state.json"
    state.parent.mkdir()
    reader = _WrittenBetweenReads(state, writer=StateFile(state))
    assert reader.read() == {"alice": {"name": "alice"}}  # the second file read is the newer
    assert reader.loads == 2


def test_a_state_missing_beside_a_mirror_listing_homes_is_still_refused(tmp_path: Path) -> None:
    state = tmp_path / "homes" / ".jhub-kit-state.json"
    state.parent.mkdir()
    StateFile(state).put("alice", {"name": "alice"})
    state.unlink()  # the disk that held it is not mounted
    with pytest.raises(StateError, match="not the filesystem it was"):
        StateFile(state).read()
