"""Recordings and manifests on disk: round trips, Korean labels with commas, and broken files named."""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path

import numpy as np
import pytest

from edge_runtime import dataset
from edge_runtime.dataset import (
    Dataset,
    DatasetInfo,
    Recording,
    load_recording,
    read_manifest,
    recording_filename,
    save_recording,
    write_manifest,
)
from edge_runtime.errors import DatasetError


def make_recording(label: str = "수학", source: str = "video-1", frames: int = 12, signer: str = "s1") -> Recording:
    rng = np.random.default_rng(len(source) + frames)
    present = np.ones((frames, 2), bool)
    present[3:5, 1] = False
    lm = rng.random((frames, 2, 21, 3)).astype(np.float32)
    lm[~present] = 0
    return Recording(landmarks=lm, present=present, label=label, fps=30.0, source_id=source, signer=signer,
                     aspect=16 / 9, extra={"view": "F"})


def write_dataset(folder: Path, recs: list[Recording]) -> Path:
    dataset.write_dataset(folder, recs, DatasetInfo(synthetic=True, description="test"))
    return folder


def test_recording_round_trip_keeps_arrays_and_metadata(tmp_path):
    rec = make_recording()
    save_recording(tmp_path / "a.npz", rec)
    back = load_recording(tmp_path / "a.npz")
    np.testing.assert_array_equal(back.landmarks, rec.landmarks)
    np.testing.assert_array_equal(back.present, rec.present)
    assert (back.label, back.signer, back.source_id, back.group, back.fps) == ("수학", "s1", "video-1", "video-1", 30.0)
    assert back.aspect == pytest.approx(16 / 9) and back.extra == {"view": "F"}
    assert back.hand_frames == 12 and back.num_frames == 12
    # no pickle: numpy can read every array with allow_pickle=False
    with np.load(tmp_path / "a.npz", allow_pickle=False) as data:
        assert set(data.files) == {"landmarks", "present", "score", "meta"}


def test_dataset_with_korean_comma_labels_round_trips_through_the_manifest(tmp_path):
    recs = [make_recording("형,오빠", "v1"), make_recording("형,오빠", "v2"), make_recording("일요일", "v3")]
    write_dataset(tmp_path, recs)
    text = (tmp_path / "manifest.csv").read_text(encoding="utf-8")
    assert '"형,오빠"' in text  # quoted, so the comma is not a column separator
    with open(tmp_path / "manifest.csv", encoding="utf-8", newline="") as fh:
        assert [r["label"] for r in csv.DictReader(fh)].count("형,오빠") == 2
    ds = Dataset(tmp_path)
    assert ds.labels == ["일요일", "형,오빠"]
    assert [r.label for r in ds] == [r.label for r in ds.rows]
    assert ds.validate() == []
    assert ds.info.synthetic is True


def test_corrupt_file_is_named_with_the_reason(tmp_path):
    write_dataset(tmp_path, [make_recording("a", "v1"), make_recording("b", "v2")])
    broken = tmp_path / recording_filename("b", "v2")
    broken.write_bytes(b"this is not an npz file")
    problems = Dataset(tmp_path).validate()
    assert len(problems) == 1 and str(broken) in problems[0] and "cannot read" in problems[0]


def test_truncated_and_wrong_shape_recordings_are_refused(tmp_path):
    rec = make_recording()
    save_recording(tmp_path / "ok.npz", rec)
    data = (tmp_path / "ok.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetError, match="cut.npz: cannot read"):
        load_recording(tmp_path / "cut.npz")
    np.savez(tmp_path / "shape.npz", landmarks=np.zeros((5, 21, 3)), present=np.zeros((5, 2), bool),
             meta=np.array('{"label": "x", "fps": 30, "source_id": "s"}'))
    with pytest.raises(DatasetError, match=r"shape.npz: landmarks must be \[N, 2, 21, 3\]"):
        load_recording(tmp_path / "shape.npz")
    with zipfile.ZipFile(tmp_path / "other.npz", "w") as z:
        z.writestr("x.npy", b"")
    with pytest.raises(DatasetError, match="not a signedge recording"):
        load_recording(tmp_path / "other.npz")


def test_invalid_recordings_never_reach_disk(tmp_path):
    rec = make_recording(frames=4)
    rec.fps = 0
    with pytest.raises(DatasetError, match="fps"):
        save_recording(tmp_path / "x.npz", rec)
    assert list(tmp_path.iterdir()) == []
    for bad in ("", "two\nlines", " padded"):
        with pytest.raises(DatasetError):
            save_recording(tmp_path / "y.npz", make_recording(label=bad))
    assert list(tmp_path.iterdir()) == []


def test_manifest_problems_are_clear(tmp_path):
    with pytest.raises(DatasetError, match="dataset folder not found"):
        Dataset(tmp_path / "nope")
    with pytest.raises(DatasetError, match="no manifest.csv"):
        Dataset(tmp_path)
    write_manifest(tmp_path, [])
    with pytest.raises(DatasetError, match="lists no recordings"):
        read_manifest(tmp_path)
    (tmp_path / "manifest.csv").write_text("file,label\nx.npz,a\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="missing columns"):
        read_manifest(tmp_path)


def test_label_mismatch_between_manifest_and_file_is_caught(tmp_path):
    write_dataset(tmp_path, [make_recording("a", "v1")])
    text = (tmp_path / "manifest.csv").read_text(encoding="utf-8").replace(",a,", ",b,")
    (tmp_path / "manifest.csv").write_text(text, encoding="utf-8")
    with pytest.raises(DatasetError, match="differs from the manifest"):
        Dataset(tmp_path).load(0)


def test_pose_is_optional_and_checked(tmp_path):
    rec = make_recording(frames=6)
    rec.pose = np.ones((6, 33, 4), np.float32)
    save_recording(tmp_path / "p.npz", rec)
    np.testing.assert_array_equal(load_recording(tmp_path / "p.npz").pose, rec.pose)
    assert load_recording(write_dataset(tmp_path / "d", [make_recording()]) / recording_filename("수학", "video-1")).pose is None
    rec.pose = np.ones((5, 33, 4), np.float32)
    with pytest.raises(DatasetError, match="pose must be"):
        save_recording(tmp_path / "q.npz", rec)


def test_duplicate_source_ids_are_refused(tmp_path):
    with pytest.raises(DatasetError, match="source ids must be unique"):
        write_dataset(tmp_path, [make_recording("a", "v1"), make_recording("a", "v1")])


def test_file_names_are_safe_but_readable():
    assert recording_filename("형,오빠", "가족__형,오빠") == "recordings/형_오빠/가족__형_오빠.npz"
    assert recording_filename("../x", "a/b") == "recordings/x/a_b.npz"
