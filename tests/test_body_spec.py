"""A feature spec with a body reference, as a user meets it: it trains and exports on a set with a pose, and the
device, which runs no pose stage, refuses it in one line."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("keras")

from helpers import FAST_TRAIN, exit_code  # noqa: E402

from edge_runtime.cli.recognize import main as recognize  # noqa: E402
from edge_runtime.dataset import Dataset, DatasetInfo, write_dataset  # noqa: E402
from export.cli.tflite import main as export  # noqa: E402
from train.cli.train import main as train  # noqa: E402
from train.synth.config import SynthConfig  # noqa: E402
from train.synth.writer import make_dataset  # noqa: E402

pytestmark = pytest.mark.slow


def _pose(frames: int, rng: np.random.Generator) -> np.ndarray:
    """A still upper body, slightly different per recording: shoulders, nose and eyes found, the rest not."""
    pose = np.zeros((frames, 33, 4), np.float32)
    dx = rng.normal(0, 0.01)
    pose[:, 11, :2], pose[:, 12, :2] = (0.62 + dx, 0.8), (0.38 + dx, 0.8)
    pose[:, 0, :2], pose[:, 2, :2], pose[:, 5, :2] = (0.5 + dx, 0.45), (0.52 + dx, 0.42), (0.48 + dx, 0.42)
    pose[:, (0, 2, 5, 11, 12), 3] = 1.0
    return pose


@pytest.fixture(scope="module")
def sets(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The same synthetic recordings twice: without a pose, and with one (as sign-import keeps it)."""
    root = tmp_path_factory.mktemp("body")
    plain = root / "plain"
    make_dataset(plain, SynthConfig(words=("a", "b", "c"), signers=4, per_word=6, frames_min=30, frames_max=45))
    ds = Dataset(plain)
    rng = np.random.default_rng(0)
    posed = [replace(rec, pose=_pose(rec.num_frames, rng)) for rec in ds]
    write_dataset(root / "posed", posed, DatasetInfo(synthetic=True, description="synthetic, with a still pose"))
    return plain, root / "posed"


def test_a_body_spec_trains_and_exports_and_the_device_refuses_it(sets, tmp_path, capsys):
    plain, posed = sets
    run = tmp_path / "run"
    assert exit_code(train, [str(posed), "-o", str(run), "--spec", "hands-shoulders-v1", *FAST_TRAIN]) == 0
    card = json.loads((run / "model_card.json").read_text(encoding="utf-8"))
    assert card["spec"]["id"] == "hands-shoulders-v1" and card["spec"]["num_features"] == 120
    assert card["spec"]["needs"] == ["hands", "pose"]

    assert exit_code(export, [str(run), "--formats", "f32,int8"]) == 0
    capsys.readouterr()
    model = run / "export" / "model_int8.tflite"
    source = next((posed / "recordings").rglob("*.npz"))
    assert exit_code(recognize, ["--model", str(model), "--source", str(source), "--json"]) != 0
    out, err = capsys.readouterr()
    [line] = [ln for ln in err.strip().splitlines() if "error" in ln]
    assert out == "" and "source" not in err  # refused before the source was opened
    assert "hands-shoulders-v1" in line and "body pose" in line and "cannot compute" in line


def test_a_body_spec_on_data_without_a_pose_is_one_line(sets, tmp_path, capsys):
    plain, _ = sets
    code = exit_code(train, [str(plain), "-o", str(tmp_path / "run"), "--spec", "hands-face-v1", *FAST_TRAIN])
    assert code != 0
    [line] = capsys.readouterr().err.strip().splitlines()
    assert "hands-face-v1 needs a body pose" in line and not (tmp_path / "run").exists()
    assert exit_code(train, [str(plain), "-o", str(tmp_path / "x"), "--spec", "hands-knees-v1"]) != 0
    assert "unknown feature spec 'hands-knees-v1'" in capsys.readouterr().err
