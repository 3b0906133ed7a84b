"""``sign-audit``: audit a dataset before training (flags -> AuditConfig -> ``audit_to_folder`` -> a summary)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from edge_runtime.cli.common import parser as base_parser
from edge_runtime.cli.common import print_table, run, setup_logging
from train.audit.config import AuditConfig
from train.audit.result import AuditResult, describe_permutation
from train.audit.run import audit_to_folder


def build_parser() -> argparse.ArgumentParser:
    d = AuditConfig()
    p = base_parser(
        "sign-audit",
        "Audit a dataset before training: hands found, jitter, and labels that look wrong (out-of-fold\n"
        "predictions of a quick logistic regression, grouped by signer; cleanlab; per-person label\n"
        "permutations; people who never make a label's handshape). Never changes the data.\n\n"
        "writes OUT/audit.md, recordings.csv, people.csv and flagged.txt (manifest files to exclude).\n\n"
        "examples:\n"
        "  sign-audit data/asl48                       # report in data/asl48-audit/\n"
        "  sign-audit data/ksl7 --out reports/ksl7 --folds 7",
    )
    p.add_argument("dataset", type=Path, help="dataset folder (with manifest.csv)")
    p.add_argument("--out", type=Path, default=None, help="report folder (default: DATASET-audit beside the dataset)")
    p.add_argument("--folds", type=int, default=d.folds, help="GroupKFold folds, grouped by signer")
    p.add_argument("--C", type=float, default=d.C, dest="C", help="inverse regularisation of the logistic regression")
    p.add_argument("--min-accuracy", type=float, default=d.min_accuracy,
                   help="flag people whose out-of-fold accuracy is below this")
    p.add_argument("--permutation-agreement", type=float, default=d.permutation_agreement,
                   help="a permutation of a person's labels must agree with at least this share of their recordings")
    p.add_argument("--permutation-gain", type=float, default=d.permutation_gain,
                   help="... and beat their labels as given by at least this much (0.30 = 30 points)")
    p.add_argument("--handshape-never-share", type=float, default=d.handshape_never_share,
                   help="flag a person when fewer than this share of their recordings of a label show its handshape")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return p


def _print_summary(result: AuditResult, out: Path) -> None:
    n = len(result.recordings)
    unit = "signer" if result.by_person else "recording group"
    print(f"audited {n} recordings of {len(result.labels)} labels"
          + (f" by {len(result.people)} people" if result.by_person else " (no signers: by recording only)")
          + f": out-of-fold accuracy {result.accuracy:.1%} (logistic regression, {result.folds}-fold "
          f"GroupKFold by {unit}); cleanlab flags {result.label_issues} recordings")
    for note in result.notes:
        print(f"note: {note}")
    flagged = result.flagged_people
    if result.by_person:
        if flagged:
            head = ["signer", "recordings", "oof accuracy", "best permutation (agrees)", "flags"]
            body = [[p.signer, str(p.stats.recordings), f"{p.accuracy:.0%}",
                     f"{describe_permutation(p.permutation)} ({p.permutation_agreement:.0%})",
                     "; ".join(p.short_flags())] for p in flagged]
            print_table(f"flagged people: {len(flagged)} of {len(result.people)}", head, body, left=head, width=80)
        else:
            print(f"no flagged people among {len(result.people)}")
    print(f"{len(result.flagged_files)} recordings in {out / 'flagged.txt'}; report: {out / 'audit.md'}")


def _main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    cfg = AuditConfig(folds=args.folds, C=args.C, min_accuracy=args.min_accuracy,
                      permutation_agreement=args.permutation_agreement, permutation_gain=args.permutation_gain,
                      handshape_never_share=args.handshape_never_share, progress=not args.no_progress)
    written = audit_to_folder(args.dataset, args.out, cfg)
    _print_summary(written.result, written.folder)
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    sys.exit(run(_main, argv, prog="sign-audit"))


if __name__ == "__main__":
    main()
