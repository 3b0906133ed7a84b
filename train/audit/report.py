"""Step 5 of the audit: its report files, ``audit.md``, ``recordings.csv``, ``people.csv`` and ``flagged.txt``.

Why a module of its own: rendering is all wording and layout; every file is
rendered before any is written, and each is written atomically, so a failure
never leaves half a report (``flagged.txt`` is what ``sign-train
--exclude-flagged`` reads).
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Sequence

import numpy as np

from edge_runtime.files import write_text
from train.audit.config import AuditError
from train.audit.result import AuditResult, HandStats, describe_permutation

FILES = ("audit.md", "recordings.csv", "people.csv", "flagged.txt")
RECORDING_COLUMNS = ("file", "signer", "label", "predicted", "confidence", "label_prob", "flagged", "reason")
PEOPLE_COLUMNS = ("signer", "recordings", "frames", "left_hand", "right_hand", "both_hands", "any_hand", "jitter",
                  "oof_accuracy", "confused", "best_permutation", "permutation_agreement", "missing_handshape",
                  "flags")


def _pct(x: float) -> str:
    return "" if not math.isfinite(x) else f"{x:.1%}"


def _num(x: float, digits: int = 4) -> str:
    return "" if not math.isfinite(x) else f"{x:.{digits}f}"


def _md(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(_md(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_md(c) for c in row) + " |" for row in rows]
    return lines


def _stats_cells(s: HandStats) -> list[object]:
    return [s.recordings, s.frames, _pct(s.left), _pct(s.right), _pct(s.both), _pct(s.any), _num(s.jitter, 3)]


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
    out += [f"- cleanlab `find_label_issues`: **{result.label_issues}** of {n} recordings look mislabelled.",
            f"- flagged.txt: {len(result.flagged_files)} recordings (cleanlab issues and permuted labels)."]
    if result.by_person:
        flagged = result.flagged_people
        out.append(f"- Flagged people: {len(flagged)} of {len(result.people)}"
                   + (f" ({', '.join(p.signer for p in flagged)})." if flagged else "."))
    out += ["", "## Rules", ""] + [f"- {r}" for r in cfg.rules()] + [""]
    if result.by_person:
        out += ["## Flagged people", ""]
        flagged = result.flagged_people
        if flagged:
            out += _table(["signer", "recordings", "oof accuracy", "best permutation", "agreement", "flags"],
                          [[p.signer, p.stats.recordings, _pct(p.accuracy), describe_permutation(p.permutation),
                            _pct(p.permutation_agreement), "; ".join(p.flags)] for p in flagged])
        else:
            out.append("None.")
        out += ["", "## Handshapes per label", "",
                ("Per person, the share of their recordings of a label that show its handshape (median person) "
                 "and of their other recordings that show it (upper-quartile person); each person is judged "
                 "against the other people's centroids."), ""]
        out += _table(["label", "shown by its recordings", "shown by other labels", "distinctive"],
                      [[c.label, _pct(c.recall), _pct(c.false_share), "yes" if c.distinctive else "no"]
                       for c in result.handshapes])
        out += ["", "## People", ""]
        out += _table(["signer", *_STATS_HEADER, "oof accuracy", "confused", "best permutation", "agreement"],
                      [[p.signer, *_stats_cells(p.stats), _pct(p.accuracy),
                        ", ".join(f"{a}→{b} ×{c}" for a, b, c in p.confusions[:3]),
                        describe_permutation(p.permutation), _pct(p.permutation_agreement)]
                       for p in result.people])
    out += ["", "## Labels", ""]
    out += _table(["label", *_STATS_HEADER, "oof recall", "cleanlab issues"],
                  [[a.stats.name, *_stats_cells(a.stats), _pct(a.recall), a.label_issues]
                   for a in result.label_audits])
    jitter = ("Jitter: median frame-to-frame motion of the 20 wrist-relative finger points, in hand sizes "
              "(detector noise plus finger motion).")
    out += ["", jitter, "", "## Out-of-fold confusion (rows: given label, columns: predicted)", ""]
    out += _table(["given \\ predicted", *result.labels],
                  [[lab, *result.confusion[i].tolist()] for i, lab in enumerate(result.labels)])
    issues = sorted((r for r in result.recordings if r.label_issue), key=lambda r: (r.label_prob, r.file))
    out += ["", f"## Suspected label errors (cleanlab), most certain first: {len(issues)}", ""]
    if issues:
        out += _table(["file", "signer", "label", "predicted", "p(label)", "p(predicted)"],
                      [[r.file, r.signer, r.label, r.predicted, _num(r.label_prob, 3), _num(r.confidence, 3)]
                       for r in issues[:30]])
        if len(issues) > 30:
            out.append(f"\n… and {len(issues) - 30} more in recordings.csv (column `reason`).")
    else:
        out.append("None.")
    return "\n".join(out) + "\n"


def _csv(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def render_recordings_csv(result: AuditResult) -> str:
    return _csv(RECORDING_COLUMNS, [[r.file, r.signer, r.label, r.predicted, f"{r.confidence:.4f}",
                                     f"{r.label_prob:.4f}", int(r.flagged), r.reason] for r in result.recordings])


def render_people_csv(result: AuditResult) -> str:
    rows = []
    for p in result.people:
        s = p.stats
        rows.append([p.signer, s.recordings, s.frames, _num(s.left), _num(s.right), _num(s.both), _num(s.any),
                     _num(s.jitter), _num(p.accuracy), "; ".join(f"{a}→{b} ×{c}" for a, b, c in p.confusions),
                     "; ".join(f"{k}→{v}" for k, v in p.permutation.items()), _num(p.permutation_agreement),
                     "; ".join(h.label for h in p.missing_handshapes), " | ".join(p.flags)])
    return _csv(PEOPLE_COLUMNS, rows)


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
