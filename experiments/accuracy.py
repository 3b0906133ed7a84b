"""``sign-accuracy``: the README's Accuracy table, end to end, from the shared real data sets.

One command per real set (or all of them): import the shared per-person
files (``sign-import``), audit the labels (``sign-audit``), cross-validate by
person twice — once on every recording ("all people"), once with the audit's
flagged recordings left out of training ("audited", ``--exclude-flagged``) —
with each fold's model also exported to f16 and int8 and scored through the
device classifier, and score a logistic-regression reference on exactly the
same folds. It writes one Markdown table row per set, per-person tables and
the command, machine and run time to ``benchmarks/results/accuracy.md`` and
``.json``.

What is and is not written: the result files hold per-set and per-person
aggregate figures only (no recording names, no per-recording predictions),
so they can be committed even for the KSL set, whose files and models must
never enter the repository. Datasets, audits and run folders go to
``--work`` (default ``runs/accuracy``, ignored by git).

Each figure says what it was measured on: "all people" = every recording,
each predicted by a model that never saw its person; "audited" = the same
protocol, trained without the audit's flagged recordings and scored on the
recordings the audit did not flag; "not flagged" = all-people figures of the
people the audit raises no flag on.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from edge_runtime.errors import DatasetError
from edge_runtime.files import write_json, write_text
from experiments.accuracy_table import markdown

log = logging.getLogger(__name__)

RESULTS_FORMAT = 2  # the layout of accuracy.json; earlier sets are merged into a new file only when it matches
REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class RealSet:
    """One shared real data set and the protocol the issue asks for on it."""

    name: str
    folders: tuple[str, ...]  # under <shared>/data
    folds: str  # "loso" or K (grouped by person)
    about: str
    published: str  # the shared README's reference figure, quoted for comparison (not measured here)
    # Overrides of TrainConfig's defaults for this set. Its model stays compact (TrainConfig's default, which
    # sign-train's --model auto also picks for every set here: at most 8 classes, train.model_choice).
    training: dict[str, Any] = field(default_factory=dict)
    private: bool = False  # the files and models must never enter the repository (per-person aggregates only)
    spec: str = "hands-xy-angles-v1"  # the feature spec id (sign-train --spec) and its T (--frames)
    frames: int = 64


SETS: dict[str, RealSet] = {s.name: s for s in (
    RealSet("asl8", ("asl-mpdata",), "loso", "ASL, 8 people (webcam, MediaPipe Holistic), 3 signs",
            "logistic regression, LOSO: mean 86.3%, worst 43%"),
    RealSet("asl48", ("asl-mpdata", "asl-mpdata-extra"), "5", "ASL, 48 people, 3 signs",
            "logistic regression, 5-fold by person: mean 91.6%, median 98.3%, worst 38.9%, 7 of 48 below 80%",
            training={"epochs": 60, "patience": 15, "batch_size": 32}),
    RealSet("ksl", ("ksl-aihub-keypoints",), "loso", "KSL (AI Hub), 7 native signers, 8 words, up to 5 camera "
            "views per performance (one group)", "logistic regression, LOSO: mean 73.5%, worst 56.0%",
            private=True),
    # In-the-wild data, several sign languages under English glosses (issue #16). sign-train's --model auto picks
    # the architecture (conv-transformer: 21 classes, 12,061 recordings); figures are also given per language.
    # Hand dominance is canonicalised (left- and right-handed people, mirrored cameras, swapped hand blocks) and
    # T = 32 (median recording 30 frames, longest 78); the budget (30 epochs, batch 128) is set by run time.
    RealSet("words21", ("mpdata-words",), "5", "21 signs by 62 people from public repositories, variable length, "
            "several sign languages (ASL, ISL, BSL, PSL, Thai, Vietnamese, Sri Lankan; 58% unspecified)",
            "none published", training={"model": "auto", "epochs": 30, "patience": 6, "min_epochs": 8,
                                        "batch_size": 128},
            spec="hands-dominant-v1", frames=32),
)}


def parse_sets(text: str, shared: Path, allow_none: bool = False) -> list[str]:
    """``--sets`` names: each known and its shared folders present, else one clear error."""
    names = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [n for n in names if n not in SETS]
    if unknown or not (names or allow_none):
        raise DatasetError(f"--sets: unknown set {unknown[0] if unknown else '(none)'!r} (known: {', '.join(SETS)})")
    for name in names:
        for folder in SETS[name].folders:
            if not (shared / "data" / folder).is_dir():
                raise DatasetError(f"{shared / 'data' / folder}: not found (the shared data sets are needed; "
                                   "pass --shared)")
    return names


# ---------------------------------------------------------------- steps


def import_set(real: RealSet, shared: Path, dest: Path) -> Path:
    """What ``sign-import npz <shared files> dest --force`` does (re-imported every time: the shared files are the
    truth)."""
    from train.importers import import_npz

    files = [f for folder in real.folders for f in sorted((shared / "data" / folder).glob("*.npz"))]
    if not files:
        raise DatasetError(f"{shared / 'data' / real.folders[0]}: no .npz files (is --shared right?)")
    log.info("%s: %s", real.name, import_npz(files, dest, force=True).line())
    return dest


def audit_set(dataset: Path, out: Path) -> Any:
    """``sign-audit``: flagged.txt, people.csv, recordings.csv, audit.md."""
    from train.audit.config import AuditConfig
    from train.audit.report import write_report
    from train.audit.run import audit

    result = audit(dataset, AuditConfig())
    write_report(result, out)
    return result


def reference_scores(loaded: Any, splits: Sequence[Any], excluded: set[int] | None = None) -> dict[str, float]:
    """The issue's reference on the SAME folds: logistic regression on per-recording statistics.

    Statistics (mean, std, min, max over time) of the feature spec's model input:
    wrist-relative hand shape, joint angles and wrist position. Trained on each
    fold's training and validation people (minus ``excluded`` rows), it scores
    every recording of the held-out people. Returns per-person accuracy.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from train.audit.measure import time_statistics

    stats = time_statistics(loaded.features(range(len(loaded.rows))))
    y = loaded.y
    skip = excluded or set()
    hits: dict[str, list[bool]] = {}
    for split in splits:
        train = [i for i in split.train + split.val if i not in skip]  # no early stopping: it trains on both
        model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
        model.fit(stats[train], y[train])
        pred = model.predict(stats[split.test])
        for i, p in zip(split.test, pred, strict=True):
            hits.setdefault(loaded.rows[i].signer, []).append(bool(p == y[i]))
    return {s: float(np.mean(h)) for s, h in sorted(hits.items())}


def _front_view(cv: Any) -> dict[str, Any] | None:
    views = cv.per_view()
    if "F" not in views:
        return None
    return {"recordings": views["F"]["n"], "pooled": views["F"]["accuracy"], "people": views["F"]["people"],
            "per_signer": views["F"]["per_signer"]}


def arm_summary(cv: Any, reference: dict[str, float], formats: Sequence[str]) -> dict[str, Any]:
    """One training arm's figures: every person, the people the audit does not flag, each format, the reference.

    Aggregates only (per person at most): no recording names, so private sets can be published.
    """
    from train.evaluate import people_summary

    flagged = set(cv.people_flags)
    out: dict[str, Any] = {
        "measured_on": cv.measured_on, "keras": cv.people(), "pooled": cv.pooled.accuracy,
        "not_flagged_people": cv.people(unflagged_only=True), "confusion": cv.pooled.confusion.tolist(),
        "reference": people_summary(list(reference.values())),
        "reference_not_flagged_people": people_summary([a for s, a in reference.items() if s not in flagged]),
    }
    if cv.exclusions:
        out["excluded_recordings"] = cv.exclusions["recordings"]
        out["excluded_by_reason"] = cv.exclusions["by_reason"]
        out["recordings_not_flagged"] = cv.people("audited_accuracy")
        out["pooled_recordings_not_flagged"] = cv.pooled_audited.accuracy
    summary = cv.export_summary() if formats else {}
    for fmt in formats:
        e = summary[fmt]
        out[fmt] = {"people": e.get("people"), "pooled": e["pooled"], "not_flagged_people":
                    cv.people(f"{fmt}_accuracy", unflagged_only=True),
                    "agreement_with_keras": e["agreement_with_keras"],
                    "loss_points_person_mean": e.get("loss_points_person_mean"),
                    "loss_points_pooled": e["loss_points_pooled"],
                    "loss_points_worst_person": e.get("loss_points_worst_person"), "flipped": len(e["flipped"]),
                    "gates_failed": sum(not sc.passed for f in cv.folds if f.export for sc in f.export.scores
                                        if sc.format == fmt)}
    front = _front_view(cv)
    if front is not None:
        out["front_view"] = front
    return out


def per_language(cv: Any, loaded: Any) -> dict[str, Any]:
    """Per stated language (a recording's ``extra["language"]``): recordings, people, pooled and per-person
    accuracy of the Keras model; empty for a set whose recordings state none."""
    from train.evaluate import people_summary

    language = {row.file: str(rec.extra.get("language", "")) for row, rec in zip(loaded.rows, loaded.recordings)}
    if not any(language.values()):
        return {}
    hits: dict[str, dict[str, list[bool]]] = {}
    for r in cv.rows:
        hits.setdefault(language[r["file"]] or "unspecified", {}).setdefault(r["signer"], []).append(
            r["predicted"] == r["label"])
    out = {}
    for lang, people in sorted(hits.items()):
        every = [h for person in people.values() for h in person]
        out[lang] = {"recordings": len(every), "people": len(people), "pooled": float(np.mean(every)),
                     "keras": people_summary([float(np.mean(h)) for h in people.values()])}
    return {"per_language": out}


def person_rows(arms: dict[str, Any], references: dict[str, dict[str, float]], flags: dict[str, str],
                formats: Sequence[str], languages: dict[str, list[str]] | None = None) -> list[dict[str, Any]]:
    """Per person and arm: recordings, Keras, each format, the reference, the audit's flags, and for mixed data
    the languages their recordings state and the signs they made (what explains a person below 80%)."""
    people = arms["all"].per_signer()
    signs = {}
    for r in arms["all"].rows:
        signs.setdefault(r["signer"], set()).add(r["label"])
    rows = []
    for signer, p in people.items():
        entry: dict[str, Any] = {"signer": signer, "recordings": p["n"], "audit_flags": flags.get(signer, "")}
        if languages:
            entry["languages"] = languages.get(signer) or ["unspecified"]
            entry["signs"] = sorted(signs.get(signer, ()))
        for name, cv in arms.items():
            q = cv.per_signer()[signer]
            block = {"keras": q["accuracy"], **{fmt: q.get(f"{fmt}_accuracy") for fmt in formats},
                     "reference": references[name].get(signer)}
            if "audited_accuracy" in q:
                block.update({"excluded": q["excluded"], "keras_recordings_not_flagged": q["audited_accuracy"]})
            entry[name] = block
        rows.append(entry)
    return rows


def evaluate_set(real: RealSet, shared: Path, work: Path, export_check: str, overrides: dict[str, Any],
                 report: Callable[[str], None] | None) -> dict[str, Any]:
    """Import, audit, cross-validate twice (all recordings / without the flagged ones), export check, reference."""
    from edge_runtime.spec import FeatureSpec
    from export.formats import parse_formats
    from train import report as run_report
    from train.augment import AugmentConfig
    from train.evaluate import cross_validate, plan_folds
    from train.exclusions import load_exclusions
    from train.fit import TrainConfig, load_dataset, resolve_model
    from train.models import build_model
    from train.splits import parse_folds

    start = time.perf_counter()
    timings: dict[str, float] = {}
    folder = work / real.name
    dataset = import_set(real, shared, folder / "data")
    result = audit_set(dataset, folder / "audit")
    timings["import_and_audit"] = round(time.perf_counter() - start, 1)
    flags = {p.signer: " | ".join(p.flags) for p in result.people if p.flags}
    flagged = folder / "audit" / "flagged.txt"

    training = {**real.training, **overrides}
    cfg = TrainConfig(folds=parse_folds(real.folds), augment=AugmentConfig(), export_check=export_check or None,
                      **training)
    formats = parse_formats(export_check) if export_check else []
    names = [f.name for f in formats]
    loaded = load_dataset(dataset, spec=FeatureSpec.by_id(real.spec, real.frames), progress=False)
    cfg = resolve_model(cfg, loaded)  # "auto" becomes the architecture sign-train would choose for this set
    exclusions = load_exclusions(loaded.rows, flagged) if flagged.read_text(encoding="utf-8").strip() else None
    params = build_model(cfg.model, loaded.spec, len(loaded.labels), **cfg.sizes).count_params()

    arms: dict[str, Any] = {}
    references: dict[str, dict[str, float]] = {}
    skipped = "the audit flags no recording" if exclusions is None else ""
    for arm, excl in (("all", None), ("audited", exclusions)):
        if arm == "audited" and excl is None:
            continue
        t = time.perf_counter()
        arm_cfg = TrainConfig(**{**cfg.__dict__, "exclude_flagged": str(flagged) if excl else None})
        try:
            splits = plan_folds(loaded, arm_cfg, excl)
            cv = cross_validate(loaded, arm_cfg, report and (lambda s, a=arm: report(f"{real.name} {a}: {s}")
                                                             if not s.split(" ", 2)[-1].startswith("epoch") else None),
                                excl, formats, arm_cfg.calibration)
        except DatasetError as err:
            if arm == "all":
                raise
            # e.g. the audit flags every recording of a class of some fold's training people: say so, keep going
            skipped = f"not possible: {err}"
            log.warning("%s: audited cross-validation %s", real.name, skipped)
            continue
        cv.people_flags = dict(flags)
        dropped = {i for i, row in enumerate(loaded.rows) if excl and excl.reason(row)}
        references[arm] = reference_scores(loaded, splits, dropped)
        with run_report.staged_folder(folder / "runs" / arm, force=True) as tmp:
            run_report.write_crossval_run(tmp, loaded, arm_cfg, cv, params)
        timings[f"crossval_{arm}"] = round(time.perf_counter() - t, 1)
        arms[arm] = cv

    out: dict[str, Any] = {
        "set": real.name, "about": real.about, "shared_folders": [f"data/{f}" for f in real.folders],
        "people": len({r.signer for r in loaded.rows}), "signs": len(loaded.labels), "labels": list(loaded.labels),
        "recordings": len(loaded.rows),
        "protocol": arms["all"].scheme + (" (grouped by person)" if real.folds != "loso" else ""),
        "training": {k: v for k, v in cfg.to_dict().items()
                     if k in ("model", "sizes", "epochs", "patience", "min_epochs", "batch_size", "learning_rate",
                              "loss", "gce_q", "seed", "val_fraction", "calibration", "export_check")},
        "params": int(params), "spec": {"id": loaded.spec.id, "frames": loaded.spec.frames},
        "audit": {"flagged_recordings": len(result.flagged_files), "flagged_people": sorted(flags),
                  "oof_accuracy_logistic_5fold": result.accuracy},
        "reference_what": "logistic regression (C=0.1) on mean/std/min/max over time of the spec's model input, "
                          "trained on the same folds' training people (the audited arm: without the flagged "
                          "recordings)",
        "reference_published": real.published,
        "arms": {name: {**arm_summary(cv, references[name], names), **per_language(cv, loaded)}
                 for name, cv in arms.items()},
        "per_person": person_rows(arms, references, flags, names,
                                  {p.signer: p.languages for p in result.people} if result.has_languages else None),
        "seconds": timings,
    }
    if "audited" not in arms:
        out["arms"]["audited"] = {"skipped": skipped}
    out["seconds"]["total"] = round(time.perf_counter() - start, 1)
    return out


def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    cores = os.cpu_count() or 0
    return {"platform": platform.platform(), "python": platform.python_version(), "cpu": cpu, "cores": cores,
            "load_at_start": round(load, 2),
            "summary": f"{cpu or 'unknown CPU'}, {cores} cores, {platform.system()} (1-minute load at start "
                       f"{load:.1f}: other jobs shared the cores)"}


@dataclass
class AccuracyConfig:
    """What ``sign-accuracy`` runs; its flags mirror these fields."""

    sets: list[str]
    shared: Path
    work: Path = Path("runs/accuracy")
    out: Path = REPO / "benchmarks" / "results" / "accuracy"
    export_check: str = "f16,int8"
    overrides: dict[str, Any] = field(default_factory=dict)  # sign-train settings for every set (epochs, ...)
    command: str = "sign-accuracy"


def _previous_sets(config: AccuracyConfig, payload: dict[str, Any]) -> None:
    """Earlier results of sets not run this time are kept, so one set can be re-run alone."""
    previous = config.out.with_suffix(".json")
    if not previous.is_file():
        return
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        old = json.loads(previous.read_text(encoding="utf-8"))
        if (old.get("export_check"), old.get("results_format")) == (payload["export_check"], RESULTS_FORMAT):
            payload["sets"] = [s for s in old["sets"] if s["set"] not in config.sets]
            payload["earlier_runs"] = {s["set"]: {"command": old.get("command"), "created": old.get("created"),
                                                  "machine": old.get("machine", {}).get("summary")}
                                       for s in payload["sets"]}


def run_accuracy(config: AccuracyConfig, report: Callable[[str], None] | None = None,
                 on_set: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Evaluate every set of ``config``; OUT.json and OUT.md are rewritten after each set (a later failure keeps
    the earlier ones). ``on_set`` gets each set's result as it is done. Returns the whole payload."""
    import edge_runtime
    from train.report import now, versions

    payload: dict[str, Any] = {"command": config.command.strip(), "created": now(), "machine": machine(),
                               "signedge_version": edge_runtime.__version__, "versions": versions(),
                               "export_check": [f.strip() for f in config.export_check.split(",") if f.strip()],
                               "results_format": RESULTS_FORMAT, "sets": []}
    _previous_sets(config, payload)
    for name in config.sets:
        real = SETS[name]
        if report:
            report(f"{name}: import, audit, reference, cross-validation ({real.folds})")
        result = evaluate_set(real, config.shared, config.work, config.export_check, config.overrides, report)
        payload["sets"].append(result)
        payload["sets"].sort(key=lambda s: list(SETS).index(s["set"]))
        config.out.parent.mkdir(parents=True, exist_ok=True)
        write_json(config.out.with_suffix(".json"), payload)
        write_text(config.out.with_suffix(".md"), markdown(payload))
        if on_set:
            on_set(result)
    return payload
