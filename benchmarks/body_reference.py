"""Experiment: would a body reference help people the model never saw? (issue #11, item 5)

The shipped feature spec (``hands-xy-angles-v1``) sees the hands only: each
wrist's path relative to its own mean position, in hand sizes, and each hand's
shape. Where the hands are relative to the BODY (at the chin, at the chest)
is invisible to it. The device runs hand landmarks only, so a body reference
would need a pose stage on the device; this experiment measures whether it is
worth one, with the same model, the same folds, the same seeds, the same
augmentation and the same training budget for every arm:

- ``hands``: the spec's input, exactly as ``sign-train`` trains it;
- ``hands+shoulders``: the same + each wrist relative to the mid-shoulder
  point, divided by the shoulder width (pose points 11, 12), 4 values a frame;
- ``hands+face``: the same + each wrist relative to the nose, divided by the
  distance between the eyes (pose points 0, 2, 5).

The reference points are one fixed position per recording (the median over
the sign's frames of the pose the dataset kept: ``sign-import`` keeps
``pose``), which a device could estimate once per sign. They ride along with
augmentation (``train.augment.Raw.reference``): the left/right mirror reflects
them with the hands; shift, scale and rotate move the hands relative to the
body, as a person's own variation would. A missing hand or a missing pose
gives zeros, as in the spec.

This is an experiment, not a new shipped spec: it writes its figures (per-arm
per-person mean, median, worst, pooled; no per-recording data) to
``benchmarks/results/body_reference.{md,json}``.

    python -m benchmarks.body_reference --sets ksl,asl8 --folds loso
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from edge_runtime.cli.common import parser as base_parser
from edge_runtime.cli.common import run, setup_logging
from edge_runtime.errors import DatasetError
from edge_runtime.files import write_json, write_text
from edge_runtime.spec import LEFT, RIGHT, FeatureSpec, hand_size

log = logging.getLogger(__name__)

PROG = "body-reference"
# Pose landmark indices (MediaPipe Pose / Holistic): the points of each reference, and how to make
# (centre, scale) from them so that a left/right mirror leaves the scale unchanged and moves the centre.
REFERENCES: dict[str, tuple[int, ...]] = {"shoulders": (11, 12), "face": (0, 2, 5)}
BODY_COLUMNS = 4  # (x, y) of each wrist relative to the reference
_EPS = 1e-6


@dataclass(frozen=True)
class WideSpec:
    """What a model builder needs to know about an input wider than the spec's: T and F."""

    frames: int
    num_features: int


def reference_points(pose: np.ndarray | None, kind: str) -> np.ndarray | None:
    """The reference's pose points [K, 3], median over the frames where they were found; None if never."""
    if pose is None or kind not in REFERENCES:
        return None
    pts = np.asarray(pose, dtype=np.float64)[:, list(REFERENCES[kind]), :3]
    found = np.abs(pts[..., :2]).sum(axis=(1, 2)) > _EPS
    if not found.any():
        return None
    return np.median(pts[found], axis=0)


def centre_and_scale(points: np.ndarray, kind: str, aspect: float) -> tuple[np.ndarray, float] | None:
    """(centre xy, unit length) of a reference in square units (x * aspect); None when degenerate."""
    sq = np.array(points[:, :2], dtype=np.float64)
    sq[:, 0] *= aspect
    if kind == "shoulders":
        centre, scale = sq.mean(axis=0), float(np.linalg.norm(sq[0] - sq[1]))
    else:  # face: the nose, scaled by the distance between the eyes
        centre, scale = sq[0], float(np.linalg.norm(sq[1] - sq[2]))
    return (centre, scale) if scale > _EPS else None


def body_features(landmarks: np.ndarray, present: np.ndarray, aspect: float, reference: np.ndarray | None,
                  kind: str, spec: FeatureSpec) -> np.ndarray:
    """The spec's model input [T, F] plus each wrist relative to the reference [T, 4].

    The spec's wrist values are (wrist - o) / s with o the mean wrist position and
    s the median hand size of the recording; the body-relative wrist is then
    (value * s + o - centre) / scale, computed on the resampled frames so that it
    follows the spec's own resampling and presence flags exactly.
    """
    base = spec.model_input(landmarks, present, aspect)
    body = np.zeros((spec.frames, BODY_COLUMNS), np.float32)
    ref = centre_and_scale(reference, kind, aspect) if reference is not None else None
    pts = np.asarray(landmarks, dtype=np.float64).copy()
    pts[..., 0] *= aspect
    pr = np.asarray(present, dtype=bool) & np.isfinite(pts).all(axis=(2, 3))
    sizes = hand_size(pts)
    pr &= sizes > _EPS
    if ref is not None and pr.any():
        centre, scale = ref
        origin = pts[:, :, 0, :2][pr].mean(axis=0)
        unit = float(np.median(sizes[pr]))
        for k, hand in enumerate((LEFT, RIGHT)):
            col = hand * 42  # the spec's wrist (x, y) of this hand
            flag = base[:, 114 + hand] > 0.5
            rel = (base[:, col:col + 2].astype(np.float64) * unit + origin - centre) / scale
            body[flag, 2 * k:2 * k + 2] = rel[flag]
    return np.concatenate([base, body], axis=1).astype(np.float32)


@dataclass
class Arm:
    name: str  # "hands", "hands+shoulders", "hands+face"
    kind: str | None  # reference kind, None = hands only

    def spec_for(self, spec: FeatureSpec) -> Any:
        return spec if self.kind is None else WideSpec(spec.frames, spec.num_features + BODY_COLUMNS)

    def features(self, spec: FeatureSpec) -> Callable[[Any], np.ndarray] | None:
        if self.kind is None:
            return None  # train.fit's default: the spec's input, as sign-train trains
        kind = self.kind
        return lambda raw: body_features(raw.landmarks, raw.present, raw.aspect, raw.reference, kind, spec)


def _raws(loaded: Any, indices: Sequence[int], kind: str | None) -> list[Any]:
    from train.augment import Raw

    out = []
    for i in indices:
        rec = loaded.recordings[i]
        ref = reference_points(rec.pose, kind) if kind else None
        out.append(dataclasses.replace(Raw.of(rec), reference=ref))
    return out


def _matrix(raws: Sequence[Any], features: Callable[[Any], np.ndarray] | None, spec: FeatureSpec) -> np.ndarray:
    from train.fit import spec_features

    f = features or spec_features(spec)
    return np.stack([f(raw) for raw in raws]) if raws else np.zeros((0, spec.frames, spec.num_features), np.float32)


def run_arm(loaded: Any, cfg: Any, splits: Sequence[Any], arm: Arm, report: Callable[[str], None] | None = None
            ) -> dict[str, Any]:
    """Train and score one arm over every fold; returns per-person accuracy and pooled figures."""
    from train.evaluate import people_summary, predict
    from train.fit import fit

    y = loaded.y
    spec = loaded.spec
    features = arm.features(spec)
    hits: dict[str, list[bool]] = {}
    start = time.perf_counter()
    for split in splits:
        train = _raws(loaded, split.train, arm.kind)
        X_val = _matrix(_raws(loaded, split.val, arm.kind), features, spec)
        X_test = _matrix(_raws(loaded, split.test, arm.kind), features, spec)
        fitted = fit(cfg, arm.spec_for(spec), len(loaded.labels), train, y[split.train], X_val, y[split.val],
                     report=lambda _: None, features=features)
        pred = predict(fitted.model, X_test)
        for i, p in zip(split.test, pred, strict=True):
            hits.setdefault(loaded.rows[i].signer, []).append(bool(p == y[i]))
        if report:
            acc = float(np.mean(pred == y[split.test]))
            report(f"{arm.name} fold {split.fold + 1}/{len(splits)}: {acc:.1%} "
                   f"({', '.join(split.units(loaded.rows, 'test')[:3])}), best epoch {fitted.best_epoch}")
    per = {s: float(np.mean(h)) for s, h in sorted(hits.items())}
    pooled = float(np.mean([x for h in hits.values() for x in h]))
    return {"arm": arm.name, "reference": arm.kind, "per_signer": per, "people": people_summary(list(per.values())),
            "pooled": pooled, "seconds": round(time.perf_counter() - start, 1)}


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
    from train.evaluate import plan_folds
    from train.fit import TrainConfig, load_dataset
    from train.splits import parse_folds

    loaded = load_dataset(dataset)
    if all(rec.pose is None for rec in loaded.recordings):
        raise DatasetError(f"{dataset}: no recording keeps a pose (import it with sign-import from files with 'pose')")
    cfg = TrainConfig(folds=parse_folds(folds), augment=AugmentConfig(), **cfg_overrides)
    splits = plan_folds(loaded, cfg)
    arms = [Arm("hands", None)] + [Arm(f"hands+{k}", k) for k in references]
    results = [run_arm(loaded, cfg, splits, arm, report) for arm in arms]
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


def build_parser() -> argparse.ArgumentParser:
    p = base_parser(PROG, "Hands only vs hands + a body reference (shoulders, face): the same model and budget, "
                          "folds by person, on dataset folders that keep the pose (sign-import does).\n\n"
                          "examples:\n  python -m benchmarks.body_reference --sets ksl,asl8 --folds loso\n"
                          "  python -m benchmarks.body_reference data/my-set --folds 5 --out runs/body")
    p.add_argument("datasets", nargs="*", type=Path, help="dataset folders (sign-import npz output, with pose)")
    p.add_argument("--sets", default="", help="shared real sets to import first (as sign-accuracy does), e.g. "
                                              "ksl,asl8; their datasets go to --work")
    p.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared",
                   help="the shared folder (data/ inside), for --sets")
    p.add_argument("--work", type=Path, default=Path("runs/body_reference"), help="where --sets are imported")
    p.add_argument("--folds", default=None, help="loso, or K for person-grouped K-fold (default: each --sets set's "
                                                "protocol, as sign-accuracy; loso for dataset folders)")
    p.add_argument("--references", default="shoulders,face", help=f"any of: {', '.join(REFERENCES)}")
    p.add_argument("--epochs", type=int, default=None, help="maximum epochs (default: the set's budget in "
                                                            "sign-accuracy, else sign-train's)")
    p.add_argument("--patience", type=int, default=None, help="early-stopping patience (default: as --epochs)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/body_reference"),
                   help="writes OUT.md and OUT.json")
    p.add_argument("-q", "--quiet", action="store_true", help="no per-fold lines")
    return p


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    refs = [r.strip() for r in args.references.split(",") if r.strip()]
    unknown = [r for r in refs if r not in REFERENCES]
    if unknown or not refs:
        raise DatasetError(f"--references: unknown {unknown[0] if unknown else '(none)'!r} "
                           f"(choose from {', '.join(REFERENCES)})")
    from benchmarks.accuracy import SETS, import_set, parse_sets

    names = parse_sets(args.sets, args.shared, allow_none=True)
    if not names and not args.datasets:
        raise DatasetError("give dataset folders or --sets")
    for d in args.datasets:
        if not (d / "manifest.csv").is_file():
            raise DatasetError(f"{d}: not a dataset folder (no manifest.csv)")
    from train.native_stderr import import_tensorflow

    import_tensorflow(args.verbose)
    # Each shared set keeps the protocol and budget sign-accuracy gives it, so the hands arm repeats that figure.
    runs = [(d, args.folds or "loso", {}) for d in args.datasets]
    runs += [(import_set(SETS[n], args.shared, args.work / n), args.folds or SETS[n].folds, SETS[n].training)
             for n in names]
    flags = {k: v for k, v in (("epochs", args.epochs), ("patience", args.patience)) if v is not None}
    report = None if args.quiet else (lambda s: print(s, file=sys.stderr, flush=True))
    command = "python -m benchmarks.body_reference " + " ".join(sys.argv[1:] if argv is None else list(argv))
    start = time.perf_counter()
    results = [experiment(d, folds, refs, {**training, **flags, "seed": args.seed}, report)
               for d, folds, training in runs]
    payload = {"command": command, "seconds": round(time.perf_counter() - start, 1),
               "machine": {"platform": platform.platform(), "python": platform.python_version(),
                           "cpus": __import__("os").cpu_count()}, "results": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_json(args.out.with_suffix(".json"), payload)
    write_text(args.out.with_suffix(".md"), markdown(results, command))
    for res in results:
        for arm in res["arms"]:
            p = arm["people"]
            print(f"{res['dataset']} {res['protocol']} {arm['arm']}: per-person mean {p['mean']:.1%}, worst "
                  f"{p['worst']:.1%}, pooled {arm['pooled']:.1%}")
    print(f"wrote {args.out.with_suffix('.md')} and .json")
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    sys.exit(run(_main, argv, prog=PROG))


if __name__ == "__main__":
    main()
