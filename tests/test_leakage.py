"""The leakage audit: the seed's way (augment, then split by sample) next to ours, on the same data."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("keras")

from train.cli.train import main  # noqa: E402
from train.leakage import random_sample_split  # noqa: E402
from train.synth.config import SynthConfig  # noqa: E402
from train.synth.writer import make_dataset  # noqa: E402


def test_the_seeds_random_split_puts_variants_of_one_recording_on_both_sides():
    copies, recordings = 16, 30
    y = np.repeat(np.arange(recordings) % 3, copies)
    source = np.repeat(np.arange(recordings), copies)
    train, val, test = random_sample_split(y, 0.15, 0.2, seed=0)
    assert sorted(np.concatenate([train, val, test]).tolist()) == list(range(len(y)))
    assert np.bincount(y[test]).tolist() == [len(test) // 3] * 3  # stratified by label ...
    # ... but blind to the source: every test sample has a variant of its recording in training.
    assert set(source[test]) <= set(source[train])


def test_audit_trains_both_ways_and_writes_the_comparison(tmp_path, capsys):
    data = tmp_path / "synth"
    make_dataset(data, SynthConfig(words=("무한", "미국", "형,오빠"), signers=4, per_word=8, frames_min=30,
                                   frames_max=40))
    out = tmp_path / "audit"
    with pytest.raises(SystemExit) as done:
        main([str(data), "-o", str(out), "--audit-leakage", "--epochs", "2", "--patience", "2",
              "--size", "width=8", "--size", "blocks=1", "-q"])
    stdout, stderr = capsys.readouterr()
    assert done.value.code == 0, stderr
    audit = json.loads((out / "leakage_audit.json").read_text(encoding="utf-8"))
    seed, ours = audit["seed_way"], audit["ours"]
    assert audit["copies"] == 16
    assert seed["test_samples"] + seed["train_samples"] < 24 * 16 and seed["test_samples"] == round(24 * 16 * 0.2)
    assert seed["test_with_sibling_in_train"] == 1.0  # every "test" sample has a twin in training
    assert ours["test_with_sibling_in_train"] == 0.0
    assert audit["gap"] == pytest.approx(seed["accuracy"] - ours["accuracy"])
    assert "split by signer first" in ours["how"] and "never seen in training" in ours["measured_on"]
    card = json.loads((out / "model_card.json").read_text(encoding="utf-8"))
    assert card["metrics"]["test"]["accuracy"] == ours["accuracy"]  # the run folder holds the honest model
    md = (out / "leakage_audit.md").read_text(encoding="utf-8")
    assert "| test accuracy |" in md and "seed's way" in md
    assert "seed's way" in stdout and "signedge" in stdout
    assert f"{seed['accuracy']:.1%}" in stdout and f"{ours['accuracy']:.1%}" in stdout
    assert "measured on the held-out test split" in stdout
