"""``sign-extract``: videos in, a dataset of hand keypoints out; bad inputs are one line and leave nothing."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import exit_code, need

from edge_runtime.dataset import Dataset, read_manifest
from edge_runtime.errors import DatasetError
from edge_runtime.files import sha256_file
from train.cli.extract import main
from train.extract.config import ExtractConfig
from train.extract.plan import plan_jobs
from train.text import format_table


def write_blank_video(path: Path, frames: int = 8) -> Path:
    """A tiny video with no hands in it (moving grey squares)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (96, 64))
    for k in range(frames):
        image = np.full((64, 96, 3), 40, np.uint8)
        cv2.rectangle(image, (4 * k, 10), (4 * k + 20, 30), (200, 200, 200), -1)
        writer.write(image)
    writer.release()
    return path


@pytest.fixture(scope="module")
def mediapipe_installed() -> None:
    need("mediapipe")


def ksl_manifest(ksl_videos: list[Path]) -> dict[str, dict[str, str]]:
    with open(ksl_videos[0].parent / "manifest.csv", encoding="utf-8", newline="") as fh:
        return {row["file"]: row for row in csv.DictReader(fh)}


@pytest.mark.slow
@pytest.mark.shared
def test_all_shared_ksl_videos_become_31_recordings_with_hands(
        mediapipe_installed: None, ksl_videos: list[Path], hand_task: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    video_dir = ksl_videos[0].parent
    expected = ksl_manifest(ksl_videos)
    out = tmp_path / "ksl"
    args = [str(video_dir), str(out), "--manifest", str(video_dir / "manifest.csv"), "--landmarks", "mediapipe",
            "--hand-model", str(hand_task), "--workers", "2", "--max-width", "640", "--signer", "expert",
            "--no-progress"]
    assert exit_code(main, args) == 0
    report = capsys.readouterr().out
    with capsys.disabled():
        print("\n" + report)  # the summary figure, shown with pytest -s

    ds = Dataset(out)
    assert len(ds) == len(expected) == 31
    assert sorted(ds.labels) == sorted(row["word"] for row in expected.values())  # incl. "형,오빠"
    assert ds.info.landmark_backend == "mediapipe" and ds.info.coord_frame == "image" and not ds.info.synthetic
    assert ds.info.landmark_model_sha256 == sha256_file(hand_task)
    frames = hands = 0
    for rec in ds:
        row = expected[rec.extra["video"]]
        assert rec.label == row["word"] and rec.signer == "expert"
        assert rec.source_id == Path(row["file"]).stem and rec.group == rec.source_id
        assert rec.num_frames == int(row["frames"]) and rec.fps == pytest.approx(float(row["fps"]), abs=0.01)
        assert rec.aspect == pytest.approx(16 / 9) and (rec.extra["width"], rec.extra["height"]) == (640, 360)
        assert rec.hand_frames > 0.2 * rec.num_frames  # every video: hands in a good share of its frames
        assert np.all(rec.score[rec.present] > 0)
        frames += rec.num_frames
        hands += rec.hand_frames
    assert hands > 0.5 * frames  # the signers rest their hands out of the picture before and after each sign
    assert "31 new, 0 kept" in report and f"with at least one hand: {hands}" in report
    assert "형,오빠" in report

    # A second run finds every recording in place and redoes nothing.
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.npz")}
    assert exit_code(main, args) == 0
    assert "0 new, 31 kept" in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.npz")} == before


@pytest.fixture()
def mixed_folder(ksl_videos: list[Path], tmp_path: Path) -> Path:
    """Two real videos (linked, not copied), one without hands and one corrupt, named <category>__<word>."""
    folder = tmp_path / "videos"
    folder.mkdir()
    for name in ("가족__남편.mp4", "시간__오늘.mp4"):
        (folder / name).symlink_to(next(v for v in ksl_videos if v.name == name))
    write_blank_video(folder / "테스트__빈화면.mp4")
    (folder / "테스트__깨짐.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 100)
    return folder


@pytest.mark.parametrize("backend", ["mediapipe", "litert"])
def test_failed_videos_are_reported_and_the_good_ones_kept(
        backend: str, mixed_folder: Path, hand_task: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    if backend == "mediapipe":
        need("mediapipe")
    else:
        need("edge_runtime.landmarks.litert")
    out = tmp_path / "out"
    code = exit_code(main, [str(mixed_folder), str(out), "--label-from", "stem-suffix", "--landmarks", backend,
                    "--hand-model", str(hand_task), "--workers", "2", "--max-width", "640", "--no-progress"])
    captured = capsys.readouterr()
    assert code == 1
    assert "2 of 4 videos failed" in captured.err
    assert "테스트__빈화면.mp4: no hand found in any of its 8 frames" in captured.err
    assert "테스트__깨짐.mp4: " in captured.err and "Traceback" not in captured.err
    rows = read_manifest(out)
    assert sorted(r.label for r in rows) == ["남편", "오늘"]
    assert sorted(p.name for p in out.rglob("*.npz")) == ["가족__남편.npz", "시간__오늘.npz"]
    assert json.loads((out / "dataset.json").read_text(encoding="utf-8"))["landmark_backend"] == backend
    husband = Dataset(out).load([r.file for r in rows].index("recordings/남편/가족__남편.npz"))
    both = husband.present.all(axis=1)
    assert both.sum() > 20
    # Slot 1 is the signer's right hand: in this un-mirrored video it is on the image's left.
    assert np.median(husband.landmarks[both, 0, 0, 0] - husband.landmarks[both, 1, 0, 0]) > 0.05


def test_a_folder_without_videos_is_one_line_and_leaves_nothing(tmp_path: Path, hand_task: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty"
    (empty / "hello").mkdir(parents=True)
    (empty / "hello" / "notes.txt").write_text("not a video")
    out = tmp_path / "out"
    assert exit_code(main, [str(empty), str(out), "--hand-model", str(hand_task)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("sign-extract: error:") and "no videos found" in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_no_hand_model_anywhere_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # no bundle from sign-models there
    write_blank_video(tmp_path / "videos" / "hello" / "a.mp4")
    assert exit_code(main, [str(tmp_path / "videos"), str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "no hand model" in err and "sign-models" in err and str(tmp_path / "cache") in err
    assert exit_code(main, [str(tmp_path / "videos"), str(tmp_path / "out"), "--hand-model", str(tmp_path / "x.task")]) == 2
    assert "hand model file not found" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_labels_from_folders_names_or_a_manifest(tmp_path: Path) -> None:
    videos = tmp_path / "videos"
    for rel in ("hello/a.mp4", "hello/b.mp4", "thanks/take1/c.mp4"):
        write_blank_video(videos / rel, frames=2)
    jobs = plan_jobs(ExtractConfig(videos, tmp_path / "out"))
    assert [(j.label, j.source_id, j.file) for j in jobs] == [
        ("hello", "hello/a", "recordings/hello/hello_a.npz"), ("hello", "hello/b", "recordings/hello/hello_b.npz"),
        ("thanks", "thanks/take1/c", "recordings/thanks/thanks_take1_c.npz")]
    jobs = plan_jobs(ExtractConfig(videos, tmp_path / "out", label_from="stem"))
    assert [j.label for j in jobs] == ["a", "b", "c"]

    table = tmp_path / "labels.csv"  # Excel-style: BOM, quoted comma, extra columns, signer column
    table.write_text('\ufeffcategory,path,word,signer\n가족,hello/a.mp4,"형,오빠",kim\n가족,hello/b.mp4,누나,\n',
                     encoding="utf-8")
    jobs = plan_jobs(ExtractConfig(videos, tmp_path / "out", manifest=table, signer="lee"))
    assert [(j.label, j.signer, j.rel) for j in jobs] == [("형,오빠", "kim", "hello/a.mp4"),
                                                          ("누나", "lee", "hello/b.mp4")]
    with pytest.raises(DatasetError, match="no column 'gloss'"):
        plan_jobs(ExtractConfig(videos, tmp_path / "out", manifest=table, label_column="gloss"))

    write_blank_video(videos / "loose.mp4", frames=2)
    with pytest.raises(DatasetError, match="sit directly in the folder"):
        plan_jobs(ExtractConfig(videos, tmp_path / "out"))
    with pytest.raises(DatasetError, match="no '__' in the file name"):
        plan_jobs(ExtractConfig(videos, tmp_path / "out", label_from="stem-suffix"))


def test_two_videos_that_would_share_a_recording_file_are_refused(tmp_path: Path) -> None:
    videos = tmp_path / "videos"
    write_blank_video(videos / "x" / "a b.mp4", frames=2)
    write_blank_video(videos / "x" / "a_b.mp4", frames=2)
    with pytest.raises(DatasetError, match=r"would both be saved as recordings/x/x_a_b\.npz"):
        plan_jobs(ExtractConfig(videos, tmp_path / "out"))


def test_a_dataset_from_another_backend_is_not_mixed(mediapipe_installed: None, tmp_path: Path, hand_task: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    write_blank_video(tmp_path / "videos" / "hello" / "a.mp4")
    out = tmp_path / "out"
    out.mkdir()
    (out / "dataset.json").write_text(json.dumps({"landmark_backend": "litert", "landmark_model_sha256": "ab" * 32}))
    assert exit_code(main, [str(tmp_path / "videos"), str(out), "--landmarks", "mediapipe", "--hand-model",
                    str(hand_task)]) == 2
    assert "features would not match" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["dataset.json"]


def test_tables_align_wide_characters() -> None:
    lines = format_table(("label", "n"), [("형,오빠", 1), ("hello", 12)]).splitlines()
    assert lines[2] == "형,오빠   1"  # Hangul counts two columns: "형,오빠" is 7 wide like "-------"
    assert lines[3] == "hello    12"  # numbers right-aligned
    assert lines[1] == "-------  --"
