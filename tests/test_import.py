"""sign-import: a user's MP_Data folders and the shared per-person files become signedge datasets."""

from __future__ import annotations

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
