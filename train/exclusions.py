"""Recordings and people kept out of training, and why: ``--exclude-flagged`` and ``--exclude-signers``.

Why this exists: public sign-language data carries wrong labels (in the shared
ASL set one person's ``thanks`` and ``iloveyou`` are swapped). ``sign-audit``
finds them and lists them in ``flagged.txt``; training can then leave them
out. Leaving data out changes what a figure means, so an exclusion is never
silent: every excluded recording carries its reason, the run's card and
``crossval.json`` list them, and a cross-validation still predicts the
excluded recordings of each held-out person (with a model that never saw that
person) so the report can put the all-recordings figure beside the audited one.

Reasons come from the audit's ``recordings.csv`` when it sits beside
``flagged.txt`` (e.g. "cleanlab: predicted thanks"), and the audit's per-person
flags from its ``people.csv``; without them a flagged recording's reason is
simply "listed in flagged.txt".
"""

from __future__ import annotations

import csv
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from edge_runtime.dataset import ManifestRow
from edge_runtime.errors import DatasetError

log = logging.getLogger(__name__)

SIGNER_REASON = "signer excluded (--exclude-signers)"


@dataclass
class Exclusions:
    """Which manifest files are left out of training and validation, with one reason each."""

    files: dict[str, str] = field(default_factory=dict)  # manifest file -> why it is excluded
    signers: list[str] = field(default_factory=list)  # people excluded whole
    flagged_file: str = ""  # the flagged.txt read, if any
    people_flags: dict[str, str] = field(default_factory=dict)  # signer -> the audit's flags (people.csv)

    def __bool__(self) -> bool:
        return bool(self.files or self.signers)

    def reason(self, row: ManifestRow) -> str:
        """Why ``row`` is excluded, or "" when it is kept."""
        if row.signer and row.signer in self.signers:
            return SIGNER_REASON
        return self.files.get(row.file, "")

    def kept(self, rows: Sequence[ManifestRow]) -> list[int]:
        return [i for i, row in enumerate(rows) if not self.reason(row)]

    def to_dict(self, rows: Sequence[ManifestRow]) -> dict[str, Any]:
        """What was dropped and why, for the model card and crossval.json."""
        dropped = [(row, self.reason(row)) for row in rows if self.reason(row)]
        return {
            "flagged_file": self.flagged_file or None,
            "signers": list(self.signers),
            "recordings": len(dropped),
            "of": len(rows),
            "by_signer": dict(sorted(Counter(row.signer for row, _ in dropped).items())),
            "by_reason": dict(sorted(Counter(_reason_kind(why) for _, why in dropped).items())),
            "files": [{"file": row.file, "signer": row.signer, "label": row.label, "reason": why}
                      for row, why in dropped],
            "rule": "excluded recordings are never trained or validated on; a cross-validation still predicts them "
                    "when their person is held out and scores them only in the all-recordings figures; a hold-out "
                    "run leaves them out of every part",
        }


def _reason_kind(reason: str) -> str:
    """The reason without its details, for counting: 'cleanlab', 'permuted labels', both, or the reason itself."""
    kinds = [kind for key, kind in (("cleanlab", "cleanlab"), ("permuted", "permuted labels")) if key in reason]
    return " + ".join(kinds) if kinds else reason


def _read_table(path: Path) -> list[dict[str, str]]:
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            return list(csv.DictReader(fh))
    except (OSError, csv.Error, UnicodeDecodeError) as err:
        raise DatasetError(f"{path}: cannot read ({err})") from err


def read_flagged(path: str | Path) -> tuple[list[str], dict[str, str], dict[str, str]]:
    """(files, reason per file, flags per person) of a sign-audit ``flagged.txt`` and its neighbours."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"--exclude-flagged {path}: file not found (sign-audit writes flagged.txt)")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise DatasetError(f"--exclude-flagged {path}: cannot read ({err})") from err
    files = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    reasons: dict[str, str] = {}
    recordings = path.with_name("recordings.csv")
    if recordings.is_file():
        for row in _read_table(recordings):
            if row.get("file") in set(files) and row.get("reason"):
                reasons[row["file"]] = row["reason"]
    people: dict[str, str] = {}
    people_csv = path.with_name("people.csv")
    if people_csv.is_file():
        for row in _read_table(people_csv):
            if row.get("signer") and row.get("flags"):
                people[row["signer"]] = row["flags"]
    return files, reasons, people


def load_exclusions(rows: Sequence[ManifestRow], flagged: str | Path | None = None,
                    signers: Sequence[str] = ()) -> Exclusions:
    """Exclusions checked against the dataset: a file or person it does not have is an error, not a no-op.

    (A flagged.txt from another dataset would otherwise exclude nothing and the
    "audited" figures would silently be the plain ones.)
    """
    out = Exclusions()
    known_files = {row.file for row in rows}
    if flagged is not None:
        files, reasons, out.people_flags = read_flagged(flagged)
        unknown = [f for f in files if f not in known_files]
        if unknown:
            raise DatasetError(f"--exclude-flagged {flagged}: {len(unknown)} of its {len(files)} recordings are not "
                               f"in this dataset (e.g. {unknown[0]}); was it written for another dataset?")
        out.files = {f: reasons.get(f, "listed in flagged.txt") for f in files}
        out.flagged_file = str(flagged)
    wanted = [s.strip() for s in signers if s.strip()]
    known_signers = sorted({row.signer for row in rows if row.signer})
    missing = [s for s in wanted if s not in known_signers]
    if missing:
        shown = ", ".join(known_signers[:8]) + (" ..." if len(known_signers) > 8 else "")
        raise DatasetError(f"--exclude-signers: {missing[0]!r} is not a signer of this dataset (it has: {shown})")
    out.signers = sorted(set(wanted))
    if out:
        kept = len(out.kept(rows))
        if kept == 0:
            raise DatasetError("the exclusions leave no recording to train on")
        log.info("excluding %d of %d recordings from training (%d signer(s) whole)", len(rows) - kept, len(rows),
                 len(out.signers))
    return out


def parse_signers(text: str | None) -> list[str]:
    """``--exclude-signers A,B`` -> ['A', 'B'] (empty names dropped)."""
    return [s.strip() for s in (text or "").split(",") if s.strip()]
