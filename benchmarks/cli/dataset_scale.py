"""``sign-datascale``: what one ``.npz`` per recording + ``manifest.csv`` costs at 10K-500K recordings (issue #19).

Flags -> ``ScaleConfig`` -> ``benchmarks.dataset_scale.run_scale`` -> a table, and with ``--out`` JSON + Markdown.
"""

from __future__ import annotations

import argparse
import datetime
import shlex
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Sequence

from benchmarks.dataset_scale import DEFAULT_SIZES, ScaleConfig, can_drop_caches, markdown, run_scale, table
from benchmarks.machine import header_lines, machine_info
from edge_runtime.cli.common import parser, print_table, run, setup_logging
from edge_runtime.errors import SignedgeError
from edge_runtime.files import write_json, write_text

PROG = "sign-datascale"
SUMMARY = "sign-datascale: does a dataset folder (one .npz per recording + manifest.csv) hold a corpus?"


def build_parser() -> argparse.ArgumentParser:
    p = parser(PROG, SUMMARY + """

example:
  sign-synth /tmp/scale/src --signers 6 --per-word 5 --no-progress
  taskset -c 1 sign-datascale /tmp/scale/src --work /tmp/scale/work --drop-caches --load-limit 100000 \\
      --out benchmarks/results/dataset_scale

The source's recordings are copied under new ids (and N / --per-signer synthetic signers) until the dataset
holds each size; every measurement runs in a fresh Python process. The generated data is deleted at the end.""")
    p.add_argument("source", type=Path, help="a signedge dataset folder whose recordings are replicated")
    p.add_argument("--work", type=Path, required=True, help="folder for the generated dataset (must not hold one)")
    p.add_argument("--sizes", default=",".join(str(n) for n in DEFAULT_SIZES),
                   help="comma-separated growing dataset sizes (recordings)")
    p.add_argument("--per-signer", type=int, default=50, help="recordings per synthetic signer")
    p.add_argument("--load-limit", type=int, default=None,
                   help="load at most this many recordings per size through Dataset.load and extrapolate "
                        "(default: all)")
    p.add_argument("--train-max", type=int, default=100_000,
                   help="largest size whose training load (train.fit.load_dataset, peak RSS) is measured")
    p.add_argument("--drop-caches", action="store_true",
                   help="drop the page cache before the cold steps (root; affects the whole machine)")
    p.add_argument("--keep", action="store_true", help="keep the generated dataset in WORK/dataset")
    p.add_argument("--out", type=Path, default=None, help="write OUT.json and OUT.md (a suffix is dropped)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    return p


def _sizes(text: str) -> list[int]:
    try:
        return [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    except ValueError:
        raise SignedgeError(f"--sizes must be comma-separated whole numbers, got {text!r}") from None


def _config(args: argparse.Namespace) -> ScaleConfig:
    if not args.source.is_dir():
        raise SignedgeError(f"{args.source}: source dataset folder not found")
    return ScaleConfig(source=args.source, work=args.work, sizes=_sizes(args.sizes), per_signer=args.per_signer,
                       load_limit=args.load_limit, train_max=args.train_max, drop_caches=args.drop_caches,
                       keep=args.keep, progress=not args.quiet)


def _notes(report: dict[str, Any], config: ScaleConfig) -> list[str]:
    cold = report["cold"]
    src = report["source"]
    notes = [
        f"Source: {src['recordings']} recordings ({len(src['labels'])} labels) of `{src['folder']}`, copied "
        "(`shutil.copyfile`, so each replica's `.npz` keeps its source's meta; the manifest gives it a unique "
        f"file, source id and group, and one of N / {config.per_signer} synthetic signers). The dataset is grown "
        "in place: each size adds files to the previous one and rewrites `manifest.csv`.",
        f"A real write through `save_recording` (validate, compress, fsync file and folder, rename) took "
        f"{1000 * report['save_recording_s']:.2f} ms per recording here ({_write_note(report)}).",
        "Every figure but the copy comes from a fresh Python process (interpreter start and imports not counted). "
        + ("Cold: the page cache, dentries and inodes were dropped (`echo 3 > /proc/sys/vm/drop_caches`) just "
           "before the step; warm: the same step repeated straight after." if cold else
           "Warm only: the page cache was not dropped (the files were just written, so they are cached)."),
        "`load all`: `Dataset.load` (read, validate, label check) of every recording in manifest order"
        + (" after a cache drop" if cold else "") + "; `est. from n` means only the first n were loaded and the "
        "time is scaled to N (an extrapolation, not a measurement).",
        "`train load`: `train.fit.load_dataset` (what `sign-train` keeps: every recording trimmed to its sign) in "
        "its own process; peak RSS includes the interpreter with keras/TensorFlow imported "
        f"({_base(report)}). Sizes above --train-max ({config.train_max:,}) were not run.",
        "`du GB`: allocated blocks (st_blocks x 512, what `du` reports) of every file and folder; `apparent GB`: "
        "the files' byte sizes; files + dirs = inodes used.",
    ]
    return notes


def _write_note(report: dict[str, Any]) -> str:
    largest = report["sizes"][-1]["size"]
    return f"{largest:,} recordings would take {report['save_recording_s'] * largest / 60:.0f} min"


def _base(report: dict[str, Any]) -> str:
    trained = [r for r in report["sizes"] if r["train_base_rss_mb"] is not None]
    if not trained:
        return "not measured"
    parts = [f"{r['size']:,}: {r['train_base_rss_mb']:,.0f} MB before loading, "
             f"{1e3 * r['train_mb_per_recording']:,.1f} KB per recording above it" for r in trained]
    return "; ".join(parts)


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    config = _config(args)
    if config.drop_caches and not can_drop_caches():
        raise SignedgeError("--drop-caches needs root (cannot write /proc/sys/vm/drop_caches)")
    machine = machine_info()
    started = datetime.datetime.now(datetime.timezone.utc)
    t0 = time.perf_counter()
    report = run_scale(config)
    elapsed = time.perf_counter() - t0
    command = " ".join([PROG, *(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))])
    head, body = table(report)
    print_table(f"{PROG}: {report['source']['recordings']} source recordings replicated", head, body,
                left=("recordings",))
    notes = _notes(report, config)
    for note in notes:
        print(note)
    if args.out:
        out = args.out.with_suffix("") if args.out.suffix in (".json", ".md") else args.out
        header = [f"Written by `{command}` on {started:%Y-%m-%d} ({elapsed / 60:.1f} min in all).", "",
                  *(f"- {line}" for line in header_lines(machine))]
        write_json(out.with_name(out.name + ".json"),
                   {"command": command, "date": started.isoformat(timespec="seconds"), "elapsed_s": elapsed,
                    "machine": machine, "config": {k: str(v) if isinstance(v, Path) else v
                                                   for k, v in asdict(config).items()},
                    **report})
        write_text(out.with_name(out.name + ".md"), markdown(report, header, notes))
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    sys.exit(run(_main, argv, prog=PROG))


if __name__ == "__main__":
    main()
