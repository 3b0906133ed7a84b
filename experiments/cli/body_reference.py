"""``python -m experiments.cli.body_reference``: hands only vs hands + a body reference, the same training otherwise.

Flags -> ``BodyReferenceConfig`` -> ``experiments.body_reference.run_body_reference`` -> one line per arm.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from edge_runtime.cli.common import parser as base_parser
from edge_runtime.cli.common import run, setup_logging
from edge_runtime.errors import DatasetError
from edge_runtime.features.body_reference import REFERENCES
from experiments.accuracy import REPO, parse_sets
from experiments.body_reference import BodyReferenceConfig, run_body_reference

PROG = "body-reference"


def build_parser() -> argparse.ArgumentParser:
    p = base_parser(PROG, "Hands only vs hands + a body reference (the registered specs hands-shoulders-v1, "
                          "hands-face-v1): the same sign-train cross-validation, folds by person, on dataset folders "
                          "that keep the pose (sign-import does).\n\n"
                          "examples:\n  python -m experiments.cli.body_reference --sets ksl,asl8 --folds loso\n"
                          "  python -m experiments.cli.body_reference data/my-set --folds 5 --out runs/body")
    p.add_argument("datasets", nargs="*", type=Path, help="dataset folders (sign-import npz output, with pose)")
    p.add_argument("--sets", default="", help="shared real sets to import first (as sign-accuracy does), e.g. "
                                              "ksl,asl8; their datasets go to --work")
    p.add_argument("--shared", type=Path, default=REPO.parent / "shared",
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
    names = parse_sets(args.sets, args.shared, allow_none=True)
    if not names and not args.datasets:
        raise DatasetError("give dataset folders or --sets")
    overrides = {k: v for k, v in (("epochs", args.epochs), ("patience", args.patience), ("seed", args.seed))
                 if v is not None}
    config = BodyReferenceConfig(
        datasets=list(args.datasets), sets=names, shared=args.shared, work=args.work, folds=args.folds,
        references=[r.strip() for r in args.references.split(",") if r.strip()], overrides=overrides, out=args.out,
        command="python -m experiments.cli.body_reference " + " ".join(sys.argv[1:] if argv is None else list(argv)))
    from host.native_stderr import import_tensorflow

    import_tensorflow(args.verbose)
    report = None if args.quiet else (lambda s: print(s, file=sys.stderr, flush=True))
    payload = run_body_reference(config, report)
    for res in payload["results"]:
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
