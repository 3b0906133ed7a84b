"""``sign-synth``: write the built-in synthetic dataset (flags -> SynthConfig -> ``make_dataset`` -> one line)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Sequence

from edge_runtime.cli.common import parser, run, setup_logging
from train.synth.config import SynthConfig
from train.synth.writer import make_dataset

EPILOG = """\
example:
  sign-synth data/synth                         # 5 words x 25 recordings by 8 synthetic signers
  sign-synth data/synth2 --words 형,오빠 일요일 --signers 4 --per-word 8 --seed 1

Words are separated by spaces; a word may contain commas (형,오빠 is one word).
The motions are invented stand-ins, NOT the real signs: accuracy on this data is not a measure of real
recognition. Split it by signer (every recording names its synthetic signer, synth-01, ...).
"""


def build_parser() -> argparse.ArgumentParser:
    d = SynthConfig()
    p = parser("sign-synth", "Write a synthetic hand-keypoint dataset (for the demo and the tests).")
    p.epilog = EPILOG
    p.add_argument("out_dir", metavar="OUT_DIR", type=Path, help="dataset folder to create (must be empty)")
    p.add_argument("--words", nargs="+", default=list(d.words), metavar="WORD", help="the words (class labels)")
    p.add_argument("--signers", type=int, default=d.signers, help="number of synthetic signers")
    p.add_argument("--per-word", type=int, default=d.per_word, help="recordings per word, spread over the signers")
    p.add_argument("--frames-min", type=int, default=d.frames_min, help="shortest recording, frames at 30 fps")
    p.add_argument("--frames-max", type=int, default=d.frames_max, help="longest recording, frames at 30 fps")
    p.add_argument("--seed", type=int, default=d.seed, help="draws the signers and every recording")
    p.add_argument("--force", action="store_true", help="write into a non-empty folder (replacing a dataset there)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    config = SynthConfig(words=tuple(args.words), signers=args.signers, per_word=args.per_word,
                         frames_min=args.frames_min, frames_max=args.frames_max, seed=args.seed)
    start = time.perf_counter()
    rows = make_dataset(args.out_dir, config, force=args.force, progress=not args.no_progress)
    frames = sum(r.frames for r in rows)
    print(f"wrote {len(rows)} synthetic recordings ({len(config.words)} words, {config.signers} signers, "
          f"{frames} frames) to {args.out_dir} in {time.perf_counter() - start:.1f} s")
    print("synthetic data: invented motions, not a measure of real accuracy; split it by signer")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(_main, argv, prog="sign-synth")


if __name__ == "__main__":
    raise SystemExit(main())
