"""The README's Accuracy table and the per-set sections of ``accuracy.md``, from ``sign-accuracy``'s payload."""

from __future__ import annotations

from typing import Any

import numpy as np


def _loss(training: dict[str, Any]) -> str:
    """'cross-entropy' or 'generalized cross-entropy (q=0.7)'; runs before --loss existed used cross-entropy."""
    if training.get("loss", "crossentropy") == "gce":
        return f"generalized cross-entropy (q={training.get('gce_q')})"
    return "cross-entropy"


def _pct(x: Any) -> str:
    return "—" if x is None or (isinstance(x, float) and not np.isfinite(x)) else f"{x:.1%}"


def _people(s: dict[str, Any] | None, median: bool = False, below: bool = True) -> str:
    """'mean (worst w[, median m][, n < 80%])' of a people summary."""
    if not s or not s.get("people"):
        return "—"
    parts = [f"worst {_pct(s['worst'])}"]
    if median:
        parts.append(f"median {_pct(s['median'])}")
    if below:
        parts.append(f"{s['below_count']}/{s['people']} < {s['below']:.0%}")
    return f"{_pct(s['mean'])} ({', '.join(parts)})"


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"


ARM_TITLES = {"all": "every recording", "audited": "all but the audit's flagged recordings"}


def _format_cell(arm: dict[str, Any], fmt: str) -> str:
    f = arm.get(fmt) or {}
    people = f.get("people") or {}
    loss = f.get("loss_points_person_mean")
    return _pct(people.get("mean")) + (f" ({0.0 - loss:+.1f})" if loss is not None else "")


def markdown(payload: dict[str, Any]) -> str:
    """The README table (two rows per set: trained on everything / audited) and a section per set."""
    formats = payload["export_check"]
    head = ["set", "people", "signs", "protocol", "trained on", "all people", "people the audit does not flag",
            "recordings the audit does not flag"] + [f"{fmt} (points vs Keras)" for fmt in formats] + \
           ["reference: LR, same folds", "run time"]
    lines = ["# Accuracy on people the model never saw", "",
             f"Command: `{payload['command']}`  ", f"Machine: {payload['machine']['summary']}  ",
             f"Created: {payload['created']}, signedge {payload['signedge_version']}", "",
             "Per-person accuracy of the Keras model: mean (worst person, median, people below 80%); every recording "
             "is predicted by a model that never saw its person. Two trainings per set, side by side: on every "
             "recording as labelled, and without the recordings `sign-audit` flags (labels that look wrong). "
             "*All people*: every recording of every person, as labelled. *People the audit does not flag*: the "
             "same figure over the people without an audit flag. *Recordings the audit does not flag*: only the "
             "kept recordings are scored (optimistic: the flagged ones are the hard ones). "
             f"{', '.join(formats)}: each fold's model converted and every held-out recording scored through the "
             "device classifier (int8 calibrated on that fold's training people only), all people.", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in payload["sets"]:
        for name, arm in r["arms"].items():
            if "skipped" in arm:
                lines.append(f"| {r['set']} | {r['people']} | {r['signs']} | {r['protocol']} | {ARM_TITLES[name]} | "
                             f"{arm['skipped']} |" + " |" * (len(head) - 6))
                continue
            trained = ARM_TITLES[name] + (f" ({arm['excluded_recordings']})" if name == "audited" else "")
            cells = [r["set"], str(r["people"]), str(r["signs"]), r["protocol"], trained,
                     _people(arm["keras"], median=True), _people(arm["not_flagged_people"], below=False),
                     _people(arm.get("recordings_not_flagged"), below=False)]
            cells += [_format_cell(arm, fmt) for fmt in formats]
            cells += [_people(arm["reference"]), _minutes(r["seconds"].get(f"crossval_{name}", 0.0))]
            lines.append("| " + " | ".join(cells) + " |")
    for r in payload["sets"]:
        lines += ["", f"## {r['set']}: {r['about']}", "",
                  f"{r['recordings']} recordings, {r['people']} people, signs: {', '.join(r['labels'])}. "
                  f"Protocol: {r['protocol']}. Model: {r['training']['model']} {r['training']['sizes']} "
                  f"({r['params']} parameters), loss {_loss(r['training'])}, at most {r['training']['epochs']} epochs (patience "
                  f"{r['training']['patience']}, none kept before epoch {r['training']['min_epochs']}). The shared "
                  f"README's reference: {r['reference_published']}. The audit flags "
                  f"{r['audit']['flagged_recordings']} recordings; flagged people: "
                  f"{', '.join(r['audit']['flagged_people']) or 'none'}.", ""]
        for name, arm in r["arms"].items():
            if "skipped" in arm:
                lines.append(f"- Trained on {ARM_TITLES[name]}: {arm['skipped']}")
                continue
            k = arm["keras"]
            text = (f"- Trained on {ARM_TITLES[name]}"
                    + (f" ({arm['excluded_recordings']} left out: "
                       f"{', '.join(f'{w} {n}' for w, n in arm['excluded_by_reason'].items())})" if name == "audited"
                       else "")
                    + f": per-person mean {_pct(k['mean'])}, median {_pct(k['median'])}, worst {_pct(k['worst'])}, "
                      f"{k['below_count']} of {k['people']} below 80%, pooled {_pct(arm['pooled'])}; people the audit "
                      f"does not flag {_pct(arm['not_flagged_people'].get('mean'))} (worst "
                      f"{_pct(arm['not_flagged_people'].get('worst'))}); reference "
                      f"{_pct(arm['reference'].get('mean'))} (people not flagged "
                      f"{_pct(arm['reference_not_flagged_people'].get('mean'))}).")
            for fmt in formats:
                f = arm[fmt]
                text += (f" {fmt}: {_pct(f['people']['mean'])}, {f['loss_points_person_mean'] + 0.0:.2f} points "
                         f"below Keras, {f['flipped']} of {r['recordings']} predictions differ, "
                         f"{f['gates_failed']} fold file(s) under the export gate.")
            if "front_view" in arm:
                fv = arm["front_view"]
                text += (f" Front view (F) alone: {fv['recordings']} recordings, per-person mean "
                         f"{_pct(fv['people']['mean'])}, worst {_pct(fv['people']['worst'])}.")
            if arm.get("per_language"):
                text += " Per language (recordings, people: pooled, per-person mean): " + "; ".join(
                    f"{lang} ({e['recordings']}, {e['people']}: {_pct(e['pooled'])}, {_pct(e['keras']['mean'])})"
                    for lang, e in arm["per_language"].items()) + "."
            lines.append(text)
        lines.append(f"- Run time: {', '.join(f'{k} {_minutes(v)}' for k, v in r['seconds'].items())}.")
        arms = [n for n, a in r["arms"].items() if "skipped" not in a]
        mixed = any("languages" in p for p in r["per_person"])
        cols = ["signer", "recordings"] + (["languages", "signs"] if mixed else [])
        for n in arms:
            cols += [f"{n}: Keras"] + [f"{n}: {fmt}" for fmt in formats] + [f"{n}: LR"]
        if "audited" in arms:
            cols += ["excluded", "audited: recordings not flagged"]
        cols.append("audit flags")
        lines += ["", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        for p in r["per_person"]:
            cells = [p["signer"], str(p["recordings"])]
            if mixed:
                cells += ["/".join(p.get("languages", [])), ", ".join(p.get("signs", []))]
            for n in arms:
                cells += [_pct(p[n]["keras"])] + [_pct(p[n].get(fmt)) for fmt in formats] + [_pct(p[n]["reference"])]
            if "audited" in arms:
                cells += [str(p["audited"]["excluded"]), _pct(p["audited"]["keras_recordings_not_flagged"])]
            cells.append(p["audit_flags"].replace("|", "/"))
            lines.append("| " + " | ".join(cells) + " |")
        labels = r["labels"]
        lines += ["", "Confusion, trained on every recording, all people pooled (rows: true, columns: predicted):",
                  "", "| | " + " | ".join(labels) + " |", "|" + "---|" * (len(labels) + 1)]
        lines += [f"| {label} | " + " | ".join(str(v) for v in row) + " |"
                  for label, row in zip(labels, r["arms"]["all"]["confusion"], strict=True)]
    return "\n".join(lines) + "\n"
