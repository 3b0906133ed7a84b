"""The recordings ``sign-openset`` measures on: who trains, who sets the threshold, who is tested, and with what.

Rules, fixed here before any run (issue #17); people who are tested are never
in training, validation or threshold choice:

- **Rejection (ASL).** Known signs: hello, iloveyou, thanks. Training and
  validation people: the 48 shared ASL people (15% of them, by person, are the
  validation people: early stopping and the stored threshold). Test people:
  the ``mpdata-words`` people who are not among the 48 (a person in both is
  left out of the test: ``overlap``). A third of them (by a seeded draw) are
  *negative donors*: only the "none of these" model trains on their other
  signs; they are never tested. Test known = the other test people's
  recordings of the three signs (``thankyou`` in mpdata-words is ASL
  ``thanks``); test unknown = their recordings of the 18 other signs, plus
  their rest frames (before and after the sign, where the device's segmenter
  cuts them away, when at least ``MIN_REST_FRAMES`` frames show a hand).
- **Enrollment (words).** Left-out signs: please, bye, help, good, sorry,
  you. People split by person: test people are drawn (seeded) first so that
  every left-out sign has ``MIN_TEST_DONORS`` test people with at least
  ``max(shots)`` recordings of it (a donor and people to score), then filled
  with random people up to ``TEST_FRACTION`` of everyone; ``VAL_FRACTION``
  of the rest are validation people (early stopping). A plain grouped
  hold-out leaves some left-out signs with no test person at all (each
  person signed 1 to 8 of the 21). The encoder trains on the training
  people's recordings of the 15 other signs only. For a left-out sign, a donor is a
  test person with at least ``max(shots)`` recordings of it; each trial
  draws one donor per left-out sign and enrolls it from that person's first
  k recordings; the donors' recordings are then left out of that trial's
  scoring, and every other test person's recordings of all 21 signs are
  scored.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from edge_runtime.dataset import Dataset
from edge_runtime.hands import HandSequence
from edge_runtime.segment import sign_span
from train.fit import Loaded

log = logging.getLogger(__name__)

ASL_KNOWN = {"hello": "hello", "iloveyou": "iloveyou", "thanks": "thankyou"}  # ASL-48 label -> mpdata-words label
LEFT_OUT = ("please", "bye", "help", "good", "sorry", "you")
MIN_REST_FRAMES = 8  # a rest piece shorter than this (frames with a hand) is not something the device would classify
DONOR_FRACTION = 1 / 3
MIN_TEST_DONORS = 3
TEST_FRACTION = 0.3
VAL_FRACTION = 0.15


def person_key(signer: str) -> str:
    """One spelling of a person across the shared sets: the ASL sets name a repository owner as GitHub shows it
    (``ISmokeData``), mpdata-words as ``gh-`` + lower case (``gh-ismokedata``)."""
    name = signer.lower()
    return name[3:] if name.startswith("gh-") else name


def people(loaded: Loaded, indices: Sequence[int] | None = None) -> dict[str, list[int]]:
    """signer -> row indices (of ``indices``, default all), in row order."""
    out: dict[str, list[int]] = {}
    for i in range(len(loaded.rows)) if indices is None else indices:
        out.setdefault(loaded.rows[i].signer, []).append(i)
    return out


def rest_pieces(dataset: Dataset, indices: Sequence[int]) -> tuple[list[HandSequence], list[str]]:
    """The frames around each recording's sign (what the segmenter cuts away), with their signers."""
    pieces, signers = [], []
    for i in indices:
        rec = dataset.load(i)
        span = sign_span(rec.hands, rec.fps)
        if span is None:
            continue
        for start, stop in ((0, span[0]), (span[1], rec.num_frames)):
            piece = rec.hands.frames(start, stop)
            if int(piece.present.any(axis=1).sum()) >= MIN_REST_FRAMES:
                pieces.append(piece)
                signers.append(rec.signer)
    return pieces, signers


@dataclass
class RejectionData:
    """Index lists into the two datasets, and the rest pieces, as the module docstring's rules define them."""

    train: list[int]  # ASL-48 rows
    val: list[int]  # ASL-48 rows (validation people)
    known_test: list[int]  # words rows: the three known signs by test people
    unknown_test: list[int]  # words rows: the other signs by test people
    donor_negatives: list[int]  # words rows: other signs by negative donors (the none-class model only)
    rest_test: list[HandSequence]
    rest_test_signers: list[str]
    rest_train: list[HandSequence]  # rest pieces of ASL-48 training people (the none-class model only)
    test_people: list[str]
    donors: list[str]
    overlap: list[str]  # people in both sets, left out of the test


def rejection_data(asl: Loaded, words: Loaded, split_train: Sequence[int], split_val: Sequence[int],
                   seed: int = 0) -> RejectionData:
    """Apply the rejection rules to the loaded ASL-48 set (already split by person) and mpdata-words."""
    asl_people = {person_key(p) for p in people(asl)}
    words_people = people(words)
    overlap = sorted(p for p in words_people if person_key(p) in asl_people)
    candidates = sorted(p for p in words_people if person_key(p) not in asl_people)
    rng = np.random.default_rng([seed, 17])
    donors = sorted(rng.choice(candidates, size=int(round(DONOR_FRACTION * len(candidates))), replace=False).tolist())
    test_people = [p for p in candidates if p not in donors]
    known_labels = set(ASL_KNOWN.values())
    known_test, unknown_test, negatives = [], [], []
    for person in test_people:
        for i in words_people[person]:
            (known_test if words.rows[i].label in known_labels else unknown_test).append(i)
    for person in donors:
        negatives += [i for i in words_people[person] if words.rows[i].label not in known_labels]
    test_rows = [i for p in test_people for i in words_people[p]]
    rest_test, rest_signers = rest_pieces(words.dataset, test_rows)
    rest_train, _ = rest_pieces(asl.dataset, split_train)
    log.info("rejection: %d test people (%d known, %d unknown recordings, %d rest pieces), %d negative donors, "
             "%d people in both sets left out", len(test_people), len(known_test), len(unknown_test), len(rest_test),
             len(donors), len(overlap))
    return RejectionData(list(split_train), list(split_val), known_test, unknown_test, negatives, rest_test,
                         rest_signers, rest_train, test_people, donors, overlap)


@dataclass
class PersonSplit:
    train: list[int]
    val: list[int]
    test: list[int]


def enrollment_split(words: Loaded, left_out: Sequence[str], min_recordings: int, seed: int = 0) -> PersonSplit:
    """Test people first (every left-out sign gets ``MIN_TEST_DONORS`` eligible donors), then validation, training."""
    rng = np.random.default_rng([seed, 29])
    by_person = people(words)
    everyone = sorted(by_person)
    order = [everyone[i] for i in rng.permutation(len(everyone))]
    counts = {p: {} for p in everyone}  # person -> sign -> recordings
    for p, rows in by_person.items():
        for i in rows:
            counts[p][words.rows[i].label] = counts[p].get(words.rows[i].label, 0) + 1
    test: list[str] = []
    for sign in left_out:
        have = sum(1 for p in test if counts[p].get(sign, 0) >= min_recordings)
        for p in order:
            if have >= MIN_TEST_DONORS:
                break
            if p not in test and counts[p].get(sign, 0) >= min_recordings:
                test.append(p)
                have += 1
    for p in order:
        if len(test) >= round(TEST_FRACTION * len(everyone)):
            break
        if p not in test:
            test.append(p)
    rest = [p for p in order if p not in test]
    val = rest[:round(VAL_FRACTION * len(everyone))]
    train = [p for p in rest if p not in val]
    rows = {name: sorted(i for p in group for i in by_person[p]) for name, group in
            (("train", train), ("val", val), ("test", test))}
    return PersonSplit(rows["train"], rows["val"], rows["test"])


@dataclass
class EnrollTrial:
    """One draw of donors: the sign -> (donor, that donor's recordings in order)."""

    donors: dict[str, tuple[str, list[int]]]


def enroll_trials(words: Loaded, test: Sequence[int], left_out: Sequence[str], max_shots: int, trials: int,
                  seed: int = 0) -> tuple[list[EnrollTrial], dict[str, list[str]]]:
    """``trials`` donor draws (one donor per left-out sign), and each sign's eligible donors."""
    by_person_sign: dict[tuple[str, str], list[int]] = {}
    for i in test:
        row = words.rows[i]
        by_person_sign.setdefault((row.signer, row.label), []).append(i)
    eligible = {w: sorted(p for (p, lab), idx in by_person_sign.items() if lab == w and len(idx) >= max_shots)
                for w in left_out}
    rng = np.random.default_rng([seed, 23])
    out = []
    for _ in range(trials):
        donors = {}
        for w in left_out:
            if eligible[w]:
                person = str(rng.choice(eligible[w]))
                donors[w] = (person, by_person_sign[(person, w)])
        out.append(EnrollTrial(donors))
    return out, eligible
