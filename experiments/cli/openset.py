"""``sign-openset``: open-set rejection and on-device enrollment measured on the shared real sets.

Flags -> ``OpensetConfig`` -> ``experiments.openset.run_openset`` -> result files and one line per part.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Sequence

from edge_runtime.cli.common import parser as base_parser
from edge_runtime.cli.common import run, setup_logging

PROG = "sign-openset"
REPO = Path(__file__).resolve().parents[2]
METHOD_NAMES = ("dense", "cosine", "cosface", "cosface-bg", "none-class", "cosface-none")  # experiments.openset.METHODS


def build_parser() -> argparse.ArgumentParser:
    p = base_parser(PROG, "Measure whether a model tells signs it knows from signs it does not (rejection, ASL-48 "
                          "known vs mpdata-words' other signs and rest frames), and how well signs enrolled from a "
                          "few recordings of one person are recognised in other people (mpdata-words, six signs "
                          "left out of training). Tested people are never in training, validation or threshold "
                          "choice; the rules are in experiments/openset_data.py.\n\n"
                          "examples:\n"
                          "  sign-openset                                   # both parts, every method\n"
                          "  sign-openset --parts rejection --methods dense,cosface\n"
                          "  sign-openset --epochs 3 --out /tmp/quick      # a quick look, not a figure to quote")
    p.add_argument("--shared", type=Path, default=REPO.parent / "shared", help="the shared folder (data/ inside)")
    p.add_argument("--work", type=Path, default=Path("runs/openset"), help="imported datasets (never committed)")
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "openset",
                   help="writes OUT.md, OUT.json and OUT.png")
    p.add_argument("--parts", default="rejection,enrollment",
                   help="any of rejection, enrollment, ksl (the private KSL set, leave one signer out: aggregates "
                        "only in the result files)")
    p.add_argument("--methods", default=",".join(METHOD_NAMES), help=f"any of: {', '.join(METHOD_NAMES)}")
    p.add_argument("--trials", type=int, default=10, help="enrollment: donor draws")
    p.add_argument("--seed", type=int, default=0, help="splits, donors and training")
    p.add_argument("--epochs", type=int, default=None, help="override every model's maximum epochs")
    p.add_argument("-q", "--quiet", action="store_true", help="no per-epoch lines")
    return p


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    from edge_runtime.errors import DatasetError

    parts = [x.strip() for x in args.parts.split(",") if x.strip()]
    folders = {"rejection": ("mpdata-words", "asl-mpdata", "asl-mpdata-extra"), "enrollment": ("mpdata-words",),
               "ksl": ("ksl-aihub-keypoints",)}
    for folder in sorted({f for part in parts for f in folders.get(part, ())}):
        if not (args.shared / "data" / folder).is_dir():
            raise DatasetError(f"{args.shared / 'data' / folder}: not found (the shared data sets are needed; pass "
                               "--shared)")
    from experiments.openset import OpensetConfig, run_openset
    from experiments.openset_report import write

    try:
        config = OpensetConfig(shared=args.shared, work=args.work, out=args.out,
                               parts=tuple(parts),
                               methods=tuple(x.strip() for x in args.methods.split(",") if x.strip()),
                               seed=args.seed, trials=args.trials, epochs=args.epochs)
    except ValueError as err:
        raise DatasetError(str(err)) from None
    report = (lambda line: None) if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    result = run_openset(config, report)
    command = "sign-openset " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    for path in write(result, args.out, command.strip()):
        print(f"wrote {path}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(_main, argv, PROG)


if __name__ == "__main__":
    sys.exit(main())
