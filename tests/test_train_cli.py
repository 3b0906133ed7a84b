"""`sign-train` as a user runs it: a dataset folder in, one run folder out, honest numbers printed."""

from __future__ import annotations

import contextlib
import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("keras")

from edge_runtime.dataset import Dataset, write_dataset  # noqa: E402
from edge_runtime.errors import SignedgeError  # noqa: E402
from edge_runtime.spec import FeatureSpec  # noqa: E402
from helpers import FAST_TRAIN as FAST  # noqa: E402
from train.cli.train import main  # noqa: E402
from train.synth.config import SynthConfig  # noqa: E402
from train.synth.recordings import synthesize  # noqa: E402
from train.synth.writer import make_dataset, synthetic_info  # noqa: E402

WORDS = ("무한", "미국", "형,오빠")
CONTRACT = {"signedge_version", "created", "spec", "labels", "model", "dataset", "split", "metrics", "training",
            "versions"}


def sign_train(capsys: pytest.CaptureFixture, *args: str | Path) -> tuple[int, str, str]:
    """Run `sign-train ARGS` in-process; return (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as done:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return int(done.value.code or 0), out, err


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 words x 4 synthetic signers x 2 takes = 24 recordings."""
    folder = tmp_path_factory.mktemp("synth") / "data"
    make_dataset(folder, SynthConfig(words=WORDS, signers=4, per_word=8, frames_min=30, frames_max=50))
    return folder


@pytest.fixture(scope="module")
def first_run(data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One training run shared by the tests below (training is the slow part): its folder and its stdout."""
    out = tmp_path_factory.mktemp("runs") / "demo"
    stdout = io.StringIO()
    with pytest.raises(SystemExit) as done, contextlib.redirect_stdout(stdout):
        main([str(data), "-o", str(out), *FAST])
    assert done.value.code == 0
    return out, stdout.getvalue()


@pytest.fixture(scope="module")
def run_dir(first_run: tuple[Path, str]) -> Path:
    return first_run[0]


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_a_run_folder_has_the_contract_and_an_honest_test_number(data, first_run):
    out, stdout = first_run
    for name in ("model.keras", "labels.json", "model_card.json", "confusion_matrix.csv", "confusion_matrix.png",
                 "training_curves.png", "test_report.csv", "history.csv"):
        assert (out / name).is_file(), name
    assert leftovers(out.parent) == []
    card = json.loads((out / "model_card.json").read_text(encoding="utf-8"))
    assert CONTRACT <= set(card)
    labels = json.loads((out / "labels.json").read_text(encoding="utf-8"))
    assert labels == sorted(WORDS) == card["labels"]
    assert card["model"]["name"] == "compact" and card["model"]["width"] == 8 and card["model"]["params"] > 0
    assert card["model"]["chosen_by"]["by"] == "auto" and card["model"]["chosen_by"]["recordings"] == 24  # the default
    assert card["dataset"]["path"] == str(data.resolve()) and card["dataset"]["recordings"] == 24
    assert card["dataset"]["info"]["synthetic"] is True
    assert FeatureSpec.from_dict(card["spec"]).id == "hands-xy-angles-v1"

    split = card["split"]
    assert split["mode"] == "signer"  # every recording names one of 4 signers
    files = split["train"] + split["val"] + split["test"]
    assert sorted(files) == sorted(r.file for r in Dataset(data).rows)
    for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
        assert not set(split["signers"][a]) & set(split["signers"][b])
        assert not set(split["groups"][a]) & set(split["groups"][b])

    test = card["metrics"]["test"]
    assert test["n"] == len(split["test"])
    assert test["measured_on"].startswith(f"held-out test split: {test['n']} recordings of 3 classes by signer")
    assert "never seen in training" in test["measured_on"]
    assert f"test accuracy {test['accuracy']:.1%}" in stdout and f"measured on the {test['measured_on']}" in stdout

    # Anyone can check the number: the card's test files through host.features and the saved model.
    import keras

    import host.layers  # noqa: F401
    from host.features import load_features

    X, y = load_features(card["dataset"]["path"], split["test"], FeatureSpec.from_dict(card["spec"]), labels)
    model = keras.models.load_model(out / "model.keras")
    assert tuple(model.input.shape) == (None, 64, 116)
    accuracy = float(np.mean(np.argmax(model.predict(X, verbose=0), axis=1) == y))
    assert accuracy == pytest.approx(test["accuracy"])

    with open(out / "confusion_matrix.csv", encoding="utf-8", newline="") as fh:
        table = list(csv.reader(fh))
    assert table[0][1:] == labels  # '형,오빠' survives quoting
    assert sum(int(v) for row in table[1:] for v in row[1:]) == test["n"]


def test_leave_one_signer_out_reports_every_person(tmp_path, capsys):
    data = tmp_path / "three"
    make_dataset(data, SynthConfig(words=WORDS, signers=3, per_word=6, frames_min=30, frames_max=40))
    out = tmp_path / "loso"
    code, stdout, stderr = sign_train(capsys, data, "-o", out, "--folds", "loso", *FAST)
    assert code == 0, stderr
    cv = json.loads((out / "crossval.json").read_text(encoding="utf-8"))
    people = ["synth-01", "synth-02", "synth-03"]
    assert cv["scheme"] == "leave-one-signer-out" and len(cv["folds"]) == 3
    assert sorted(f["held_out"][0] for f in cv["folds"]) == people
    assert sorted(cv["per_signer"]) == people
    accs = [f["accuracy"] for f in cv["folds"]]
    assert cv["mean_accuracy"] == pytest.approx(np.mean(accs))
    assert cv["std_accuracy"] == pytest.approx(np.std(accs, ddof=1))
    with open(out / "cv_predictions.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert sorted(r["file"] for r in rows) == sorted(r.file for r in Dataset(data).rows)  # each tested once
    assert not (out / "model.keras").exists()
    assert "leave-one-signer-out accuracy: mean" in stdout and "worst signer" in stdout
    assert "measured on leave-one-signer-out cross-validation" in stdout


def test_a_missing_or_empty_dataset_is_one_line_and_no_output(tmp_path, capsys):
    out = tmp_path / "out"
    code, _, err = sign_train(capsys, tmp_path / "nope", "-o", out)
    assert code != 0 and "dataset folder not found" in err and len(err.strip().splitlines()) == 1
    (tmp_path / "empty").mkdir()
    code, _, err = sign_train(capsys, tmp_path / "empty", "-o", out)
    assert code != 0 and "no manifest.csv" in err
    assert not out.exists()


def test_one_class_is_refused(tmp_path, capsys):
    make_dataset(tmp_path / "one", SynthConfig(words=("무한",), signers=3, per_word=3, frames_min=20, frames_max=30))
    code, _, err = sign_train(capsys, tmp_path / "one", "-o", tmp_path / "out", *FAST)
    assert code != 0 and "only one class ('무한')" in err
    assert not (tmp_path / "out").exists() and leftovers(tmp_path) == []


def test_a_class_with_one_source_recording_is_named(tmp_path, capsys):
    cfg = SynthConfig(words=WORDS, signers=2, per_word=4, frames_min=20, frames_max=30)
    recs = synthesize(cfg)
    lonely = [r for r in recs if r.label == "형,오빠"][:1]
    write_dataset(tmp_path / "d", [r for r in recs if r.label != "형,오빠"] + lonely, synthetic_info(cfg))
    code, _, err = sign_train(capsys, tmp_path / "d", "-o", tmp_path / "out", "--split", "source", *FAST)
    assert code != 0
    assert "class '형,오빠' has a single source recording" in err and "cannot be both trained on and tested" in err
    assert not (tmp_path / "out").exists()


def test_existing_output_needs_force_and_force_replaces_it(data, run_dir, tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "old.txt").write_text("previous run")
    code, _, err = sign_train(capsys, data, "-o", out, *FAST)
    assert code != 0 and "already exists (use --force" in err
    assert (out / "old.txt").is_file()
    code, _, err = sign_train(capsys, data, "-o", out, "--force", *FAST)
    assert code == 0, err
    assert not (out / "old.txt").exists() and (out / "model.keras").is_file()
    assert leftovers(tmp_path) == []
    # Same data, same flags, same seed: the same run as the shared one, epoch for epoch.
    assert (out / "history.csv").read_text() == (run_dir / "history.csv").read_text()
    same = [json.loads((d / "model_card.json").read_text(encoding="utf-8")) for d in (out, run_dir)]
    assert same[0]["metrics"] == same[1]["metrics"] and same[0]["split"] == same[1]["split"]


def test_a_failure_during_the_run_leaves_no_half_run_folder(data, run_dir, tmp_path, capsys, monkeypatch):
    import train.evaluate

    def broken(*args, **kwargs):
        raise SignedgeError("disk says no")

    monkeypatch.setattr(train.evaluate, "fit_split", broken)  # fails after the run folder was started
    code, _, err = sign_train(capsys, data, "-o", tmp_path / "out", *FAST)
    assert code != 0 and err.strip().splitlines()[-1] == "sign-train: error: disk says no"
    assert not (tmp_path / "out").exists() and leftovers(tmp_path) == []
    # With --force over an existing run, the old run survives a failure untouched.
    before = sorted(p.name for p in run_dir.iterdir())
    code, _, err = sign_train(capsys, data, "-o", run_dir, "--force", *FAST)
    assert code != 0 and sorted(p.name for p in run_dir.iterdir()) == before
    assert leftovers(run_dir.parent) == []


def test_init_from_continues_a_run_and_refuses_other_labels_or_a_leaking_split(data, run_dir, tmp_path, capsys):
    code, stdout, err = sign_train(capsys, data, "-o", tmp_path / "more", "--init-from", run_dir, "--epochs", "1",
                                   "-q")
    assert code == 0, err
    card = json.loads((tmp_path / "more" / "model_card.json").read_text(encoding="utf-8"))
    assert card["training"]["init_from"] == str(run_dir) and card["model"]["width"] == 8
    assert card["model"]["name"] == "compact" and "chosen_by" not in card["model"]  # the run's architecture, not auto's

    other = tmp_path / "other"
    make_dataset(other, SynthConfig(words=WORDS[:2], signers=4, per_word=8, frames_min=20, frames_max=30))
    code, _, err = sign_train(capsys, other, "-o", tmp_path / "x", "--init-from", run_dir, *FAST[:4])
    assert code != 0 and "its labels differ from the dataset's (only in the run: 형,오빠)" in err

    # Same dataset, another split seed: the earlier run trained on some of this run's test signers.
    code, _, err = sign_train(capsys, data, "-o", tmp_path / "y", "--init-from", run_dir, "--seed", "2", "-q")
    assert code != 0 and "of this run's validation/test recordings" in err
    code, _, err = sign_train(capsys, data, "-o", tmp_path / "z", "--init-from", run_dir, "--model",
                              "bilstm-attention")
    assert code != 0 and "conflicts" in err
    assert not any((tmp_path / n).exists() for n in ("x", "y", "z"))


def test_confusion_plot_names_classes_only_when_a_font_has_their_glyphs(tmp_path):
    from train.report import font_for, plot_confusion

    assert font_for(["hello", "thanks"]) is not None
    assert font_for(["\U000f0000"]) is None  # private-use code point: only the "Last Resort" box font claims it
    named = plot_confusion(tmp_path / "cm.png", np.array([[2, 1], [0, 3]]), list(WORDS[:2]), "title")
    assert named == (font_for(list(WORDS[:2])) is not None)
    assert (tmp_path / "cm.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_stream_reads_batches_from_disk_and_trains_the_same_model(data, first_run, tmp_path, capsys, monkeypatch):
    from edge_runtime import dataset as dataset_module

    loads = []
    real_load = dataset_module.Dataset.load
    monkeypatch.setattr(dataset_module.Dataset, "load", lambda self, i: loads.append(i) or real_load(self, i))
    code, _, err = sign_train(capsys, data, "-o", tmp_path / "streamed", *FAST, "--stream")
    assert code == 0, err
    whole = json.loads((first_run[0] / "model_card.json").read_text())
    streamed = json.loads((tmp_path / "streamed" / "model_card.json").read_text())
    assert streamed["training"]["stream"] is True and whole["training"]["stream"] is False
    assert streamed["split"] == whole["split"]  # the same guarded split, from the manifest alone
    assert streamed["metrics"]["test"]["accuracy"] == pytest.approx(whole["metrics"]["test"]["accuracy"], abs=0.1)
    assert streamed["fit"]["augmentations_applied"] == whole["fit"]["augmentations_applied"]
    n = len(Dataset(data))
    assert len(loads) > 2 * n  # every epoch read its training recordings again: nothing was held
