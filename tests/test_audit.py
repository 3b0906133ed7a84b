"""sign-audit: a dataset goes in, a report comes out that names the person whose labels are swapped.

Two datasets: synthetic people whose three signs have clearly different handshapes (always runs), and six
real people of the shared ASL set (skips without ../shared). In both, one person's labels are swapped by the
test, and the audit must find exactly that person.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from helpers import exit_code

from edge_runtime.dataset import Dataset, DatasetInfo, Recording, write_dataset
from train.audit.config import AuditConfig
from train.audit.labels import best_permutation
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
