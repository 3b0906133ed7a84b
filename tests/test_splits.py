"""Splits by source recording or signer: nothing of a group (or a person) on two sides, ever."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

import pytest

from edge_runtime.dataset import ManifestRow
from edge_runtime.errors import DatasetError
from train.splits import (
    PARTS,
    Split,
    SplitLeakError,
    check_disjoint,
    choose_mode,
    describe,
    holdout_split,
    kfold_splits,
    parse_folds,
)


def rows_for(signers: int, labels: list[str], per_signer: int = 2, views: int = 1) -> list[ManifestRow]:
    """A manifest: each signer performs each label ``per_signer`` times, each performance filmed ``views`` times."""
    rows = []
    for s in range(signers):
        signer = f"p{s}" if signers else ""
        for label in labels:
            for take in range(per_signer):
                group = f"{signer or 'x'}-{label}-{take}"
                for v in range(views):
                    source = f"{group}-v{v}"
                    rows.append(ManifestRow(f"recordings/{source}.npz", label, signer, source, group, 40, 30.0, 40))
    return rows


def anonymous(rows: list[ManifestRow]) -> list[ManifestRow]:
    for r in rows:
        r.signer = ""
    return rows


def parts_of(split: Split, rows: list[ManifestRow], key: str) -> dict[str, set[str]]:
    return {name: {getattr(rows[i], key) for i in split.part(name)} for name in PARTS}


def test_source_split_keeps_views_of_one_performance_together_and_covers_every_row():
    rows = anonymous(rows_for(3, ["a", "b", "c"], per_signer=3, views=5))
    split = holdout_split(rows, "source", seed=1)
    groups = parts_of(split, rows, "group")
    assert not (groups["train"] & groups["val"]) and not (groups["train"] & groups["test"])
    assert not (groups["val"] & groups["test"])
    assert sorted(split.train + split.val + split.test) == list(range(len(rows)))
    # Stratified: 9 performances per class -> every class in every part.
    for name in PARTS:
        assert {rows[i].label for i in split.part(name)} == {"a", "b", "c"}
    assert split.notes == []


def test_signer_split_never_puts_a_person_on_two_sides():
    rows = rows_for(8, ["a", "b", "c", "d", "e"], per_signer=3)
    split = holdout_split(rows, "signer", seed=0)
    people = parts_of(split, rows, "signer")
    assert len(people["test"]) == 2 and len(people["val"]) == 1 and len(people["train"]) == 5
    assert not (people["train"] & people["test"]) and not (people["val"] & (people["train"] | people["test"]))
    assert split.to_dict(rows)["signers"]["test"] == sorted(people["test"])
    expected = f"held-out test split: {len(split.test)} recordings of 5 classes by signers"
    assert describe(rows, split).startswith(expected)


def test_same_seed_same_split_and_another_seed_another():
    rows = rows_for(8, ["a", "b"], per_signer=2)
    first, again = holdout_split(rows, "signer", seed=3), holdout_split(rows, "signer", seed=3)
    assert (first.train, first.val, first.test) == (again.train, again.val, again.test)
    tests = {tuple(holdout_split(rows, "signer", seed=s).test) for s in range(6)}
    assert len(tests) > 1


def test_auto_mode_uses_signers_only_when_everyone_is_named_and_there_are_enough():
    assert choose_mode(rows_for(4, ["a", "b"]), "auto") == "signer"
    assert choose_mode(rows_for(1, ["a", "b"], per_signer=4), "auto") == "source"  # one person: by recording
    mixed = rows_for(4, ["a", "b"])
    mixed[0].signer = ""
    assert choose_mode(mixed, "auto") == "source"
    with pytest.raises(DatasetError, match="needs a signer on every recording"):
        choose_mode(mixed, "signer")
    with pytest.raises(DatasetError, match="at least 3 signers"):
        choose_mode(rows_for(2, ["a", "b"]), "signer")


def test_the_guard_catches_a_group_or_a_signer_on_two_sides():
    rows = rows_for(3, ["a", "b"], per_signer=1, views=2)
    # Two views of one performance on two sides:
    leaky = Split("source", 0, train=[0, 2, 3, 4, 5], val=[6, 7], test=[1, 8, 9, 10, 11])
    with pytest.raises(SplitLeakError, match="group 'p0-a-0' is in both train and test"):
        check_disjoint(rows, leaky)
    # Groups apart but the same person on both sides is fine by source, a leak by signer:
    by_group = Split("source", 0, train=[0, 1], val=[2, 3], test=[4, 5, 6, 7, 8, 9, 10, 11])
    check_disjoint(rows, by_group)
    with pytest.raises(SplitLeakError, match="signer 'p0'"):
        check_disjoint(rows, Split("signer", 0, by_group.train, by_group.val, by_group.test))


def test_a_group_spanning_two_signers_joins_them_in_signer_mode():
    rows = rows_for(5, ["a", "b"], per_signer=2)
    rows[0].group = rows[-1].group  # p0 and p4 share a performance: they must stay on one side
    for seed in range(5):
        split = holdout_split(rows, "signer", seed=seed)
        side = {name for name in PARTS if {"p0", "p4"} & parts_of(split, rows, "signer")[name]}
        assert len(side) == 1


def test_one_class_or_a_class_with_one_source_recording_is_refused_by_name():
    with pytest.raises(DatasetError, match="only one class"):
        holdout_split(anonymous(rows_for(1, ["solo"], per_signer=6)), "source")
    rows = anonymous(rows_for(1, ["a", "b"], per_signer=4))
    rows.append(ManifestRow("recordings/lonely.npz", "형,오빠", "", "lonely", "lonely", 40, 30.0, 40))
    with pytest.raises(DatasetError, match=r"class '형,오빠' has a single source recording \(lonely\)"):
        holdout_split(rows, "source")
    five_views = anonymous(rows_for(1, ["a", "b"], per_signer=3))
    five_views += [ManifestRow(f"recordings/c{v}.npz", "c", "", f"c-v{v}", "c-take", 40, 30.0, 40) for v in range(5)]
    with pytest.raises(DatasetError, match="class 'c' has a single source recording"):
        holdout_split(five_views, "source")  # five views, but one performance


def test_a_class_signed_by_one_person_cannot_be_split_by_signer():
    rows = rows_for(4, ["a", "b"])
    rows += [ManifestRow(f"recordings/z{t}.npz", "z", "p1", f"z{t}", f"z{t}", 40, 30.0, 40) for t in range(4)]
    with pytest.raises(DatasetError, match="class 'z' has a single signer \\(p1\\)"):
        holdout_split(rows, "signer")


def test_kfold_tests_every_group_exactly_once_and_guards_every_fold():
    rows = anonymous(rows_for(2, ["a", "b", "c"], per_signer=5, views=2))
    folds = list(kfold_splits(rows, "source", 5, seed=0))
    assert [f.fold for f in folds] == [0, 1, 2, 3, 4]
    tested = Counter(rows[i].group for f in folds for i in f.test)
    assert set(tested) == {r.group for r in rows} and set(tested.values()) == {2}  # 2 views, each group once
    for f in folds:
        check_disjoint(rows, f)
        assert f.val and f.train
        assert {rows[i].label for i in f.test} == {"a", "b", "c"}  # stratified: 10 groups per class, 5 folds


def test_a_class_few_people_signed_keeps_a_training_person_in_every_fold():
    # 'rare' is signed by 3 of 12 people; the rest sign a and b. Leaving one rare person for validation would
    # leave the class without training data (what 5-fold by person first did on mpdata-words' 'food').
    rows = rows_for(12, ["a", "b"])
    rows += [ManifestRow(f"recordings/r{s}-{t}.npz", "rare", f"p{s}", f"r{s}-{t}", f"r{s}-{t}", 40, 30.0, 40)
             for s in (0, 1, 2) for t in range(2)]
    for seed in range(12):
        for fold in kfold_splits(rows, "signer", 5, seed=seed, val_fraction=0.3):
            if {"p0", "p1", "p2"} - set(fold.units(rows, "test")):
                assert "rare" in {rows[i].label for i in fold.train}
        holdout = holdout_split(rows, "signer", seed=seed, val_fraction=0.3, test_fraction=0.3)
        assert "rare" in {rows[i].label for i in holdout.train}


def test_loso_holds_out_one_signer_per_fold():
    rows = rows_for(5, ["a", "b"], per_signer=2)
    folds = list(kfold_splits(rows, "source", "loso"))
    assert [f.mode for f in folds] == ["signer"] * 5
    assert sorted(s for f in folds for s in f.units(rows, "test")) == ["p0", "p1", "p2", "p3", "p4"]
    for f in folds:
        assert len(f.units(rows, "test")) == 1
        assert not set(f.units(rows, "test")) & set(f.units(rows, "train") + f.units(rows, "val"))
    with pytest.raises(DatasetError, match="needs a signer"):
        list(kfold_splits(anonymous(rows_for(3, ["a", "b"])), "source", "loso"))


def test_folds_flag_values():
    assert parse_folds("5") == 5 and parse_folds("LOSO") == "loso"
    for bad in ("1", "x", "2.5"):
        with pytest.raises(DatasetError, match="--folds"):
            parse_folds(bad)
    with pytest.raises(DatasetError, match="--folds 9 needs at least 9 signers"):
        list(kfold_splits(rows_for(4, ["a", "b"]), "signer", 9))


def test_splits_and_augment_import_without_tensorflow():
    code = ("import sys, train.splits, train.augment; "
            "bad = [m for m in ('tensorflow', 'keras') if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
