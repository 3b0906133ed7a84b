"""Train / validation / test splits that never put one performance (or one person) on two sides.

Why this module exists: the seed project augmented first and split second, so
variants of one video sat in training and in test and it reported 100% while
getting 3 of 5 new videos right. Here the unit of a split is never a sample:

- ``source`` mode: the manifest's ``group`` (defaults to ``source_id``; the
  camera views of one performance share a group),
- ``signer`` mode: the person, so the test measures people the model has never
  seen (groups still never cross: a group that somehow spans two signers joins
  them into one unit).

Units are assigned whole, stratified by label when every unit holds one label
(typical for source mode), otherwise at random (signers hold every label).
``check_disjoint`` raises if any file, group or (in signer mode) signer lands
in two parts; every function here calls it on every split it returns,
including each fold of a cross-validation.

No TensorFlow here: the splits are plain data and can be inspected anywhere.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Iterator, Literal, Sequence

import numpy as np

from edge_runtime.dataset import ManifestRow
from edge_runtime.errors import DatasetError, SignedgeError

log = logging.getLogger(__name__)

Mode = Literal["signer", "source"]
MODES = ("signer", "source")
PARTS = ("train", "val", "test")
MIN_SIGNERS = 3  # one each for train, validation and test


class SplitLeakError(SignedgeError, AssertionError):
    """A group or signer landed in two parts of a split: the test would measure memory, not recognition."""


@dataclass
class Split:
    """Indices into the manifest rows for each part, plus what they were grouped by."""

    mode: Mode
    seed: int
    train: list[int]
    val: list[int]
    test: list[int]
    fold: int | None = None  # which fold of a cross-validation, None for a hold-out split
    notes: list[str] = field(default_factory=list)  # e.g. classes missing from the test part

    def part(self, name: str) -> list[int]:
        return {"train": self.train, "val": self.val, "test": self.test}[name]

    def files(self, rows: Sequence[ManifestRow], name: str) -> list[str]:
        return [rows[i].file for i in self.part(name)]

    def units(self, rows: Sequence[ManifestRow], name: str) -> list[str]:
        """The sorted groups (source mode) or signers (signer mode) of one part."""
        return sorted({unit_key(rows[i], self.mode) for i in self.part(name)})

    def to_dict(self, rows: Sequence[ManifestRow]) -> dict:
        """The model card's ``split`` block: files and units of each part."""
        out: dict = {"mode": self.mode, "seed": self.seed}
        if self.fold is not None:
            out["fold"] = self.fold
        out.update({name: self.files(rows, name) for name in PARTS})
        out["groups"] = {name: sorted({rows[i].group for i in self.part(name)}) for name in PARTS}
        if self.mode == "signer":
            out["signers"] = {name: self.units(rows, name) for name in PARTS}
        if self.notes:
            out["notes"] = list(self.notes)
        return out


def unit_key(row: ManifestRow, mode: Mode) -> str:
    """What one row is grouped by before any overlap fix-up: its signer or its group."""
    return row.signer if mode == "signer" else row.group


def choose_mode(rows: Sequence[ManifestRow], requested: str = "auto") -> Mode:
    """``auto`` = by signer when every row names one and there are enough signers, else by source.

    A dataset recorded by one person has a signer on every row but cannot be
    split by person, so ``auto`` falls back to ``source`` (and says so);
    asking for ``signer`` explicitly then is an error, not a silent change.
    """
    signers = {r.signer for r in rows}
    everyone_named = all(r.signer for r in rows)
    if requested == "auto":
        if everyone_named and len(signers) >= MIN_SIGNERS:
            return "signer"
        if everyone_named:
            log.warning("only %d signer(s) in the dataset: splitting by source recording instead", len(signers))
        return "source"
    if requested == "source":
        return "source"
    if requested != "signer":
        raise DatasetError(f"unknown split mode {requested!r} (use auto, signer or source)")
    unnamed = sum(1 for r in rows if not r.signer)
    if unnamed:
        raise DatasetError(f"--split signer needs a signer on every recording; {unnamed} have none "
                           "(use --split source)")
    if len(signers) < MIN_SIGNERS:
        raise DatasetError(f"--split signer needs at least {MIN_SIGNERS} signers (train, validation, test); "
                           f"the dataset has {len(signers)} (use --split source)")
    return "signer"


def _units(rows: Sequence[ManifestRow], mode: Mode) -> list[list[int]]:
    """Rows joined into indivisible units: same group always, same signer too in signer mode."""
    parent = list(range(len(rows)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first: dict[tuple[str, str], int] = {}
    for i, row in enumerate(rows):
        keys = [("group", row.group)] + ([("signer", row.signer)] if mode == "signer" else [])
        for key in keys:
            if key in first:
                parent[find(i)] = find(first[key])
            else:
                first[key] = i
    members: dict[int, list[int]] = defaultdict(list)
    for i in range(len(rows)):
        members[find(i)].append(i)
    # A stable order (by first row's unit key) so a seed always gives the same split.
    return sorted(members.values(), key=lambda m: (unit_key(rows[m[0]], mode), m[0]))


def check_splittable(rows: Sequence[ManifestRow], mode: Mode) -> None:
    """Refuse datasets that cannot give an honest test: one class, or a class with a single unit."""
    labels = sorted({r.label for r in rows})
    if len(labels) < 2:
        raise DatasetError(f"the dataset has only one class ({labels[0]!r}): a classifier needs at least two")
    units = _units(rows, mode)
    per_label: dict[str, set[int]] = defaultdict(set)
    for u, members in enumerate(units):
        for i in members:
            per_label[rows[i].label].add(u)
    what = "signer" if mode == "signer" else "source recording"
    for label in labels:
        if len(per_label[label]) < 2:
            only = sorted({unit_key(rows[i], mode) for u in per_label[label] for i in units[u]})
            hint = " (or split by source recording: --split source)" if mode == "signer" else ""
            raise DatasetError(f"class {label!r} has a single {what} ({', '.join(only)}): it cannot be both "
                               f"trained on and tested on new data; add another {what} or remove the class{hint}")


def check_disjoint(rows: Sequence[ManifestRow], split: Split) -> None:
    """The guard: raise SplitLeakError if a file, group or (signer mode) signer sits in two parts."""
    owner: dict[tuple[str, str], str] = {}
    for name in PARTS:
        for i in split.part(name):
            row = rows[i]
            keys = [("file", row.file), ("group", row.group)]
            if split.mode == "signer":
                keys.append(("signer", row.signer))
            for key in keys:
                seen = owner.setdefault(key, name)
                if seen != name:
                    where = f" (fold {split.fold})" if split.fold is not None else ""
                    raise SplitLeakError(f"{key[0]} {key[1]!r} is in both {seen} and {name}{where}")


def _label_of_unit(rows: Sequence[ManifestRow], members: list[int]) -> str | None:
    labels = {rows[i].label for i in members}
    return labels.pop() if len(labels) == 1 else None


def _strata(rows: Sequence[ManifestRow], units: list[list[int]], unit_ids: Sequence[int]) -> dict[str, list[int]]:
    """Units by label when every unit holds one label; one stratum otherwise (e.g. signers)."""
    labels = [_label_of_unit(rows, units[u]) for u in unit_ids]
    if all(label is not None for label in labels):
        out: dict[str, list[int]] = defaultdict(list)
        for u, label in zip(unit_ids, labels, strict=True):
            out[label].append(u)  # type: ignore[index]
        return dict(sorted(out.items()))
    return {"": list(unit_ids)}


def _carve(strata: dict[str, list[int]], fraction: float, rng: np.random.Generator,
           labels: dict[int, set[str]] | None = None) -> set[int]:
    """Take about ``fraction`` of each stratum's units (at least one when two or more remain, never all).

    ``labels`` (the labels each unit holds, for units of several labels such as
    signers): a unit is passed over when taking it would leave one of its labels
    with no unit in the pool, so a class signed by few people keeps a training
    person (the next unit in the shuffled order is taken instead). Where nothing
    is passed over, the result is the plain carve's.
    """
    taken: set[int] = set()
    left: Counter[str] = Counter()
    if labels is not None:
        for stratum in strata.values():
            left.update(label for u in stratum for label in labels[u])
    for stratum in strata.values():
        n = len(stratum)
        k = int(round(n * fraction))
        k = min(max(k, 1 if n >= 2 else 0), n - 1) if fraction > 0 else 0
        order = rng.permutation(n)
        picked = 0
        for j in order:
            if picked == k:
                break
            unit = stratum[j]
            if labels is not None and any(left[label] <= 1 for label in labels[unit]):
                continue
            taken.add(unit)
            picked += 1
            if labels is not None:
                left.subtract(labels[unit])
    return taken


def _unit_labels(rows: Sequence[ManifestRow], units: list[list[int]]) -> dict[int, set[str]]:
    return {u: {rows[i].label for i in members} for u, members in enumerate(units)}


def _finish(rows: Sequence[ManifestRow], units: list[list[int]], mode: Mode, seed: int, train: set[int],
            val: set[int], test: set[int], fold: int | None = None) -> Split:
    """Turn unit sets into a guarded Split, noting classes a held-out part lacks."""
    def rows_of(unit_ids: set[int]) -> list[int]:
        return sorted(i for u in unit_ids for i in units[u])

    split = Split(mode, seed, rows_of(train), rows_of(val), rows_of(test), fold=fold)
    where = f"fold {fold}: " if fold is not None else ""
    if not split.train or not split.val or not split.test:
        sizes = ", ".join(f"{name} {len(split.part(name))}" for name in PARTS)
        raise DatasetError(f"{where}too few {'signers' if mode == 'signer' else 'source recordings'} for a "
                           f"train/validation/test split ({sizes} recordings)")
    all_labels = sorted({r.label for r in rows})
    train_labels = {rows[i].label for i in split.train}
    missing = [label for label in all_labels if label not in train_labels]
    if missing:
        raise DatasetError(f"{where}class {missing[0]!r} has no training recordings in this split")
    for name in ("val", "test"):
        have = {rows[i].label for i in split.part(name)}
        lacking = [label for label in all_labels if label not in have]
        if lacking:
            split.notes.append(f"{where}{name} has no recording of: {', '.join(lacking)}")
    for note in split.notes:
        log.info("%s", note)
    check_disjoint(rows, split)
    return split


def holdout_split(rows: Sequence[ManifestRow], mode: Mode, seed: int = 0, val_fraction: float = 0.15,
                  test_fraction: float = 0.2) -> Split:
    """One grouped, stratified train/validation/test split (fractions are of units, not samples)."""
    if not (0 < test_fraction < 1 and 0 < val_fraction < 1 and val_fraction + test_fraction < 1):
        raise DatasetError(f"validation ({val_fraction}) and test ({test_fraction}) fractions must be in (0, 1) "
                           "and sum to less than 1")
    check_splittable(rows, mode)
    rng = np.random.default_rng(seed)
    units = _units(rows, mode)
    everyone = list(range(len(units)))
    held = _unit_labels(rows, units)
    test = _carve(_strata(rows, units, everyone), test_fraction, rng, held)
    rest = [u for u in everyone if u not in test]
    val = _carve(_strata(rows, units, rest), val_fraction / (1.0 - test_fraction), rng, held)
    train = set(rest) - val
    return _finish(rows, units, mode, seed, train, val, test)


def parse_folds(text: str) -> int | Literal["loso"]:
    """``--folds`` value: an integer K >= 2, or ``loso`` (leave one signer out)."""
    if text.strip().lower() == "loso":
        return "loso"
    try:
        k = int(text)
    except ValueError:
        raise DatasetError(f"--folds must be an integer >= 2 or 'loso', got {text!r}") from None
    if k < 2:
        raise DatasetError(f"--folds must be at least 2, got {k}")
    return k


def kfold_splits(rows: Sequence[ManifestRow], mode: Mode, folds: int | Literal["loso"], seed: int = 0,
                 val_fraction: float = 0.15) -> Iterator[Split]:
    """Grouped (stratified where possible) K-fold; ``loso`` = one fold per signer, signer mode.

    Each unit is tested exactly once across the folds; each fold carves its
    validation units out of its own training units, and each fold is guarded.
    """
    if folds == "loso":
        mode = choose_mode(rows, "signer")
    check_splittable(rows, mode)
    rng = np.random.default_rng(seed)
    units = _units(rows, mode)
    unit_labels = _unit_labels(rows, units)
    k = len(units) if folds == "loso" else int(folds)
    if k > len(units):
        what = "signers" if mode == "signer" else "source recordings"
        raise DatasetError(f"--folds {k} needs at least {k} {what}; the dataset has {len(units)}")
    fold_of: dict[int, int] = {}
    if folds == "loso":
        fold_of = {u: u for u in range(len(units))}
    else:
        # Deal each stratum's shuffled units round-robin, continuing where the last stratum stopped,
        # so folds stay balanced in size and in labels.
        nxt = int(rng.integers(k))
        for stratum in _strata(rows, units, list(range(len(units)))).values():
            for j in rng.permutation(len(stratum)):
                fold_of[stratum[j]] = nxt
                nxt = (nxt + 1) % k
    for f in range(k):
        test = {u for u, g in fold_of.items() if g == f}
        rest = [u for u in range(len(units)) if u not in test]
        held = len(test) / len(units)
        val = _carve(_strata(rows, units, rest), min(0.5, val_fraction / max(1e-9, 1.0 - held)), rng, unit_labels)
        yield _finish(rows, units, mode, seed, set(rest) - val, val, test, fold=f)


def describe(rows: Sequence[ManifestRow], split: Split, part: str = "test") -> str:
    """Plain words for what a part holds, e.g. for the printed accuracy's 'measured on'."""
    idx = split.part(part)
    units = split.units(rows, part)
    labels = Counter(rows[i].label for i in idx)
    shown = ", ".join(units[:6]) + (f" and {len(units) - 6} more" if len(units) > 6 else "")
    if split.mode == "signer":
        who = f"by signer{'s' if len(units) > 1 else ''} {shown}, never seen in training"
    else:
        who = f"from {len(units)} source recording group{'s' if len(units) > 1 else ''} never seen in training"
    name = {"test": "held-out test split", "val": "validation split", "train": "training split"}[part]
    if split.fold is not None:
        name = f"fold {split.fold} {name}"
    return f"{name}: {len(idx)} recordings of {len(labels)} classes {who}"
