"""The audit per language, for mixed data whose recordings carry ``extra["language"]``.

Why: one accuracy over several sign languages hides which of them the quick
model (trained on all of them, grouped by person) serves badly and where the
flagged people are; a table row per language shows both. A person counts in
every language they have recordings in.
"""

from __future__ import annotations

from collections import Counter
from typing import Sequence

from train.audit.result import LanguageAudit, PersonAudit, RecordingAudit

NO_LANGUAGE = "(none)"  # recordings without the field, in a dataset where others have it


def person_languages(languages: Sequence[str | None]) -> list[str]:
    """A person's languages, most recordings first (ties by name); recordings without one are left out."""
    counts = Counter(lang for lang in languages if lang is not None)
    return [lang for lang, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def language_table(recordings: Sequence[RecordingAudit], people: Sequence[PersonAudit],
                   languages: Sequence[str | None]) -> list[LanguageAudit]:
    """One row per language, most recordings first; ``languages`` per recording (None: none given)."""
    flagged_people = {p.signer for p in people if p.flags}
    rows: dict[str, list[RecordingAudit]] = {}
    for rec, lang in zip(recordings, languages):
        rows.setdefault(NO_LANGUAGE if lang is None else lang, []).append(rec)
    out = []
    for lang, recs in rows.items():
        signers = {r.signer for r in recs if r.signer}
        out.append(LanguageAudit(
            lang, len(signers), len(recs), len({r.label for r in recs}),
            sum(r.predicted == r.label for r in recs) / len(recs), len(signers & flagged_people),
            sum(r.flagged for r in recs)))
    return sorted(out, key=lambda row: (-row.recordings, row.language))
