"""``sign-accuracy``: the README's Accuracy table, end to end, from the shared real data sets.

Flags -> ``AccuracyConfig`` -> ``experiments.accuracy.run_accuracy`` -> one line per set and where the table went.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any, Sequence

from edge_runtime.cli.common import parser as base_parser
from edge_runtime.cli.common import run, setup_logging
from experiments.accuracy import REPO, SETS, AccuracyConfig, parse_sets, run_accuracy
from train.cli.train import LOSS_CHOICES

PROG = "sign-accuracy"


def build_parser() -> argparse.ArgumentParser:
    p = base_parser(PROG, "Import, audit and cross-validate the shared real data sets by person, export each fold's "
                          "model, and write the README's Accuracy table.\n\n"
                          "examples:\n"
                          "  sign-accuracy                         # every set (about an hour on 2 cores)\n"
                          "  sign-accuracy --sets asl8             # one set\n"
                          "  sign-accuracy --sets ksl --out runs/ksl-accuracy")
    p.add_argument("--sets", default=",".join(SETS), help=f"comma-separated, any of: {', '.join(SETS)}")
    p.add_argument("--shared", type=Path, default=REPO.parent / "shared", help="the shared folder (data/ inside)")
    p.add_argument("--work", type=Path, default=Path("runs/accuracy"),
                   help="datasets, audits and run folders (never committed: KSL data and models must stay out)")
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "accuracy",
                   help="writes OUT.md and OUT.json (aggregate figures only)")
    p.add_argument("--export-check", default="f16,int8", help="formats each fold's model is scored as ('' = none)")
    p.add_argument("--epochs", type=int, default=None, help="override every set's maximum epochs")
    p.add_argument("--patience", type=int, default=None, help="override every set's early-stopping patience")
    p.add_argument("--loss", choices=LOSS_CHOICES, default=None,
                   help="override every set's training loss (see sign-train --loss)")
    p.add_argument("-q", "--quiet", action="store_true", help="no per-fold lines")
    return p


def _set_line(result: dict[str, Any]) -> None:
    a, au = result["arms"]["all"], result["arms"]["audited"]
    print(f"{result['set']}: all people mean {a['keras']['mean']:.1%} (worst {a['keras']['worst']:.1%}); "
          + (f"audited training: all people {au['keras']['mean']:.1%}, people the audit does not flag "
             f"{au['not_flagged_people'].get('mean', float('nan')):.1%}; " if "keras" in au else
             f"audited: {au['skipped']}; ")
          + f"{result['seconds']['total'] / 60:.1f} min", flush=True)


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    names = parse_sets(args.sets, args.shared)
    if args.export_check:
        from export.formats import parse_formats

        parse_formats(args.export_check)
    overrides = {k: v for k, v in (("epochs", args.epochs), ("patience", args.patience), ("loss", args.loss))
                 if v is not None}
    command = "sign-accuracy " + " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    config = AccuracyConfig(sets=names, shared=args.shared, work=args.work, out=args.out,
                            export_check=args.export_check, overrides=overrides, command=command)
    from host.native_stderr import import_tensorflow

    import_tensorflow(args.verbose)
    report = None if args.quiet else (lambda s: print(s, file=sys.stderr, flush=True))
    run_accuracy(config, report, on_set=_set_line)
    print(f"wrote {args.out.with_suffix('.md')} and {args.out.with_suffix('.json')}")
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    sys.exit(run(_main, argv, prog=PROG))


if __name__ == "__main__":
    main()
