"""Step 5 of the audit: its report files, ``audit.md``, ``recordings.csv``, ``people.csv`` and ``flagged.txt``.

Why a module of its own: rendering is all wording and layout; every file is
rendered before any is written, and each is written atomically, so a failure
never leaves half a report (``flagged.txt`` is what ``sign-train
--exclude-flagged`` reads).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from edge_runtime.files import write_text
from train.audit.config import AuditError
from train.audit.report_mixed import language_cell, mixed_rules, mixed_sections, mixed_summary
from train.audit.result import AuditResult, HandStats, describe_permutation
from train.audit.tables import csv_text, md_table, num, pct

FILES = ("audit.md", "recordings.csv", "people.csv", "flagged.txt")
RECORDING_COLUMNS = ("file", "signer", "label", "predicted", "confidence", "label_prob", "flagged", "reason")
PEOPLE_COLUMNS = ("signer", "recordings", "frames", "left_hand", "right_hand", "both_hands", "any_hand", "jitter",
                  "oof_accuracy", "confused", "best_permutation", "permutation_agreement", "missing_handshape",
                  "flags")


def _stats_cells(s: HandStats) -> list[object]:
    return [s.recordings, s.frames, pct(s.left), pct(s.right), pct(s.both), pct(s.any), num(s.jitter, 3)]


_STATS_HEADER = ["recordings", "frames", "left hand", "right hand", "both hands", "any hand", "jitter"]


def render_markdown(result: AuditResult) -> str:
    cfg = result.config
    n = len(result.recordings)
    unit = "signer" if result.by_person else "recording group"
    out = [f"# Data audit: {result.dataset.name}", "",
           f"Dataset `{result.dataset}`: {n} recordings, {len(result.labels)} labels "
           f"({', '.join(result.labels)}), "
           + (f"{len(result.people)} people." if result.by_person else "no signer names."), ""]
    out += [f"- {note}" for note in result.notes]
    if result.notes:
        out.append("")
    accs = np.array([p.accuracy for p in result.people])
    out += ["## Summary", "",
            (f"- Model: StandardScaler + logistic regression (C={cfg.C:g}) on the mean, std, min and max over "
             f"time of the `{cfg.spec.id}` model input (T={cfg.spec.frames}), predicted out-of-fold with "
             f"{result.folds}-fold GroupKFold by {unit}: every recording is predicted by a model that never saw "
             f"its {unit}."),
            f"- Out-of-fold accuracy over all {n} recordings: **{result.accuracy:.1%}**."]
    if len(accs):
        worst = min(result.people, key=lambda p: p.accuracy)
        out.append(f"- Per person: mean {accs.mean():.1%}, median {np.median(accs):.1%}, worst {worst.accuracy:.1%} "
                   f"({worst.signer}); {int((accs < cfg.min_accuracy).sum())} of {len(accs)} below "
                   f"{cfg.min_accuracy:.0%}.")
    why = "cleanlab issues and permuted labels" + (" and swapped hand blocks" if result.swapped_people else "")
    out += [f"- cleanlab `find_label_issues`: **{result.label_issues}** of {n} recordings look mislabelled.",
            f"- flagged.txt: {len(result.flagged_files)} recordings ({why})."]
    if result.by_person:
        flagged = result.flagged_people
        out.append(f"- Flagged people: {len(flagged)} of {len(result.people)}"
                   + (f" ({', '.join(p.signer for p in flagged)})." if flagged else "."))
    out += mixed_summary(result)
    out += ["", "## Rules", ""] + [f"- {r}" for r in cfg.rules() + mixed_rules(result)] + [""]
    out += mixed_sections(result)
    if result.by_person:
        out += ["## Flagged people", ""]
        flagged = result.flagged_people
        lang = ["language"] if result.has_languages else []
        if flagged:
            out += md_table(["signer", *lang, "recordings", "oof accuracy", "best permutation", "agreement", "flags"],
                            [[p.signer, *language_cell(result, p), p.stats.recordings,
                              pct(p.accuracy), describe_permutation(p.permutation), pct(p.permutation_agreement),
                              "; ".join(p.flags)] for p in flagged])
        else:
            out.append("None.")
        out += ["", "## Handshapes per label", "",
                ("Per person, the share of their recordings of a label that show its handshape (median person) "
                 "and of their other recordings that show it (upper-quartile person); each person is judged "
                 "against the other people's centroids."), ""]
        out += md_table(["label", "shown by its recordings", "shown by other labels", "distinctive"],
                        [[c.label, pct(c.recall), pct(c.false_share), "yes" if c.distinctive else "no"]
                         for c in result.handshapes])
        out += ["", "## People", ""]
        out += md_table(["signer", *lang, *_STATS_HEADER, "oof accuracy", "confused", "best permutation", "agreement"],
                        [[p.signer, *language_cell(result, p), *_stats_cells(p.stats), pct(p.accuracy),
                          ", ".join(f"{a}→{b} ×{c}" for a, b, c in p.confusions[:3]),
                          describe_permutation(p.permutation), pct(p.permutation_agreement)]
                         for p in result.people])
    out += ["", "## Labels", ""]
    out += md_table(["label", *_STATS_HEADER, "oof recall", "cleanlab issues"],
                    [[a.stats.name, *_stats_cells(a.stats), pct(a.recall), a.label_issues]
                     for a in result.label_audits])
    jitter = ("Jitter: median frame-to-frame motion of the 20 wrist-relative finger points, in hand sizes "
              "(detector noise plus finger motion).")
    out += ["", jitter, "", "## Out-of-fold confusion (rows: given label, columns: predicted)", ""]
    out += md_table(["given \\ predicted", *result.labels],
                    [[lab, *result.confusion[i].tolist()] for i, lab in enumerate(result.labels)])
    issues = sorted((r for r in result.recordings if r.label_issue), key=lambda r: (r.label_prob, r.file))
    out += ["", f"## Suspected label errors (cleanlab), most certain first: {len(issues)}", ""]
    if issues:
        out += md_table(["file", "signer", "label", "predicted", "p(label)", "p(predicted)"],
                        [[r.file, r.signer, r.label, r.predicted, num(r.label_prob, 3), num(r.confidence, 3)]
                         for r in issues[:30]])
        if len(issues) > 30:
            out.append(f"\n… and {len(issues) - 30} more in recordings.csv (column `reason`).")
    else:
        out.append("None.")
    return "\n".join(out) + "\n"


def _language_column(result: AuditResult, header: Sequence[str], rows: list[list[object]],
                     languages: Sequence[str]) -> str:
    """The table as CSV, with a ``language`` column after ``signer`` only when the dataset has languages."""
    if result.has_languages:
        at = list(header).index("signer") + 1
        header = [*header[:at], "language", *header[at:]]
        rows = [[*row[:at], lang, *row[at:]] for row, lang in zip(rows, languages)]
    return csv_text(header, rows)


def render_recordings_csv(result: AuditResult) -> str:
    rows: list[list[object]] = [[r.file, r.signer, r.label, r.predicted, f"{r.confidence:.4f}", f"{r.label_prob:.4f}",
                                 int(r.flagged), r.reason] for r in result.recordings]
    return _language_column(result, RECORDING_COLUMNS, rows, [r.language for r in result.recordings])


def render_people_csv(result: AuditResult) -> str:
    rows: list[list[object]] = []
    for p in result.people:
        s = p.stats
        rows.append([p.signer, s.recordings, s.frames, num(s.left), num(s.right), num(s.both), num(s.any),
                     num(s.jitter), num(p.accuracy), "; ".join(f"{a}→{b} ×{c}" for a, b, c in p.confusions),
                     "; ".join(f"{k}→{v}" for k, v in p.permutation.items()), num(p.permutation_agreement),
                     "; ".join(h.label for h in p.missing_handshapes), " | ".join(p.flags)])
    return _language_column(result, PEOPLE_COLUMNS, rows, ["; ".join(p.languages) for p in result.people])


def write_report(result: AuditResult, out: str | Path) -> list[Path]:
    """Render every file first, then write each atomically: a failure never leaves half a report file."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise AuditError(f"{out}: exists and is not a folder")
    texts = {
        "audit.md": render_markdown(result),
        "recordings.csv": render_recordings_csv(result),
        "people.csv": render_people_csv(result),
        "flagged.txt": "".join(f"{f}\n" for f in result.flagged_files),
    }
    paths = []
    for name, text in texts.items():
        write_text(out / name, text)
        paths.append(out / name)
    return paths
