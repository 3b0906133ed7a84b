"""Real-people evaluation as a user runs it: folds by person, exclusions on the record, each fold's model exported.

Tiny synthetic data (``train.synth``), T=16, a one-block width-8 model and
one or two epochs: the figures mean nothing here, the bookkeeping is what is
tested (which recordings calibrated int8, what was excluded and why, which
performance sat in which part of which fold).
"""

from __future__ import annotations

import csv
import dataclasses
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("keras")

from edge_runtime.dataset import Dataset, write_dataset  # noqa: E402
from train.cli.train import main  # noqa: E402
from train.synth.config import SynthConfig  # noqa: E402
from train.synth.recordings import synthesize  # noqa: E402
from train.synth.writer import synthetic_info  # noqa: E402

WORDS = ("무한", "미국", "형,오빠")
FAST = ["--epochs", "1", "--patience", "1", "--size", "width=8", "--size", "blocks=1", "--frames", "16", "-q"]
VIEWS = ("D", "F", "L", "R", "U")


def sign_train(capsys: pytest.CaptureFixture, *args: str | Path) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as done:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return int(done.value.code or 0), out, err


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def three_people(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 words x 3 synthetic signers x 3 takes = 27 recordings."""
    folder = tmp_path_factory.mktemp("people") / "data"
    cfg = SynthConfig(words=WORDS, signers=3, per_word=9, frames_min=24, frames_max=32)
    write_dataset(folder, synthesize(cfg), synthetic_info(cfg))
    return folder


def ksl_like(folder: Path, signers: int = 4, per_word: int = 8) -> Path:
    """Every synthetic performance filmed by five cameras: five recordings, one group, ``extra['view']``."""
    cfg = SynthConfig(words=WORDS, signers=signers, per_word=per_word, frames_min=24, frames_max=32)
    rng = np.random.default_rng(3)
    recs = []
    for rec in synthesize(cfg):
        for view in VIEWS:
            moved = rec.landmarks + rng.normal(0, 0.002, rec.landmarks.shape).astype(np.float32)
            moved[~rec.present] = 0.0
            recs.append(dataclasses.replace(rec, landmarks=moved, source_id=f"{rec.source_id}-{view}",
                                            group=rec.source_id, extra={**rec.extra, "view": view}))
    write_dataset(folder, recs, synthetic_info(cfg))
    return folder


def test_loso_export_check_calibrates_int8_on_training_people_only_and_records_exclusions(three_people, tmp_path,
                                                                                          capsys):
    rows = Dataset(three_people).rows
    flagged = [r.file for r in rows if r.signer == "synth-02"][:2] + [r.file for r in rows if r.signer == "synth-03"][:1]
    (tmp_path / "flagged.txt").write_text("".join(f"{f}\n" for f in flagged), encoding="utf-8")
    out = tmp_path / "loso"
    code, stdout, err = sign_train(capsys, three_people, "-o", out, "--folds", "loso", "--export-check", "f16,int8",
                                   "--calibration", "6", "--exclude-flagged", tmp_path / "flagged.txt", *FAST)
    assert code == 0, err
    assert "f16 file pooled" in stdout and "int8 file pooled" in stdout and "audited" in stdout

    cv = json.loads((out / "crossval.json").read_text(encoding="utf-8"))
    signer_of = {r.file: r.signer for r in rows}
    assert len(cv["folds"]) == 3
    for fold in cv["folds"]:
        held = set(fold["held_out"])
        check = fold["export_check"]
        assert [f["format"] for f in check["formats"]] == ["f16", "int8"]
        cal = check["calibration"]
        assert cal["split"] == "train" and cal["augmented"] is False and 0 < cal["recordings"] <= 6
        # The int8 ranges never saw the person the file is scored on, nor an excluded recording.
        assert not {signer_of[f] for f in cal["files"]} & held
        assert not set(cal["files"]) & set(flagged)
        assert set(cal["signers"]) == {signer_of[f] for f in cal["files"]}
        for fmt in check["formats"]:
            assert fmt["n"] == fold["n"] and 0.0 <= fmt["accuracy"] <= 1.0 and fmt["size_bytes"] > 0

    # What was dropped, and why, is on the record: the card, crossval.json and every prediction row.
    card = json.loads((out / "model_card.json").read_text(encoding="utf-8"))
    for record in (card["exclusions"], cv["exclusions"]):
        assert record["recordings"] == 3 and record["flagged_file"] == str(tmp_path / "flagged.txt")
        assert sorted(f["file"] for f in record["files"]) == sorted(flagged)
        assert all(f["reason"] == "listed in flagged.txt" for f in record["files"])
        assert record["by_signer"] == {"synth-02": 2, "synth-03": 1}
    predictions = read_csv(out / "cv_predictions.csv")
    assert sorted(p["file"] for p in predictions) == sorted(signer_of)  # excluded recordings are still predicted
    assert sorted(p["file"] for p in predictions if p["excluded"]) == sorted(flagged)
    assert {p["predicted_int8"] for p in predictions} <= set(WORDS)
    # All-recordings and audited figures side by side, per person.
    per = cv["per_signer"]
    assert per["synth-02"]["n"] == 9 and per["synth-02"]["audited_n"] == 7 and per["synth-01"]["excluded"] == 0
    kept = [p for p in predictions if p["signer"] == "synth-02" and not p["excluded"]]
    assert per["synth-02"]["audited_accuracy"] == pytest.approx(np.mean([p["correct"] == "1" for p in kept]))
    assert cv["audited"]["n"] == 24 and "without the excluded recordings" in cv["audited"]["measured_on"]
    summary = cv["export_check"]
    for fmt in ("f16", "int8"):
        hits = [p[f"predicted_{fmt}"] == p["label"] for p in predictions]
        assert summary[fmt]["pooled"] == pytest.approx(np.mean(hits))
    markdown = (out / "crossval.md").read_text(encoding="utf-8")
    assert "## Export check" in markdown and "## Exclusions" in markdown and "audited" in markdown


def test_a_person_excluded_whole_is_never_trained_on_but_still_tested(tmp_path):
    from train.evaluate import plan_folds
    from train.exclusions import load_exclusions
    from train.fit import TrainConfig, load_dataset

    data = tmp_path / "five"
    cfg = SynthConfig(words=WORDS[:2], signers=5, per_word=10, frames_min=24, frames_max=30)
    write_dataset(data, synthesize(cfg), synthetic_info(cfg))
    loaded = load_dataset(data)
    exclusions = load_exclusions(loaded.rows, signers=["synth-03"])
    for folds, count in (("loso", 4), (2, 2)):  # one LOSO fold per KEPT person
        splits = plan_folds(loaded, TrainConfig(folds=folds), exclusions)
        assert len(splits) == count
        tested = defaultdict(list)
        for split in splits:
            for name in ("train", "val"):
                assert "synth-03" not in {loaded.rows[i].signer for i in split.part(name)}
            for i in split.test:
                tested[loaded.rows[i].file].append(split.fold)
        # ... yet every recording, the excluded person's included, is tested exactly once.
        assert sorted(tested) == sorted(r.file for r in loaded.rows) and all(len(f) == 1 for f in tested.values())


def test_views_of_one_performance_never_sit_in_two_parts_of_any_fold(tmp_path, capsys):
    from train.evaluate import plan_folds, plan_holdout
    from train.exclusions import load_exclusions
    from train.fit import TrainConfig, load_dataset

    data = ksl_like(tmp_path / "ksl")
    loaded = load_dataset(data)
    groups = defaultdict(set)
    for row in loaded.rows:
        groups[row.group].add(row.file)
    assert len(groups) == len(loaded.rows) // 5 and all(len(v) == 5 for v in groups.values())
    # One view of a few performances flagged: it must follow its performance, never land elsewhere.
    flagged = [sorted(files)[1] for _, files in sorted(groups.items())[:4]]
    (tmp_path / "flagged.txt").write_text("".join(f"{f}\n" for f in flagged), encoding="utf-8")
    exclusions = load_exclusions(loaded.rows, tmp_path / "flagged.txt")

    flagged_rows = {i for i, r in enumerate(loaded.rows) if r.file in flagged}
    plans = []  # (split, planned with the exclusions)
    for split_mode in ("signer", "source"):
        for folds in ("loso", 3, 4):
            if folds == "loso" and split_mode == "source":
                continue
            cfg = TrainConfig(folds=folds, split=split_mode)
            plans += [(s, False) for s in plan_folds(loaded, cfg)]
            plans += [(s, True) for s in plan_folds(loaded, cfg, exclusions)]
        cfg = TrainConfig(split=split_mode)
        plans += [(plan_holdout(loaded, cfg), False), (plan_holdout(loaded, cfg, exclusions), True)]
    for split, excluding in plans:
        where: dict[str, set[str]] = defaultdict(set)
        for name in ("train", "val", "test"):
            for i in split.part(name):
                where[loaded.rows[i].group].add(name)
        assert all(len(parts) == 1 for parts in where.values()), (split.mode, split.fold)
        if excluding:
            assert not set(split.train + split.val) & flagged_rows

    # The same through the command: every view of a performance is tested in the same fold, and the
    # per-view accuracy (the front view alone) is reported.
    out = tmp_path / "cv"
    code, _, err = sign_train(capsys, data, "-o", out, "--folds", "3", "--split", "source", *FAST)
    assert code == 0, err
    fold_of = defaultdict(set)
    for p in read_csv(out / "cv_predictions.csv"):
        fold_of[p["group"]].add(p["fold"])
    assert sorted(fold_of) == sorted(groups) and all(len(f) == 1 for f in fold_of.values())
    cv = json.loads((out / "crossval.json").read_text(encoding="utf-8"))
    assert sorted(cv["per_view"]) == sorted(VIEWS) and cv["per_view"]["F"]["n"] == len(groups)


def test_bad_exclusions_and_export_checks_are_one_line_and_write_nothing(three_people, tmp_path, capsys):
    out = tmp_path / "out"
    (tmp_path / "other.txt").write_text("recordings/x/not-here.npz\n", encoding="utf-8")
    cases = [
        (["--folds", "loso", "--exclude-flagged", tmp_path / "other.txt"], "not in this dataset"),
        (["--folds", "loso", "--exclude-flagged", tmp_path / "missing.txt"], "file not found"),
        (["--folds", "loso", "--exclude-signers", "nobody"], "'nobody' is not a signer"),
        (["--export-check", "int8"], "needs --folds"),
        (["--folds", "loso", "--export-check", "int9"], "unknown format 'int9'"),
        (["--audit-leakage", "--exclude-signers", "synth-01"], "cannot be combined"),
        (["--frames", "1"], "at least 2"),
    ]
    for extra, message in cases:
        code, _, err = sign_train(capsys, three_people, "-o", out, *FAST, *extra)
        assert code != 0 and message in err and len(err.strip().splitlines()) == 1, (extra, err)
        assert not out.exists()


def test_a_body_reference_spec_moves_with_the_person_and_mirrors_with_the_hands():
    from dataclasses import replace

    from edge_runtime.spec import FeatureSpec
    from train.augment import mirror

    spec, hands_only = FeatureSpec.by_id("hands-shoulders-v1", frames=16), FeatureSpec(frames=16)
    rec = synthesize(SynthConfig(words=WORDS[:1], signers=1, per_word=1, frames_min=24, frames_max=24))[0]
    pose = np.zeros((rec.num_frames, 33, 4), np.float32)
    pose[:, 11, :3], pose[:, 12, :3] = (0.62, 0.70, 0.0), (0.38, 0.71, 0.0)
    seq = replace(rec.hands, aspect=4 / 3, pose=pose)
    plain = spec.model_input(seq)
    assert plain.shape == (16, hands_only.num_features + 4)
    assert np.array_equal(plain[:, :hands_only.num_features], hands_only.model_input(seq))
    left_present = plain[:, 114] > 0.5
    assert np.abs(plain[left_present, 116:118]).sum() > 0 and not plain[~left_present, 116:118].any()

    # The same person filmed further away and off-centre: hands and body move together, nothing changes.
    moved_lm = rec.landmarks.copy()
    moved_lm[..., :2] = moved_lm[..., :2] * 0.5 + np.array([0.3, 0.1], np.float32)
    moved_lm[..., 2] *= 0.5  # depth scales with the rest (joint angles are 3-D)
    moved_lm[~rec.present] = 0.0
    moved_pose = pose.copy()
    moved_pose[:, (11, 12), :2] = moved_pose[:, (11, 12), :2] * 0.5 + np.array([0.3, 0.1], np.float32)
    moved = spec.model_input(replace(seq, landmarks=moved_lm, pose=moved_pose))
    np.testing.assert_allclose(moved, plain, atol=1e-4)

    # Mirrored by the training augmentation: the body is reflected with the hands, so each hand's
    # body-relative position comes back in the other slot with x negated.
    mirrored = spec.model_input(mirror(seq))
    np.testing.assert_allclose(mirrored[:, 116:118], plain[:, 118:120] * np.array([-1, 1]), atol=1e-4)
    np.testing.assert_allclose(mirrored[:, 118:120], plain[:, 116:118] * np.array([-1, 1]), atol=1e-4)
    # Without a pose there is no reference: the extra columns stay zero.
    assert not spec.model_input(replace(seq, pose=None))[:, 116:].any()


def recordings_by_signer(cfg: SynthConfig) -> list[list]:
    """Synthetic recordings grouped by signer, signers in name order: one per-person file each."""
    by_signer: dict[str, list] = defaultdict(list)
    for rec in synthesize(cfg):
        by_signer[rec.signer].append(rec)
    return [recs for _, recs in sorted(by_signer.items())]


def fake_ksl_shared(root: Path, signers: int = 4) -> Path:
    """A stand-in for ../shared with the KSL set's file layout: per-signer npz, two camera views per performance."""
    cfg = SynthConfig(words=("가다", "감사", "우유"), signers=signers, per_word=4 * signers, frames_min=32,
                      frames_max=32)
    folder = root / "data" / "ksl-aihub-keypoints"
    folder.mkdir(parents=True)
    for s, recs in enumerate(recordings_by_signer(cfg)):
        arrays: dict[str, list] = defaultdict(list)
        for k, rec in enumerate(recs):
            for view in ("F", "L"):
                lm = rec.landmarks.copy()
                if view == "L":
                    lm[..., 0] = lm[..., 0] * 0.8 + 0.05
                lm[~rec.present] = 0.0
                arrays["left_hand"].append(lm[:, 0])
                arrays["right_hand"].append(lm[:, 1])
                arrays["pose"].append(np.zeros((32, 33, 3), np.float32))
                arrays["labels"].append(rec.label)
                arrays["word_id"].append(f"WORD{k:04d}")
                arrays["view"].append(view)
                arrays["sample_id"].append(f"NIA_SL_WORD{k:04d}_REAL{s:02d}_{view}")
        np.savez(folder / f"REAL{s:02d}.npz", **{key: np.array(v) for key, v in arrays.items()})
    return root


def test_sign_accuracy_writes_the_table_with_aggregates_only_for_a_private_set(tmp_path, capsys):
    from experiments.cli.accuracy import main as sign_accuracy

    shared = fake_ksl_shared(tmp_path / "shared")
    out = tmp_path / "results" / "accuracy"
    with pytest.raises(SystemExit) as done:
        sign_accuracy(["--sets", "ksl", "--shared", str(shared), "--work", str(tmp_path / "work"), "--out", str(out),
                       "--epochs", "2", "--patience", "1", "--export-check", "", "-q"])
    stdout, err = capsys.readouterr()
    assert done.value.code == 0, err
    assert "ksl: all people mean" in stdout
    payload = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    assert payload["command"].startswith("sign-accuracy --sets ksl") and payload["machine"]["cores"] >= 1
    (ksl,) = payload["sets"]
    assert ksl["people"] == 4 and ksl["signs"] == 3 and ksl["protocol"] == "leave-one-signer-out"
    assert [p["signer"] for p in ksl["per_person"]] == [f"REAL{s:02d}" for s in range(4)]
    every = ksl["arms"]["all"]
    assert every["front_view"]["recordings"] == ksl["recordings"] // 2
    assert 0.0 <= every["reference"]["mean"] <= 1.0 and every["keras"]["people"] == 4
    # Synthetic signers are too unlike each other for the audit: it flags whole classes of some people, and the
    # audited cross-validation is reported as not possible (with why) instead of failing the whole command.
    audited = ksl["arms"]["audited"]
    assert ("keras" in audited) != ("skipped" in audited)
    if "skipped" in audited:
        assert "has no training recordings" in audited["skipped"]
    # The work folder holds the dataset, the audit and both run folders; the results hold no recording.
    assert (tmp_path / "work" / "ksl" / "runs" / "all" / "crossval.json").is_file()
    text = out.with_suffix(".json").read_text(encoding="utf-8") + out.with_suffix(".md").read_text(encoding="utf-8")
    assert "NIA_SL" not in text and "recordings/" not in text and ".npz" not in text
    assert "| ksl | 4 | 3 | leave-one-signer-out |" in out.with_suffix(".md").read_text(encoding="utf-8")

    with pytest.raises(SystemExit) as done:
        sign_accuracy(["--sets", "nope", "--out", str(tmp_path / "x")])
    assert done.value.code != 0 and "unknown set 'nope'" in capsys.readouterr().err


def fake_words_shared(root: Path, signers: int = 6) -> Path:
    """A stand-in for ../shared's mpdata-words: per-person npz, variable-length recordings with a language."""
    cfg = SynthConfig(words=("hello", "thankyou", "water"), signers=signers, per_word=3 * signers, frames_min=24,
                      frames_max=40)
    folder = root / "data" / "mpdata-words"
    folder.mkdir(parents=True)
    for s, recs in enumerate(recordings_by_signer(cfg)):
        lm = np.concatenate([np.where(r.present[..., None, None], r.landmarks, 0.0) for r in recs])
        np.savez(folder / f"gh-person{s}.npz", left_hand=lm[:, 0].astype(np.float16),
                 right_hand=lm[:, 1].astype(np.float16), pose=np.zeros((len(lm), 33, 3), np.float16),
                 lengths=np.array([r.num_frames for r in recs], np.int32), labels=np.array([r.label for r in recs]),
                 language=np.array(["ASL" if s % 2 else "unspecified"] * len(recs)))
    return root


def test_sign_accuracy_on_in_the_wild_words_reports_each_language(tmp_path, capsys):
    from experiments.cli.accuracy import main as sign_accuracy

    shared = fake_words_shared(tmp_path / "shared")
    out = tmp_path / "results" / "accuracy"
    with pytest.raises(SystemExit) as done:
        sign_accuracy(["--sets", "words21", "--shared", str(shared), "--work", str(tmp_path / "work"), "--out",
                       str(out), "--epochs", "2", "--patience", "1", "--export-check", "", "-q"])
    assert done.value.code == 0, capsys.readouterr().err
    (words,) = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))["sets"]
    assert words["people"] == 6 and words["protocol"].startswith("5-fold")
    assert words["training"]["model"] == "compact"  # what --model auto picks for 3 signs
    languages = words["arms"]["all"]["per_language"]
    assert set(languages) == {"ASL", "unspecified"}
    assert sum(e["recordings"] for e in languages.values()) == words["recordings"]
    assert all(e["people"] == 3 and 0.0 <= e["pooled"] <= 1.0 for e in languages.values())
    assert words["spec"] == {"id": "hands-dominant-v1", "frames": 32}
    people = {p["signer"]: p for p in words["per_person"]}
    assert {tuple(p["languages"]) for p in people.values()} == {("ASL",), ("unspecified",)}
    assert all(p["signs"] and set(p["signs"]) <= set(words["labels"]) for p in people.values())
    md = out.with_suffix(".md").read_text(encoding="utf-8")
    assert "Per language" in md and "| languages | signs |" in md
