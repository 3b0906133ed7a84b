"""Experiment: would a body reference help people the model never saw? (issue #11, item 5)

The shipped feature spec (``hands-xy-angles-v1``) sees the hands only. The
registered specs ``hands-shoulders-v1`` and ``hands-face-v1``
(``edge_runtime/features/body_reference.py``) add each wrist relative to the
body. The device runs hand landmarks only, so a body reference would need a pose
stage on the device; this experiment measures whether it is worth one: every
arm is the same ``sign-train`` cross-validation (same model, folds, seeds,
augmentation and budget) of the same dataset, only the ``--spec`` differs.

It writes its figures (per-arm per-person mean, median, worst, pooled; no
per-recording data) to ``benchmarks/results/body_reference.{md,json}``.

    python -m experiments.cli.body_reference --sets ksl,asl8 --folds loso
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from edge_runtime.errors import DatasetError
from edge_runtime.features.body_reference import REFERENCES, centre_and_scale, reference_points
from edge_runtime.spec import DEFAULT_SPEC, FeatureSpec

log = logging.getLogger(__name__)


def arm_specs(references: Sequence[str]) -> list[str]:
    """The spec ids of the arms: the hands alone, then one per reference (e.g. ``hands-shoulders-v1``)."""
    unknown = [r for r in references if r not in REFERENCES]
    if unknown or not references:
        raise DatasetError(f"--references: unknown {unknown[0] if unknown else '(none)'!r} "
                           f"(choose from {', '.join(REFERENCES)})")
    return [DEFAULT_SPEC.id] + [f"hands-{r}-v1" for r in references]


def run_arm(loaded: Any, cfg: Any, spec_id: str, report: Callable[[str], None] | None = None) -> dict[str, Any]:
    """One arm: the cross-validation sign-train runs, with this spec; per-person accuracy and pooled figures."""
    from train.evaluate import cross_validate, people_summary

    start = time.perf_counter()
    arm = dataclasses.replace(loaded, spec=FeatureSpec.by_id(spec_id, loaded.spec.frames))
    cv = cross_validate(arm, cfg, report and (lambda s: report(f"{spec_id} {s}")))
    per = {s: float(p["accuracy"]) for s, p in sorted(cv.per_signer().items())}
    return {"arm": spec_id, "spec": spec_id, "per_signer": per, "people": people_summary(list(per.values())),
            "pooled": float(cv.pooled.accuracy), "seconds": round(time.perf_counter() - start, 1)}


def pose_coverage(loaded: Any, kind: str) -> float:
    """Share of recordings whose pose gives a usable reference of this kind."""
    ok = 0
    for rec in loaded.recordings:
        pts = reference_points(rec.pose, kind)
        ok += pts is not None and centre_and_scale(pts, kind, rec.aspect) is not None
    return ok / max(len(loaded.recordings), 1)


def experiment(dataset: Path, folds: str, references: Sequence[str], cfg_overrides: dict[str, Any],
               report: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Every arm on one dataset, over the same folds."""
    from train.augment import AugmentConfig
    from train.fit import TrainConfig, load_dataset
    from train.splits import parse_folds

    specs = arm_specs(references)
    loaded = load_dataset(dataset)
    if all(rec.pose is None for rec in loaded.recordings):
        raise DatasetError(f"{dataset}: no recording keeps a pose (import it with sign-import from files with 'pose')")
    cfg = TrainConfig(folds=parse_folds(folds), augment=AugmentConfig(), **cfg_overrides)
    results = [run_arm(loaded, cfg, spec_id, report) for spec_id in specs]
    base = results[0]["people"]["mean"]
    for r in results[1:]:
        r["gain_points_person_mean"] = 100.0 * (r["people"]["mean"] - base)
        r["gain_points_pooled"] = 100.0 * (r["pooled"] - results[0]["pooled"])
    return {"dataset": loaded.dataset.folder.name, "recordings": len(loaded.rows),
            "people": len({r.signer for r in loaded.rows}), "labels": len(loaded.labels),
            "protocol": "leave-one-signer-out" if cfg.folds == "loso" else f"{cfg.folds}-fold by person",
            "training": {k: v for k, v in cfg.to_dict().items() if k in ("model", "sizes", "epochs", "patience",
                                                                         "batch_size", "seed", "val_fraction")},
            "pose_coverage": {k: pose_coverage(loaded, k) for k in references}, "arms": results}


def markdown(results: Sequence[dict[str, Any]], command: str) -> str:
    lines = ["# Hands only vs hands + a body reference", "",
             "Same model, folds, seeds, augmentation and budget in every arm; people in the test folds were never "
             "trained on. Per-person accuracy (mean, median, worst) and all recordings pooled.", "",
             f"Command: `{command}`", "",
             "| set | protocol | arm | people mean | median | worst | pooled | gain vs hands (points, mean) |",
             "|---|---|---|---|---|---|---|---|"]
    for res in results:
        for arm in res["arms"]:
            p = arm["people"]
            gain = arm.get("gain_points_person_mean")
            lines.append(f"| {res['dataset']} | {res['protocol']} | {arm['arm']} | {p['mean']:.1%} | "
                         f"{p['median']:.1%} | {p['worst']:.1%} | {arm['pooled']:.1%} | "
                         f"{'—' if gain is None else f'{gain:+.1f}'} |")
    lines += ["", "Per person (accuracy on that person's recordings, tested by a model that never saw them):", ""]
    for res in results:
        arms = res["arms"]
        lines += [f"**{res['dataset']}**", "", "| signer | " + " | ".join(a["arm"] for a in arms) + " |",
                  "|---|" + "---|" * len(arms)]
        for signer in arms[0]["per_signer"]:
            lines.append(f"| {signer} | " + " | ".join(f"{a['per_signer'][signer]:.1%}" for a in arms) + " |")
        lines.append("")
    return "\n".join(lines) + "\n"


@dataclasses.dataclass
class BodyReferenceConfig:
    """What the experiment runs; its flags mirror these fields."""

    datasets: list[Path]
    sets: list[str]  # shared real sets, imported first (as sign-accuracy does)
    shared: Path
    work: Path = Path("runs/body_reference")
    folds: str | None = None  # None: each shared set's protocol, loso for dataset folders
    references: list[str] = dataclasses.field(default_factory=lambda: list(REFERENCES))
    overrides: dict[str, Any] = dataclasses.field(default_factory=dict)  # epochs, patience, seed
    out: Path = Path("benchmarks/results/body_reference")
    command: str = "python -m experiments.cli.body_reference"


def run_body_reference(config: BodyReferenceConfig, report: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Every arm on every dataset; writes OUT.md and OUT.json and returns the payload."""
    import os
    import platform

    from edge_runtime.files import write_json, write_text
    from experiments.accuracy import SETS, import_set

    arm_specs(config.references)  # an unknown reference fails before any import or training
    for d in config.datasets:
        if not (d / "manifest.csv").is_file():
            raise DatasetError(f"{d}: not a dataset folder (no manifest.csv)")
    # Each shared set keeps the protocol and budget sign-accuracy gives it, so the hands arm repeats that figure.
    runs = [(d, config.folds or "loso", {}) for d in config.datasets]
    runs += [(import_set(SETS[n], config.shared, config.work / n), config.folds or SETS[n].folds, SETS[n].training)
             for n in config.sets]
    start = time.perf_counter()
    results = [experiment(d, folds, config.references, {**training, **config.overrides}, report)
               for d, folds, training in runs]
    payload = {"command": config.command, "seconds": round(time.perf_counter() - start, 1),
               "machine": {"platform": platform.platform(), "python": platform.python_version(),
                           "cpus": os.cpu_count()}, "results": results}
    config.out.parent.mkdir(parents=True, exist_ok=True)
    write_json(config.out.with_suffix(".json"), payload)
    write_text(config.out.with_suffix(".md"), markdown(results, config.command))
    return payload
