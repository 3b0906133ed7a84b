"""sign-audit: a dataset goes in, a report comes out that names the person whose labels are swapped.

Two datasets: synthetic people whose three signs have clearly different handshapes (always runs), and six
real people of the shared ASL set (skips without ../shared). In both, one person's labels are swapped by the
test, and the audit must find exactly that person.

Mixed data (recordings with a language and a body pose): ``train.synth`` recordings given a pose and languages
by the test, where one person's hand blocks are swapped, or one label is two different signs for two groups of
people; a set without languages must read exactly as before; and five real mpdata-words people (skips without
../shared).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from helpers import exit_code

from edge_runtime.dataset import Dataset, DatasetInfo, Recording, write_dataset
from edge_runtime.features.hands_xy_angles import NUM_FEATURES
from train.audit.body import hand_blocks
from train.audit.config import AuditConfig
from train.audit.glosses import split_glosses
from train.audit.labels import best_permutation
from train.audit.report import FILES
from train.audit.result import describe_permutation
from train.audit.run import audit
from train.cli.audit import main

# Finger curl (0 = straight, 1 = fully bent) of thumb, index, middle, ring, little finger.
HANDSHAPES = {"open": (0.1, 0.0, 0.0, 0.0, 0.0), "fist": (0.9, 1.0, 1.0, 1.0, 1.0), "ily": (0.1, 0.0, 1.0, 1.0, 0.0)}
FINGER_DIRECTIONS = np.radians([-55.0, -22.0, -5.0, 12.0, 30.0])  # from straight up, thumb first
BONES = np.array([[0.35, 0.3, 0.25, 0.2], [1.0, 0.45, 0.3, 0.25], [1.0, 0.5, 0.32, 0.25], [0.95, 0.45, 0.3, 0.23],
                  [0.9, 0.35, 0.25, 0.2]])
FRAMES = 16


def hand(curls: np.ndarray, angle: float, scale: float, wrist: np.ndarray) -> np.ndarray:
    """[21, 3] points of a flat 2-D hand: each finger bends at its three joints by ``curl`` x 75 degrees."""
    points = np.zeros((21, 3))
    points[0, :2] = wrist
    for f in range(5):
        direction = angle + FINGER_DIRECTIONS[f]
        pos = wrist.copy()
        for j in range(4):
            if j > 0:
                direction += curls[f] * np.radians(75.0)
            pos = pos + scale * BONES[f, j] * np.array([np.sin(direction), -np.cos(direction)])
            points[1 + 4 * f + j, :2] = pos
    return points


def synthetic_people(n_people: int = 8, per_label: int = 6, swap: tuple[str, str] | None = None,
                     swapped: str = "", no_ily: str = "", signers: bool = True,
                     labels: tuple[str, ...] = ("open", "fist", "ily")) -> list[Recording]:
    """People who each sign every label with its own handshape; ``swapped`` gets two labels exchanged and
    ``no_ily`` makes the ily sign with an open hand."""
    rng = np.random.default_rng(7)
    recs = []
    for p in range(n_people):
        person = f"p{p}"
        angle, scale = rng.uniform(-0.15, 0.15), rng.uniform(0.08, 0.14)
        for label in labels:
            shape = "open" if (person == no_ily and label == "ily") else label
            given = label
            if person == swapped and swap and label in swap:
                given = swap[1] if label == swap[0] else swap[0]
            for k in range(per_label):
                curls = np.clip(np.array(HANDSHAPES[shape]) + rng.normal(0, 0.05, 5), 0, 1)
                start = rng.uniform(0.3, 0.7, 2)
                path = start + np.cumsum(rng.normal(0, 0.01, (FRAMES, 2)), axis=0)
                landmarks = np.zeros((FRAMES, 2, 21, 3), np.float32)
                for t in range(FRAMES):
                    landmarks[t, 1] = hand(curls, angle, scale, path[t]) + rng.normal(0, 0.002, (21, 3))
                present = np.zeros((FRAMES, 2), bool)
                present[:, 1] = True
                source = f"{person}-{label}-{k}"
                recs.append(Recording(landmarks=landmarks, present=present, label=given, fps=30.0, source_id=source,
                                      signer=person if signers else ""))
    return recs


def make_dataset(folder: Path, recs: list[Recording]) -> Path:
    write_dataset(folder, recs, DatasetInfo(synthetic=True, description="sign-audit test"))
    return folder


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_synthetic_swap_and_missing_handshape_are_found(tmp_path, capsys):
    data = make_dataset(tmp_path / "synth", synthetic_people(swap=("fist", "ily"), swapped="p2", no_ily="p4"))
    out = tmp_path / "report"
    assert exit_code(main, [str(data), "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "p2" in printed and "permuted fist↔ily" in printed

    people = {row["signer"]: row for row in read_csv(out / "people.csv")}
    assert sorted(people) == [f"p{i}" for i in range(8)]
    permuted = [name for name, row in people.items() if "permuted labels" in row["flags"]]
    assert permuted == ["p2"]
    assert people["p2"]["best_permutation"] == "fist→ily; ily→fist; open→open"
    assert float(people["p2"]["permutation_agreement"]) >= 0.85 and float(people["p2"]["oof_accuracy"]) < 0.5
    # p4 makes "ily" with an open hand: never the ily handshape, and no permutation explains it
    assert people["p4"]["missing_handshape"] == "ily" and "nor under any other label" in people["p4"]["flags"]
    assert "permuted" not in people["p4"]["flags"]
    # the others are unflagged; the swapped labels in their training folds may cost one recording each
    for clean in ("p0", "p1", "p3", "p5", "p6", "p7"):
        assert people[clean]["flags"] == "" and float(people[clean]["oof_accuracy"]) >= 0.9

    recordings = read_csv(out / "recordings.csv")
    assert len(recordings) == len(Dataset(data))
    swapped = {r["file"] for r in recordings if r["signer"] == "p2" and r["label"] in ("fist", "ily")}
    flagged = (out / "flagged.txt").read_text(encoding="utf-8").split()
    assert swapped <= set(flagged)
    assert all(r["flagged"] == "1" for r in recordings if r["file"] in swapped)
    others = [r for r in recordings if r["flagged"] == "1" and r["signer"] not in ("p2", "p4")]
    assert len(others) <= 3 and all(r["reason"].startswith("cleanlab") and r["predicted"] != r["label"]
                                    for r in others)
    manifest_files = {row.file for row in Dataset(data).rows}
    assert set(flagged) <= manifest_files
    report = (out / "audit.md").read_text(encoding="utf-8")
    assert "## Rules" in report and "at least 85%" in report and "p2" in report


def test_audit_is_deterministic_and_never_touches_the_data(tmp_path):
    data = make_dataset(tmp_path / "synth", synthetic_people(n_people=4, per_label=4, swap=("open", "fist"),
                                                             swapped="p1"))
    before = {p: p.stat().st_mtime_ns for p in data.rglob("*")}
    assert exit_code(main, [str(data), "--out", str(tmp_path / "a"), "--no-progress"]) == 0
    assert exit_code(main, [str(data), "--out", str(tmp_path / "b"), "--no-progress"]) == 0
    for name in ("audit.md", "recordings.csv", "people.csv", "flagged.txt"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert {p: p.stat().st_mtime_ns for p in data.rglob("*")} == before
    # the default report folder sits beside the dataset, never inside it
    assert exit_code(main, [str(data), "--no-progress"]) == 0
    assert (tmp_path / "synth-audit" / "audit.md").is_file()


def test_library_result_is_typed(tmp_path):
    data = make_dataset(tmp_path / "synth", synthetic_people(n_people=5, per_label=4, swap=("fist", "ily"),
                                                             swapped="p3"))
    result = audit(data, AuditConfig(folds=4))
    assert result.by_person and result.folds == 4 and result.labels == ["fist", "ily", "open"]
    p3 = next(p for p in result.people if p.signer == "p3")
    assert p3.permuted and p3.permutation == {"fist": "ily", "ily": "fist", "open": "open"}
    assert [p.signer for p in result.people if p.permuted] == ["p3"]
    assert result.confusion.sum() == len(result.recordings) == 60
    assert {h.label: h.distinctive for h in result.handshapes}["ily"]
    assert all(r.flagged == bool(r.reason) for r in result.recordings)


def test_person_less_dataset_is_audited_by_recording(tmp_path, capsys):
    data = make_dataset(tmp_path / "anon", synthetic_people(n_people=3, per_label=4, signers=False))
    out = tmp_path / "report"
    assert exit_code(main, [str(data), "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "no signers: by recording only" in printed
    assert "audited by recording only" in (out / "audit.md").read_text(encoding="utf-8")
    assert read_csv(out / "people.csv") == []
    rows = read_csv(out / "recordings.csv")
    assert len(rows) == 36 and sum(r["predicted"] == r["label"] for r in rows) >= 34


def test_best_permutation_finds_a_three_cycle():
    # rows: given a, b, c, d; the a recordings look like b, the b like c, the c like a
    confusion = np.array([[1, 9, 0, 0], [0, 1, 9, 0], [9, 0, 1, 0], [0, 0, 0, 10]])
    perm, agree = best_permutation(confusion)
    assert perm.tolist() == [1, 2, 0, 3] and agree == 37
    labels = "abcd"
    assert describe_permutation({labels[i]: labels[j] for i, j in enumerate(perm)}) == "a→b→c→a"
    # a tie keeps the labels as given
    perm, _ = best_permutation(np.array([[5, 5], [5, 5]]))
    assert perm.tolist() == [0, 1]


@pytest.mark.parametrize("case", ["missing", "empty", "one-label", "one-signer", "bad-folds"])
def test_bad_inputs_give_one_line_and_no_report(tmp_path, capsys, case):
    data = tmp_path / "data"
    args = [str(data), "--out", str(tmp_path / "report"), "--no-progress"]
    expected = {"missing": "dataset folder not found", "empty": "no manifest.csv",
                "one-label": "a single label ('open')", "one-signer": "a single signer (p0)",
                "bad-folds": "--folds must be at least 2"}[case]
    if case == "empty":
        data.mkdir()
    elif case == "one-label":
        make_dataset(data, synthetic_people(n_people=3, per_label=2, labels=("open",)))
    elif case == "one-signer":
        make_dataset(data, synthetic_people(n_people=1, per_label=2))
    elif case == "bad-folds":
        make_dataset(data, synthetic_people(n_people=3, per_label=2))
        args += ["--folds", "1"]
    assert exit_code(main, args) == 2
    err = capsys.readouterr().err
    assert err.startswith("sign-audit: error:") and expected in err and err.count("\n") == 1, err
    assert not (tmp_path / "report").exists()


# ---------------------------------------------------------------- real people (needs ../shared)

CLEAN_PEOPLE = ("AdrLfv", "Arjuna1-1", "Himanshi0827", "ISmokeData", "Navya8281", "Patrick-beep-ui")


@pytest.fixture(scope="module")
def real_six(shared_dir: Path, tmp_path_factory) -> tuple[Path, str]:
    """Six real people of asl-mpdata-extra (all near 100% in the 48-person audit); Himanshi0827's
    iloveyou and thanks labels swapped by us."""
    from train.importers import ImportConfig, import_person_npz

    folder = shared_dir / "data" / "asl-mpdata-extra"
    paths = [folder / f"{p}.npz" for p in CLEAN_PEOPLE]
    if not all(p.is_file() for p in paths):
        pytest.skip(f"needs {', '.join(p.name for p in paths)} in {folder}")
    swapped = "Himanshi0827"
    recs = []
    for path in paths:
        person = import_person_npz(path, ImportConfig())
        if path.stem == swapped:
            for rec in person:
                rec.label = {"iloveyou": "thanks", "thanks": "iloveyou"}.get(rec.label, rec.label)
        recs += person
    data = tmp_path_factory.mktemp("real") / "asl6"
    write_dataset(data, recs, DatasetInfo(description="six ASL people, one swapped by the test"))
    return data, swapped


@pytest.mark.shared
def test_real_people_one_swapped_person_is_found(real_six, tmp_path, capsys):
    data, swapped = real_six
    out = tmp_path / "report"
    assert exit_code(main, [str(data), "--out", str(out), "--no-progress"]) == 0
    assert swapped in capsys.readouterr().out
    people = {row["signer"]: row for row in read_csv(out / "people.csv")}
    assert sorted(people) == sorted(CLEAN_PEOPLE)
    assert [name for name, row in people.items() if "permuted labels" in row["flags"]] == [swapped]
    assert people[swapped]["best_permutation"] == "hello→hello; iloveyou→thanks; thanks→iloveyou"
    assert float(people[swapped]["permutation_agreement"]) >= 0.85
    flagged = set((out / "flagged.txt").read_text(encoding="utf-8").split())
    recordings = read_csv(out / "recordings.csv")
    assert {r["file"] for r in recordings if r["signer"] == swapped and r["label"] != "hello"} <= flagged


def test_recordings_without_a_signer_join_the_folds_but_not_the_people(tmp_path):
    recs = synthetic_people(n_people=5, per_label=4)
    for rec in recs:
        if rec.signer == "p4":
            rec.signer = ""
    result = audit(make_dataset(tmp_path / "mixed", recs))
    assert result.by_person and [p.signer for p in result.people] == ["p0", "p1", "p2", "p3"]
    assert any("12 recordings have no signer" in note for note in result.notes)
    assert len(result.recordings) == 60 and result.accuracy >= 0.95


# ---------------------------------------------------------------- mixed data: languages, hand blocks, split glosses

OLD_RECORDING_COLUMNS = "file,signer,label,predicted,confidence,label_prob,flagged,reason"
OLD_PEOPLE_COLUMNS = ("signer,recordings,frames,left_hand,right_hand,both_hands,any_hand,jitter,oof_accuracy,confused,"
                      "best_permutation,permutation_agreement,missing_handshape,flags")


def synth_words(words: tuple[str, ...], per_word: int, signers: int = 6) -> list[Recording]:
    """Recordings of ``train.synth`` (synth-03 is left-handed: the whole sign sits in the left block)."""
    from train.synth.config import SynthConfig
    from train.synth.recordings import synthesize

    return synthesize(SynthConfig(words=words, signers=signers, per_word=per_word, frames_min=30, frames_max=50))


def add_pose(rec: Recording, rng: np.random.Generator) -> None:
    """A body pose whose left wrist (point 15) sits at the left block's hand and right wrist (16) at the right
    block's, a few thousandths off; where a hand is missing, its wrist rests low on its side."""
    n = rec.num_frames
    pose = np.zeros((n, 33, 3), np.float32)
    for block, point, rest in ((0, 15, (0.6, 1.0)), (1, 16, (0.4, 1.0))):
        wrist = np.where(rec.present[:, block, None], rec.landmarks[:, block, 0, :2], rest)
        pose[:, point, :2] = wrist + rng.normal(0.0, 0.005, (n, 2))
    rec.pose = pose


def swap_blocks(rec: Recording) -> None:
    """The source named this person's hands the wrong way round: left block <-> right block, pose unchanged."""
    rec.landmarks = rec.landmarks[:, ::-1].copy()
    rec.present = rec.present[:, ::-1].copy()
    if rec.score is not None:
        rec.score = rec.score[:, ::-1].copy()


def test_mixed_data_per_language_and_swapped_hand_blocks(tmp_path, capsys):
    rng = np.random.default_rng(3)
    recs = synth_words(("w0", "w1", "w2"), per_word=24)
    for rec in recs:
        add_pose(rec, rng)
        rec.extra["language"] = "ASL" if rec.signer in ("synth-01", "synth-02", "synth-03") else "ISL"
        if rec.signer == "synth-02":
            swap_blocks(rec)
    data = make_dataset(tmp_path / "mixed", recs)
    out = tmp_path / "report"
    assert exit_code(main, [str(data), "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "per language" in printed and "swapped: synth-02" in printed

    people = {row["signer"]: row for row in read_csv(out / "people.csv")}
    assert [name for name, row in people.items() if "hand blocks look swapped" in row["flags"]] == ["synth-02"]
    assert people["synth-02"]["language"] == "ASL" and people["synth-05"]["language"] == "ISL"
    # synth-03 signs with the left hand: a left-hander is not a swap
    assert "hand blocks" not in people["synth-03"]["flags"]

    recordings = read_csv(out / "recordings.csv")
    assert list(recordings[0])[:3] == ["file", "signer", "language"]
    flagged = set((out / "flagged.txt").read_text(encoding="utf-8").split())
    swapped = [r for r in recordings if r["signer"] == "synth-02"]
    assert len(swapped) == 12 and all(r["file"] in flagged and "hand blocks look swapped" in r["reason"]
                                      for r in swapped)
    assert not any("hand blocks" in r["reason"] for r in recordings if r["signer"] != "synth-02")

    report = (out / "audit.md").read_text(encoding="utf-8")
    assert "## Per language" in report and "**hand blocks look swapped**" in report
    assert "| ASL | 3 | 36 | 3 |" in report and "| ISL | 3 | 36 | 3 |" in report
    assert "| synth-02 | ASL |" in report and "swapped: flagged" in report
    assert "## Split glosses" in report  # mixed data: checked (the languages here sign alike)


def split_gloss_recordings() -> list[Recording]:
    """Label ``x`` is word w0 for synth-01..03 (ASL) and word w2 for synth-04..06 (BSL); no other label is w2
    (w0 and w2 are not a confusable pair: synth pairs w0+w1, w2+w3, w4+w5)."""
    recs = []
    for rec in synth_words(("w0", "w1", "w2", "w3", "w4", "w5"), per_word=30):
        first = rec.signer in ("synth-01", "synth-02", "synth-03")
        if rec.label in ("w0", "w2"):
            if (rec.label == "w0") != first:
                continue
            rec.label = "x"
        rec.extra["language"] = "ASL" if first else "BSL"
        recs.append(rec)
    return recs


def test_a_label_signed_two_ways_is_reported_as_split(tmp_path, capsys):
    data = make_dataset(tmp_path / "split", split_gloss_recordings())
    out = tmp_path / "report"
    assert exit_code(main, [str(data), "--out", str(out), "--no-progress"]) == 0
    assert "split glosses (reported, not flagged): x" in capsys.readouterr().out

    result = audit(data, AuditConfig())
    assert result.split_glosses is not None and {s.label for s in result.split_glosses} == {"x"}
    split = next(s for s in result.split_glosses if s.rule == "looks like no other label")
    assert sorted(sorted(g.people) for g in split.groups) == [["synth-01", "synth-02", "synth-03"],
                                                              ["synth-04", "synth-05", "synth-06"]]
    assert not split.same_split_on
    report = (out / "audit.md").read_text(encoding="utf-8")
    assert "**split gloss, looks like no other label**" in report
    assert "| x | looks like no other label | 6 |" in report and "synth-04 (BSL)" in report
    assert "silhouette" in report
    # reported, never flagged or relabelled
    assert not any("split" in r["reason"] for r in read_csv(out / "recordings.csv"))
    assert {r["label"] for r in read_csv(out / "recordings.csv")} == {"x", "w1", "w3", "w4", "w5"}

    assert exit_code(main, [str(data), "--out", str(tmp_path / "off"), "--no-progress", "--no-split-glosses"]) == 0
    assert "## Split glosses" not in (tmp_path / "off" / "audit.md").read_text(encoding="utf-8")


def test_a_set_without_languages_reads_as_before_with_or_without_a_pose(tmp_path):
    rng = np.random.default_rng(5)
    plain = synth_words(("w0", "w1", "w2"), per_word=18)
    posed = synth_words(("w0", "w1", "w2"), per_word=18)
    for rec in posed:
        add_pose(rec, rng)
    texts = []
    for name, recs in (("plain", plain), ("posed", posed)):
        data = make_dataset(tmp_path / name / "data", recs)
        out = tmp_path / name / "report"
        assert exit_code(main, [str(data), "--out", str(out), "--no-progress"]) == 0
        texts.append({f: (out / f).read_text(encoding="utf-8").replace(str(data), "DATA") for f in FILES})
    # a pose whose hand blocks are fine changes nothing: the files are the ones a set without a pose gets
    assert texts[0] == texts[1]
    report = texts[0]["audit.md"]
    for section in ("## Per language", "## Hand blocks", "## Split glosses", "hand blocks look swapped"):
        assert section not in report
    assert texts[0]["recordings.csv"].splitlines()[0] == OLD_RECORDING_COLUMNS
    assert texts[0]["people.csv"].splitlines()[0] == OLD_PEOPLE_COLUMNS
    # asked for, split glosses are checked in any set with signers
    forced = tmp_path / "forced"
    assert exit_code(main, [str(tmp_path / "plain" / "data"), "--out", str(forced), "--no-progress",
                            "--split-glosses"]) == 0
    assert "## Split glosses" in (forced / "audit.md").read_text(encoding="utf-8")


def test_hand_blocks_of_one_recording():
    rec = synth_words(("w0",), per_word=1, signers=1)[0]
    add_pose(rec, np.random.default_rng(0))
    fine = hand_blocks(rec.landmarks, rec.present, rec.pose)
    assert fine.left_frames == int(rec.present[:, 0].sum()) and fine.left_at_left == 1.0
    assert fine.right_at_right == 1.0
    swap_blocks(rec)
    swapped = hand_blocks(rec.landmarks, rec.present, rec.pose)
    assert swapped.left_at_left == 0.0 and swapped.right_at_right == 0.0
    assert np.isnan(hand_blocks(rec.landmarks, rec.present, None).left_at_left)


@pytest.mark.parametrize("flag,value,expected", [("--hand-block-share", "1.5", "hand-block-share must be between"),
                                                 ("--hand-block-min-frames", "0", "--hand-block-min-frames must be"),
                                                 ("--split-silhouette", "-1", "split-silhouette must be between")])
def test_bad_mixed_data_settings_give_one_line(tmp_path, capsys, flag, value, expected):
    data = make_dataset(tmp_path / "data", synthetic_people(n_people=3, per_label=2))
    assert exit_code(main, [str(data), "--out", str(tmp_path / "report"), "--no-progress", flag, value]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sign-audit: error:") and expected in err and err.count("\n") == 1, err
    assert not (tmp_path / "report").exists()


MPW_PEOPLE = ("gh-adityagos", "gh-shivanagalla", "gh-yunlisa96", "gh-alexbarkin", "gh-arystone")


@pytest.mark.shared
def test_real_mixed_people_hand_blocks(shared_dir: Path, tmp_path):
    """mpdata-words: AdityaGos's blocks are swapped, ShivaNagalla's left block is the right hand found twice;
    yunlisa96's left block sits at the left wrist (the file's own left_hand_near_pose15 says so too)."""
    from train.importers import ImportConfig, import_person_npz

    folder = shared_dir / "data" / "mpdata-words"
    paths = [folder / f"{p}.npz" for p in MPW_PEOPLE]
    if not all(p.is_file() for p in paths):
        pytest.skip(f"needs {', '.join(p.name for p in paths)} in {folder}")
    recs = [rec for path in paths for rec in import_person_npz(path, ImportConfig())]
    data = tmp_path / "mpw5"
    write_dataset(data, recs, DatasetInfo(description="five mpdata-words people"))
    result = audit(data, AuditConfig())
    assert [p.signer for p in result.swapped_people] == ["gh-adityagos", "gh-shivanagalla"]
    blocks = {p.signer: p.hand_blocks for p in result.people}
    assert blocks["gh-shivanagalla"].same_hand >= 0.4 > blocks["gh-adityagos"].same_hand
    assert blocks["gh-yunlisa96"].share == 1.0 and not blocks["gh-yunlisa96"].swapped
    hb = result.hand_blocks
    assert hb is not None and hb.imported_compared > 500 and hb.imported_agree >= 0.99 * hb.imported_compared
    assert {row.language for row in result.languages} == {"unspecified", "ASL"}
    adityagos = [r for r in result.recordings if r.signer == "gh-adityagos"]
    assert adityagos and all("hand blocks look swapped" in r.reason for r in adityagos)


def test_split_gloss_by_the_models_reading():
    """Six people sign "bye": the model reads three people's as bye and three people's as hello (the wave);
    a person left out (permuted labels, swapped hands) does not count."""
    people = [f"p{i}" for i in range(7)]
    person = np.repeat(np.arange(7), 8)  # 4 bye + 4 hello recordings each
    y = np.tile([0, 0, 0, 0, 1, 1, 1, 1], 7)
    pred = y.copy()
    for p in (3, 4, 5, 6):
        pred[(person == p) & (y == 0)] = 1
    pred[(person == 5) & (y == 0)] = [1, 1, 1, 0]  # 3 of 4: still at least two thirds
    stats = np.zeros((len(y), 4 * NUM_FEATURES), np.float32)
    found = split_glosses(stats, y, pred, person, people, ["bye", "hello"], {6}, AuditConfig())
    assert [(s.label, s.rule) for s in found] == [("bye", "looks like another label")]
    assert [(g.looks_like, g.people) for g in found[0].groups] == [("bye", ["p0", "p1", "p2"]),
                                                                   ("hello", ["p3", "p4", "p5"])]
    assert found[0].numbers.startswith("of 6 people, 3 read as bye, 3 as hello, 0 otherwise")
    # one person reading as hello is that person's problem, not a split gloss
    pred[(person == 4) & (y == 0)] = 0
    pred[(person == 5) & (y == 0)] = 0
    assert split_glosses(stats, y, pred, person, people, ["bye", "hello"], {6}, AuditConfig()) == []
