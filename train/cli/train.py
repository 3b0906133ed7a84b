"""``sign-train``: train a sign classifier on a dataset folder without leaking test data into training.

Thin shell: flags -> TrainConfig -> plan the split (fails fast on a bad
dataset) -> train/evaluate -> write the run folder aside and rename it at the
end -> print the test result together with what it was measured on.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Sequence

from edge_runtime.cli.common import parser, run, setup_logging
from edge_runtime.errors import DatasetError, ModelError
from edge_runtime.spec import DEFAULT_SPEC, LAYOUTS
from export.formats import DEFAULT_CALIBRATION
from train.model_choice import AUTO, RULE

PROG = "sign-train"
# host.losses' names and q, spelled out here so --help (and sign-accuracy's) needs no Keras; a test compares them.
LOSS_CHOICES = ("crossentropy", "gce")
GCE_Q_DEFAULT = 0.7
HEAD_CHOICES = ("dense", "cosine")  # train.models.HEADS
DEFAULT_MARGIN = 0.2

EPILOG = """\
examples:
  sign-synth data/synth && sign-train data/synth -o runs/demo
  sign-train data/synth -o runs/bilstm --model bilstm-attention --size lstm1=64 --size lstm2=32
  sign-train data/words -o runs/words --model conv-transformer --size width=96   # the larger family, smaller
  sign-train data/synth -o runs/cv --folds 5          # grouped 5-fold cross-validation (no model written)
  sign-train data/synth -o runs/loso --folds loso     # leave one signer out: per-person accuracy
  sign-train data/synth -o runs/audit --audit-leakage # the seed's way vs ours, side by side
  sign-train data/more -o runs/more --init-from runs/demo   # continue from a run's weights (same labels)
  sign-train data/asl8 -o runs/shoulders --spec hands-shoulders-v1  # + wrists relative to the shoulders (needs pose)
  sign-audit data/asl8 --out reports/asl8          # then an audited LOSO, each fold's model also as f16/int8:
  sign-train data/asl8 -o runs/asl8 --folds loso --exclude-flagged reports/asl8/flagged.txt --export-check f16,int8
  sign-train /mnt/corpus/data -o runs/corpus --stream   # a corpus: recordings read batch by batch, flat memory
  sign-train /mnt/corpus/data -o runs/corpus --cluster --workers 8 --address auto --storage /mnt/ray
                                                 # data-parallel on a Ray cluster (pip install 'signedge[cluster]')

Splits are by signer when every recording names one (and there are >= 3 signers), else by source
recording (the manifest's group); augmentation is applied on the fly to training data only.
"""


# The names of train.models.MODELS, spelled out so that --help does not have to import TensorFlow
# (tests/test_models.py checks that the two agree).
MODEL_NAMES = ("compact", "bilstm-attention", "conv-transformer")


def build_parser() -> Any:
    from train.augment import OPS

    p = parser(PROG, "Train a sign classifier with leak-free splits; write model.keras, labels.json, "
                     "model_card.json, metrics and plots to one run folder.")
    p.epilog = EPILOG
    p.add_argument("data", help="dataset folder (manifest.csv + recordings/)")
    p.add_argument("-o", "--out", help="run folder to create; None = runs/<dataset folder name>")
    p.add_argument("--force", action="store_true", help="replace an existing run folder")
    p.add_argument("--model", choices=(AUTO, *MODEL_NAMES), default=None,
                   help=f"architecture; None = {AUTO}, or the --init-from run's. {AUTO}: {RULE} (counted over the "
                        "whole dataset, before the split; the model card records the choice and its inputs)")
    p.add_argument("--size", action="append", default=[], metavar="KEY=VALUE",
                   help="override a model size, e.g. width=32 (repeatable; see train/models.py); with auto they "
                        "must be sizes of the model auto picks")
    p.add_argument("--split", choices=("auto", "signer", "source"), default="auto",
                   help="group the split by signer or by source recording")
    p.add_argument("--folds", default=None, metavar="K|loso",
                   help="cross-validate instead: grouped K-fold, or leave-one-signer-out")
    p.add_argument("--epochs", type=int, default=150, help="maximum epochs")
    p.add_argument("--patience", type=int, default=30, help="early stopping: epochs without val-loss improvement")
    p.add_argument("--min-epochs", type=int, default=20,
                   help="early stopping neither stops nor restores before this epoch (a validation of one or two "
                        "people can favour an undertrained model, e.g. when one of them has wrong labels)")
    p.add_argument("--batch-size", type=int, default=16, help="recordings per training step")
    p.add_argument("--learning-rate", type=float, default=1e-3, help="Adam's initial learning rate (halved on "
                   "validation-loss plateaus)")
    p.add_argument("--loss", choices=LOSS_CHOICES, default="crossentropy",
                   help="crossentropy, or gce (generalized cross-entropy): bounded, so recordings whose label looks "
                        "wrong to the model weigh less (on the shared real sets it did not beat cross-entropy: "
                        "benchmarks/results/accuracy_gce.md; leaving out what sign-audit flags helped more)")
    p.add_argument("--head", choices=HEAD_CHOICES, default="dense",
                   help="the last layers: dense (default), a softmax on the pooled features; cosine, a unit-length "
                        "embedding and a cosine softmax (NormFace/CosFace; with --margin, --background). Either way "
                        "the exported model carries an embedding, its words' mean embeddings and a threshold: it "
                        "reports signs it does not know and learns new words on the device (sign-enroll). Measured "
                        "on other people (benchmarks/results/openset_*.md), the cosine heads did not beat dense")
    p.add_argument("--embedding", type=int, default=64, help="the cosine head's embedding size")
    p.add_argument("--background", type=float, default=None,
                   help="the cosine head's virtual 'none of these' class at this cosine (e.g. 0.5): a sign must get "
                        "nearer its word than that to be learnt")
    p.add_argument("--margin", type=float, default=None,
                   help="the cosine head's CosFace margin: a recording must be this much closer (in cosine) to its "
                        f"own word than to any other; 0 = plain cosine softmax (NormFace). Default {DEFAULT_MARGIN} "
                        "with --head cosine and --loss crossentropy, else 0")
    p.add_argument("--gce-q", type=float, default=GCE_Q_DEFAULT,
                   help="gce's q in (0, 1]: towards 0 it is cross-entropy, 1 the mean absolute error")
    p.add_argument("--seed", type=int, default=0, help="seed of the split, the augmentation and the weights")
    p.add_argument("--split-seed", type=int, default=None, metavar="N",
                   help="seed of the people split alone (default: --seed): vary --seed with a fixed --split-seed to "
                        "see how much training itself varies on the same test people")
    p.add_argument("--val-fraction", type=float, default=0.15, help="share of signers/groups for validation")
    p.add_argument("--test-fraction", type=float, default=0.2, help="share of signers/groups for the test")
    p.add_argument("--augment", default=",".join(OPS),
                   help=f"augmentations rotated one per sample and epoch (any of: {', '.join(OPS)}; 'none' = off; "
                        "mirror and dropout are applied on top unless --no-augment)")
    p.add_argument("--no-augment", action="store_true", help="train on the plain recordings")
    p.add_argument("--no-class-weights", action="store_true", help="do not weight rare classes up")
    p.add_argument("--strategy", choices=("default", "mirrored"), default="default",
                   help="tf.distribute strategy (mirrored: all local GPUs)")
    p.add_argument("--stream", action="store_true",
                   help="read recordings from disk batch by batch instead of loading them all first: memory stays "
                        "flat as the dataset grows (a corpus); each epoch then reads the training files again")
    p.add_argument("--cluster", action="store_true",
                   help="train data-parallel on the workers of a Ray cluster (needs the cluster extra): the same "
                        "split, model and files as on one machine; each worker reads its share of every batch "
                        "from the dataset, which must be on storage every node sees at the same path")
    p.add_argument("--workers", type=int, default=2, help="with --cluster: Ray workers, one CPU each")
    p.add_argument("--address", metavar="auto|HOST:PORT", default=None,
                   help="with --cluster: the Ray head to join (auto: the cluster `ray start` made on this machine; "
                        "default: start a one-machine cluster for this run)")
    p.add_argument("--storage", metavar="DIR", default=None,
                   help="with --cluster: where Ray Train keeps the trained weights the workers hand back (default: "
                        "this machine's temp folder; on several machines a folder every node sees)")
    p.add_argument("--init-from", metavar="RUN_DIR", help="start from a previous run's weights (labels must match)")
    p.add_argument("--audit-leakage", action="store_true",
                   help="also train the seed's way (16x augment, then random split) and compare")
    p.add_argument("--exclude-flagged", metavar="FLAGGED_TXT",
                   help="leave the recordings listed in a sign-audit flagged.txt out of training and validation; "
                        "a cross-validation still predicts them and reports all-recordings and audited figures "
                        "side by side (reasons from the audit's recordings.csv beside it)")
    p.add_argument("--exclude-signers", metavar="A,B", default="",
                   help="leave these people out of training and validation (a cross-validation still tests them)")
    p.add_argument("--export-check", metavar="FORMATS", default=None,
                   help="with --folds: convert each fold's model to these formats (e.g. f16,int8; any of "
                        "export-tflite's) and score its held-out people through the device classifier")
    p.add_argument("--calibration", type=int, default=DEFAULT_CALIBRATION,
                   help="int8 calibration recordings per fold for --export-check (drawn from that fold's training "
                        "recordings only)")
    p.add_argument("--frames", type=int, default=64, help="T: every sign is resampled to this many frames")
    p.add_argument("--spec", default=DEFAULT_SPEC.id, metavar="ID",
                   help="feature spec: " + "; ".join(f"{lid}: {lay.summary}" for lid, lay in LAYOUTS.items())
                        + ". The device pipeline computes hand landmarks only: sign-recognize refuses a spec that "
                          "needs a pose")
    p.add_argument("-q", "--quiet", action="store_true", help="no per-epoch lines")
    return p


def _sizes(items: Sequence[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ModelError(f"--size expects KEY=VALUE, got {item!r}")
        out[key.strip()] = value.strip()
    return out


def make_config(args: Any) -> Any:
    """TrainConfig from the flags; with --init-from the run's architecture is used (and must not conflict)."""
    from train.augment import NO_AUGMENT, AugmentConfig
    from train.fit import TrainConfig, TrainConfigError
    from train.splits import parse_folds

    model, sizes = args.model, _sizes(args.size)
    if args.init_from:
        from host.run_folder import RunFolder

        init_card = RunFolder(args.init_from).card()
        name = init_card.model_name or None
        if model and model not in (AUTO, name):
            raise ModelError(f"--init-from {args.init_from} is a {name!r} model; --model {model} conflicts with it")
        if sizes:
            raise ModelError("--size cannot be combined with --init-from (the run's sizes are used)")
        model, sizes = name, init_card.model_sizes
        from train.models import Head

        head = Head.from_dict(init_card.head)  # the architecture's last layers, as the run built them
        args.head, args.embedding, args.background = head.kind, head.embedding, head.background
    if args.no_augment:
        augment = NO_AUGMENT
    else:
        ops = tuple(op.strip() for op in args.augment.split(",") if op.strip() and op.strip() != "none")
        try:
            augment = AugmentConfig(ops=ops)
        except ValueError as err:
            raise TrainConfigError(f"--augment: {err}") from None
    folds = parse_folds(args.folds) if args.folds is not None else None
    if folds is not None and args.audit_leakage:
        raise TrainConfigError("--audit-leakage and --folds are separate runs; pick one")
    if args.init_from and (folds is not None or args.audit_leakage):
        raise TrainConfigError("--init-from cannot be combined with --folds or --audit-leakage (the earlier run may "
                               "have trained on their test recordings)")
    from train.exclusions import parse_signers

    exclude_signers = parse_signers(args.exclude_signers)
    if args.audit_leakage and args.cluster:
        raise TrainConfigError("--audit-leakage trains its comparison on this machine; drop --cluster for it")
    if args.audit_leakage and (args.exclude_flagged or exclude_signers):
        raise TrainConfigError("--audit-leakage compares two ways of splitting the whole dataset; it cannot be "
                               "combined with --exclude-flagged or --exclude-signers")
    if args.export_check:
        from export.formats import parse_formats

        parse_formats(args.export_check)  # an unknown format fails before any data is read
    return TrainConfig(model=model or AUTO, sizes=sizes, epochs=args.epochs, patience=args.patience,
                       min_epochs=args.min_epochs,
                       batch_size=args.batch_size, learning_rate=args.learning_rate, loss=args.loss,
                       gce_q=args.gce_q, seed=args.seed, split_seed=args.split_seed,
                       split=args.split, val_fraction=args.val_fraction, test_fraction=args.test_fraction,
                       folds=folds, augment=augment, class_weights=not args.no_class_weights,
                       strategy=args.strategy, stream=args.stream, cluster=args.cluster, workers=args.workers,
                       address=args.address, storage=args.storage, init_from=args.init_from,
                       exclude_flagged=args.exclude_flagged,
                       exclude_signers=exclude_signers, export_check=args.export_check,
                       calibration=args.calibration, head=args.head, embedding=args.embedding,
                       margin=_margin(args), background=args.background)


def _margin(args: Any) -> float:
    """--margin as given, else the default where it applies (cosine head, cross-entropy) and 0 elsewhere."""
    if args.margin is not None:
        return float(args.margin)
    return DEFAULT_MARGIN if args.head == "cosine" and args.loss == "crossentropy" else 0.0


def make_spec(spec_id: str, frames: int) -> Any:
    """The registered feature spec ``spec_id`` with T = ``frames`` (refused below 2)."""
    from edge_runtime.spec import FeatureSpec

    return FeatureSpec.by_id(spec_id, frames)


def check_init_leak(card: Any, loaded: Any, split: Any, run_dir: str) -> None:
    """A run on this dataset must not have trained on this run's validation/test files, nor early-stopped on its test.

    (Another dataset shares no files with this one, so nothing can be compared there.)
    """
    if Path(card.dataset_path).resolve() != loaded.dataset.folder.resolve():
        return
    trained, selected = set(card.split("train")), set(card.split("val"))
    val = {loaded.rows[i].file for i in split.val}
    test = {loaded.rows[i].file for i in split.test}
    leaked = sorted((trained & (val | test)) | (selected & test))
    if leaked:
        raise DatasetError(f"--init-from {run_dir} trained on {len(leaked)} of this run's validation/test recordings "
                           f"(e.g. {leaked[0]}); use the same --seed and split settings, or a fresh model")


def _eprint(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _font_note(card: Any) -> None:
    if not card.plots_label_names:
        _eprint("note: no installed font has glyphs for these class names (e.g. Hangul: install fonts-nanum or "
                "fonts-noto-cjk); confusion_matrix.png shows class indices, names in labels.json")


def _model_line(cfg: Any) -> None:
    """Which architecture --model auto chose, and from what (nothing when the model was named)."""
    if cfg.model_choice:
        _eprint(cfg.model_choice.line())


def _split_line(loaded: Any, split: Any) -> str:
    parts = []
    for name in ("train", "val", "test"):
        units = split.units(loaded.rows, name)
        unit = "signer" if split.mode == "signer" else "group"
        parts.append(f"{name} {len(split.part(name))} recordings ({len(units)} {unit}{'s' if len(units) != 1 else ''})")
    return f"split by {split.mode}: " + ", ".join(parts)


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    out = Path(args.out) if args.out else Path("runs") / Path(args.data).resolve().name
    from train.report import check_output

    check_output(out, args.force)  # before any slow work
    from host.native_stderr import import_tensorflow

    import_tensorflow(args.verbose)  # first: train.fit imports Keras
    cfg = make_config(args)
    spec = make_spec(args.spec, args.frames)

    from edge_runtime.files import write_json, write_text
    from host.run_folder import LEAKAGE_JSON, LEAKAGE_MD, RunFolder
    from train import evaluate, fit, leakage, report
    from train.exclusions import load_exclusions
    from train.models import build_model

    # --cluster: the driver keeps only the manifest (the workers read the recordings they train on)
    loaded = fit.load_dataset(args.data, spec=spec, progress=not args.quiet, stream=cfg.stream or cfg.cluster)
    cfg = fit.resolve_model(cfg, loaded)  # printed with the split, once every input is checked (one error line)
    exclusions = load_exclusions(loaded.rows, cfg.exclude_flagged, cfg.exclude_signers)
    if exclusions:
        dropped = len(loaded.rows) - len(exclusions.kept(loaded.rows))
        _eprint(f"excluded from training and validation: {dropped} of {len(loaded.rows)} recordings"
                + (f" (signers: {', '.join(exclusions.signers)})" if exclusions.signers else ""))
    report_line = None if args.quiet else _eprint
    if cfg.init_from:
        _, init_card = fit.load_run(cfg.init_from)
        fit.check_init_run(init_card, loaded.labels, loaded.spec, cfg.model, cfg.init_from)

    if cfg.folds is not None:
        from export.formats import parse_formats

        formats = parse_formats(cfg.export_check) if cfg.export_check else []
        splits = evaluate.plan_folds(loaded, cfg, exclusions)
        _model_line(cfg)
        _eprint(f"{len(splits)} folds, grouped by {splits[0].mode}")
        with report.staged_folder(out, args.force) as tmp:
            cv = evaluate.cross_validate(loaded, cfg, report_line, exclusions, formats, cfg.calibration)
            params = build_model(cfg.model, loaded.spec, len(loaded.labels), **cfg.sizes).count_params()
            card = report.write_crossval_run(tmp, loaded, cfg, cv, params)
        _font_note(card)
        print(cv.line())
        print(f"run folder: {out} (crossval.md, cv_predictions.csv, confusion_matrix.png; no model is written "
              "for a cross-validation: train without --folds for one)")
        return 0

    split = evaluate.plan_holdout(loaded, cfg, exclusions)
    if cfg.init_from:
        check_init_leak(init_card, loaded, split, cfg.init_from)
    _model_line(cfg)
    _eprint(_split_line(loaded, split))
    with report.staged_folder(out, args.force) as tmp:
        if args.audit_leakage:
            result = leakage.audit(loaded, cfg, report=report_line, split=split)
            card = report.write_holdout_run(tmp, loaded, cfg, result.ours_run)
            write_json(RunFolder(tmp).file(LEAKAGE_JSON), result.to_dict())
            write_text(RunFolder(tmp).file(LEAKAGE_MD), result.markdown())
            test = result.ours_run.test
        else:
            run_result = evaluate.holdout(loaded, cfg, report_line, split)
            card = report.write_holdout_run(tmp, loaded, cfg, run_result,
                                            exclusions.to_dict(loaded.rows) if exclusions else None)
            test = run_result.test
    _font_note(card)
    if args.audit_leakage:
        print(result.table())
        print()
        print(leakage.explanation(result))
    print(test.line())
    print(f"run folder: {out}")
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    sys.exit(run(_main, argv, prog=PROG))


if __name__ == "__main__":
    sys.exit(main())
