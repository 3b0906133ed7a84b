"""sign-import: a user's MP_Data folders and the shared per-person files (fixed or variable length) become signedge
datasets."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from helpers import exit_code

from edge_runtime.dataset import Dataset
from train.cli.import_ import main

FRAMES = 6


def holistic_frame(rng: np.random.Generator, face: bool = True, left: bool = True, right: bool = True) -> np.ndarray:
    pose = rng.random(33 * 4)
    parts = [pose]
    if face:
        parts.append(rng.random(468 * 3))
    parts.append(rng.random(63) if left else np.zeros(63))
    parts.append(rng.random(63) if right else np.zeros(63))
    return np.concatenate(parts).astype(np.float64)


def make_mpdata(root: Path, labels=("hello", "thanks"), recordings: int = 2, face: bool = True) -> Path:
    rng = np.random.default_rng(0)
    for label in labels:
        for r in range(recordings):
            folder = root / label / str(r)
            folder.mkdir(parents=True)
            for f in range(FRAMES):
                np.save(folder / f"{f}.npy", holistic_frame(rng, face=face, right=f % 2 == 0))
    return root


@pytest.mark.parametrize("face", [True, False], ids=["1662-values", "258-values"])
def test_mpdata_folder_becomes_a_dataset(tmp_path, face, capsys):
    src = make_mpdata(tmp_path / "MP_Data", face=face)
    out = tmp_path / "alice"
    assert exit_code(main, ["mpdata", str(src), str(out), "--signer", "alice"]) == 0
    assert "imported 4 recordings of 2 labels" in capsys.readouterr().out
    ds = Dataset(out)
    assert ds.labels == ["hello", "thanks"] and {r.signer for r in ds.rows} == {"alice"}
    rec = ds.load(0)
    assert rec.num_frames == FRAMES and rec.pose.shape == (FRAMES, 33, 4)
    # the right hand was all zeros (not detected) in odd frames: missing, not a hand at the origin
    assert rec.present[:, 1].tolist() == [f % 2 == 0 for f in range(FRAMES)]
    assert rec.present[:, 0].all() and not rec.landmarks[1, 1].any()
    # Holistic's left hand is slot 0 unchanged: the values right before the right hand's 63
    vec = np.load(src / rec.label / rec.extra["recording"] / "0.npy")
    np.testing.assert_allclose(rec.landmarks[0, 0].ravel(), vec[-126:-63], rtol=1e-6)
    assert ds.validate() == []


def test_bad_mpdata_layouts_name_the_file(tmp_path, capsys):
    src = make_mpdata(tmp_path / "a")
    np.save(src / "hello" / "0" / "3.npy", np.zeros(100))
    assert exit_code(main, ["mpdata", str(src), str(tmp_path / "out-a")]) == 2
    err = capsys.readouterr().err
    assert "3.npy: frame has 100 values" in err and err.count("\n") == 1
    assert not (tmp_path / "out-a").exists()

    src = make_mpdata(tmp_path / "b")
    (src / "thanks" / "1" / "2.npy").unlink()
    assert exit_code(main, ["mpdata", str(src), str(tmp_path / "out-b")]) == 2
    assert "missing frame(s) 2.npy" in capsys.readouterr().err

    src = make_mpdata(tmp_path / "c")
    (src / "empty").mkdir()
    assert exit_code(main, ["mpdata", str(src), str(tmp_path / "out-c")]) == 2
    assert "empty: empty label folder" in capsys.readouterr().err


def test_existing_output_is_kept_without_force(tmp_path, capsys):
    src = make_mpdata(tmp_path / "MP_Data")
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert exit_code(main, ["mpdata", str(src), str(out)]) == 2
    assert "--force" in capsys.readouterr().err and (out / "keep.txt").exists()


def test_person_npz_missing_array_or_wrong_shape_is_one_line(tmp_path, capsys):
    np.savez(tmp_path / "p.npz", left_hand=np.zeros((2, 5, 21, 3)), labels=np.array(["a", "b"]))
    assert exit_code(main, ["npz", str(tmp_path / "p.npz"), str(tmp_path / "o1")]) == 2
    assert "p.npz: missing array 'right_hand'" in capsys.readouterr().err
    np.savez(tmp_path / "q.npz", left_hand=np.zeros((2, 5, 21, 2)), right_hand=np.zeros((2, 5, 21, 2)),
             labels=np.array(["a", "b"]))
    assert exit_code(main, ["npz", str(tmp_path / "q.npz"), str(tmp_path / "o2")]) == 2
    assert "q.npz: left_hand/right_hand must both be [N, T, 21, 3]" in capsys.readouterr().err
    (tmp_path / "r.npz").write_bytes(b"not a zip file")  # not an .npz at all, with the default --coord-frame auto
    assert exit_code(main, ["npz", str(tmp_path / "r.npz"), str(tmp_path / "o3")]) == 2
    err = capsys.readouterr().err
    assert "r.npz: cannot read as .npz" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not any((tmp_path / name).exists() for name in ("o1", "o2", "o3"))


def test_shared_asl_people_import(shared_dir, tmp_path):
    files = sorted((shared_dir / "data" / "asl-mpdata").glob("*.npz"))[:2]
    out = tmp_path / "asl"
    assert exit_code(main, ["npz", *map(str, files), str(out)]) == 0
    ds = Dataset(out)
    assert {r.signer for r in ds.rows} == {f.stem for f in files}
    assert ds.labels == ["hello", "iloveyou", "thanks"] and ds.info.coord_frame == "image"
    # each recording is its own group: a person's recordings are independent performances
    assert len({r.group for r in ds.rows}) == len(ds)


def test_shared_ksl_views_of_one_performance_share_a_group(shared_dir, tmp_path):
    src = shared_dir / "data" / "ksl-aihub-keypoints" / "REAL01.npz"
    out = tmp_path / "ksl"
    assert exit_code(main, ["npz", str(src), str(out)]) == 0
    ds = Dataset(out)
    assert ds.info.coord_frame == "shoulder"
    groups: dict[str, set[str]] = {}
    for i, row in enumerate(ds.rows):
        rec = ds.load(i)
        assert rec.group == f"REAL01-{rec.extra['word_id']}" and rec.aspect == 1.0
        groups.setdefault(row.group, set()).add(rec.extra["view"])
    assert max(len(v) for v in groups.values()) == 5  # D, F, L, R, U of one performance in one group


# ---------------------------------------------------------------- variable-length per-person files (mpdata-words)

LENGTHS = (5, 9, 7)


def make_words_npz(path: Path, **replace: np.ndarray) -> Path:
    """A person's file like ../shared/data/mpdata-words: three recordings of 5, 9 and 7 frames, concatenated."""
    rng = np.random.default_rng(1)
    frames = sum(LENGTHS)
    arrays = {
        "left_hand": rng.random((frames, 21, 3)).astype(np.float16),
        "right_hand": rng.random((frames, 21, 3)).astype(np.float16),
        "pose": rng.random((frames, 33, 3)).astype(np.float16),
        "lengths": np.array(LENGTHS, np.int32),
        "labels": np.array(["hello", "thankyou", "hello"]),
        "source_labels": np.array(["hello", "thanks", "hi"]),
        "sequence_id": np.array(["anna/signs:MP_Data/hello/0", "anna/signs:MP_Data/thanks/0", "anna/signs:MP_Data/hi/3"]),
        "repo": np.array(["anna/signs"] * 3),
        "language": np.array(["ASL", "ISL", "unspecified"]),
        "left_hand_near_pose15": np.array([0.9, np.nan, 0.5], np.float32),
    }
    arrays["right_hand"][:4] = 0  # the right hand was not detected in the first recording's first four frames
    arrays.update(replace)
    np.savez(path, **arrays)
    return path


def test_variable_length_person_file_becomes_a_dataset(tmp_path, capsys):
    src = make_words_npz(tmp_path / "anna.npz")
    out = tmp_path / "words"
    assert exit_code(main, ["npz", str(src), str(out)]) == 0
    assert "imported 3 recordings of 2 labels (hello, thankyou) by 1 signer(s)" in capsys.readouterr().out
    ds = Dataset(out)
    recs = sorted(ds, key=lambda r: r.extra["recording"])
    assert [r.num_frames for r in recs] == list(LENGTHS) and [r.label for r in recs] == ["hello", "thankyou", "hello"]
    assert [r.extra["language"] for r in recs] == ["ASL", "ISL", "unspecified"]
    assert recs[1].extra["source_labels"] == "thanks" and recs[2].extra["sequence_id"] == "anna/signs:MP_Data/hi/3"
    assert recs[0].extra["repo"] == "anna/signs" and recs[0].extra["left_hand_near_pose15"] == pytest.approx(0.9)
    assert "left_hand_near_pose15" not in recs[1].extra  # NaN in the file: nothing known, nothing kept
    # the last recording is frames 14..20 of the file, float16 made float32, its pose kept
    with np.load(src) as data:
        np.testing.assert_array_equal(recs[2].landmarks[:, 1], data["right_hand"][14:21].astype(np.float32))
        np.testing.assert_array_equal(recs[2].pose, data["pose"][14:21].astype(np.float32))
    assert recs[2].landmarks.dtype == np.float32 and recs[2].pose.shape == (7, 33, 3)
    # zeros where the right hand was not detected: missing, not a hand at the origin
    assert recs[0].present[:, 1].tolist() == [False] * 4 + [True] and recs[0].present[:, 0].all()
    # one person (the file stem); every recording an independent performance, its own group
    assert {r.signer for r in recs} == {"anna"} and len({r.group for r in recs}) == 3
    assert ds.validate() == []


def test_variable_length_file_that_names_groups_keeps_them(tmp_path):
    src = make_words_npz(tmp_path / "anna.npz", group=np.array(["take1", "take1", "take2"]))
    assert exit_code(main, ["npz", str(src), str(tmp_path / "out")]) == 0
    recs = sorted(Dataset(tmp_path / "out"), key=lambda r: r.extra["recording"])
    assert [r.group for r in recs] == ["anna-take1", "anna-take1", "anna-take2"]


@pytest.mark.parametrize("broken, message", [
    ({"lengths": np.array([5, 9, 6], np.int32)}, "lengths add up to 20 frames, but left_hand has 21"),
    ({"right_hand": np.ones((20, 21, 3), np.float16)}, "left_hand has 21 frames, right_hand has 20 frames"),
    ({"labels": np.array(["hello", "thankyou"])}, "labels has 2 entries for the 3 recordings in lengths"),
    ({"lengths": np.array([5, 0, 16], np.int32)}, "recording 1 has length 0"),
], ids=["lengths-sum", "right-hand-short", "labels-short", "zero-length"])
def test_broken_variable_length_file_is_one_line_naming_it(tmp_path, capsys, broken, message):
    src = make_words_npz(tmp_path / "bob.npz", **broken)
    out = tmp_path / "out"
    assert exit_code(main, ["npz", str(src), str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"sign-import: error: {src}: ") and message in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not out.exists() and not (tmp_path / "out.importing").exists()


def test_shared_mpdata_words_people_import(shared_dir, tmp_path):
    # one person with recordings of 12 different lengths (30 to 78 frames), one whose language is stated (VSL)
    files = [shared_dir / "data" / "mpdata-words" / f"gh-{p}.npz" for p in ("jefferyjiang-yf", "ptiteze")]
    if not all(f.is_file() for f in files):
        pytest.skip(f"needs {', '.join(f.name for f in files)}")
    out = tmp_path / "words"
    assert exit_code(main, ["npz", *map(str, files), str(out)]) == 0
    ds = Dataset(out)
    assert ds.info.coord_frame == "image" and len({r.group for r in ds.rows}) == len(ds)
    for f in files:
        rows = [r for r in ds.rows if r.signer == f.stem]
        with np.load(f) as data:
            assert Counter(r.frames for r in rows) == Counter(data["lengths"].tolist())
            assert Counter(r.label for r in rows) == Counter(data["labels"].tolist())
            languages = set(data["language"].tolist())
        rec = ds.load(ds.rows.index(rows[0]))
        assert rec.extra["language"] in languages and rec.pose.shape == (rec.num_frames, 33, 3)
