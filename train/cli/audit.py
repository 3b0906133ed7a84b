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
        "permutations; people who never make a label's handshape; where a pose is present, people whose\n"
        "left-hand block sits at the body's right wrist). For mixed data (recordings with a language)\n"
        "also a table per language and labels that different people sign differently (split glosses).\n"
        "Never changes the data.\n\n"
        "writes OUT/audit.md, recordings.csv, people.csv and flagged.txt (manifest files to exclude).\n\n"
        "examples:\n"
        "  sign-audit data/asl48                       # report in data/asl48-audit/\n"
        "  sign-audit data/ksl7 --out reports/ksl7 --folds 7\n"
        "  sign-audit data/mpw --hand-block-share 0.3  # mixed data: per language, hand blocks, split glosses",
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
    p.add_argument("--hand-block-share", type=float, default=d.hand_block_share,
                   help="flag a person whose left block is at the body's left wrist in less than this share of its "
                        "frames (median over their recordings)")
    p.add_argument("--hand-block-min-frames", type=int, default=d.hand_block_min_frames,
                   help="judge a recording's hand blocks only with at least this many left-block frames with a pose")
    # SUPPRESS: neither flag given means "decide from the data" (AuditConfig.split_glosses = None).
    p.add_argument("--split-glosses", action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS,
                   help="look for labels that groups of people sign differently (default: only when the "
                        "recordings carry a language)")
    p.add_argument("--split-silhouette", type=float, default=d.split_silhouette,
                   help="a label's people split into two groups when their clusters' silhouette reaches this")
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
    _print_mixed(result)
    print(f"{len(result.flagged_files)} recordings in {out / 'flagged.txt'}; report: {out / 'audit.md'}")


def _print_mixed(result: AuditResult) -> None:
    """Per language, hand blocks and split glosses: one table or line each, where they apply."""
    if result.languages:
        head = ["language", "people", "recordings", "labels", "oof accuracy", "flagged people", "flagged recordings"]
        print_table("per language", head, [[row.language, str(row.people), str(row.recordings), str(row.labels),
                                            f"{row.accuracy:.1%}", str(row.flagged_people),
                                            str(row.flagged_recordings)] for row in result.languages], left=head[:1])
    if result.hand_blocks is not None and result.by_person:
        judged = sum(1 for p in result.people if p.hand_blocks is not None and p.hand_blocks.judged)
        swapped = result.swapped_people
        print(f"hand blocks: {judged} of {len(result.people)} people judged against the body pose; "
              + (f"swapped: {', '.join(p.signer for p in swapped)}" if swapped else "none look swapped"))
    if result.split_glosses is not None:
        labels = sorted({s.label for s in result.split_glosses}, key=result.labels.index)
        print(f"split glosses (reported, not flagged): {', '.join(labels) if labels else 'none'}")


def _main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    cfg = AuditConfig(folds=args.folds, C=args.C, min_accuracy=args.min_accuracy,
                      permutation_agreement=args.permutation_agreement, permutation_gain=args.permutation_gain,
                      handshape_never_share=args.handshape_never_share, hand_block_share=args.hand_block_share,
                      hand_block_min_frames=args.hand_block_min_frames,
                      split_glosses=getattr(args, "split_glosses", None), split_silhouette=args.split_silhouette,
                      progress=not args.no_progress)
    written = audit_to_folder(args.dataset, args.out, cfg)
    _print_summary(written.result, written.folder)
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    sys.exit(run(_main, argv, prog="sign-audit"))


if __name__ == "__main__":
    main()
