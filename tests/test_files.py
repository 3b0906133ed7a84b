"""Atomic writes: the final name holds the old file or the whole new one, never half of one."""

from __future__ import annotations

import os

import pytest

from edge_runtime import files
from edge_runtime.files import atomic_path, write_text


def test_a_write_reaches_the_disk_before_its_name_does(tmp_path, monkeypatch):
    target = tmp_path / "labels.json"
    synced: list[tuple[str, bool]] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        name = os.readlink(f"/proc/self/fd/{fd}") if os.path.exists(f"/proc/self/fd/{fd}") else "?"
        synced.append((os.path.basename(name), target.exists()))
        real_fsync(fd)

    monkeypatch.setattr(files.os, "fsync", fsync)
    write_text(target, "hello\n")
    assert target.read_text(encoding="utf-8") == "hello\n"
    assert len(synced) == 2
    (temp_name, final_existed), (folder_name, _) = synced
    assert temp_name.startswith(".labels.json.") and not final_existed  # the data, flushed before the rename
    assert folder_name == tmp_path.name  # then the folder that now names it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels.json"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "m.json"
    write_text(target, "old\n")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half", encoding="utf-8")
        raise RuntimeError("converter crashed")
    assert target.read_text(encoding="utf-8") == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json"]
