"""``python -m benchmarks.cli.web_load``: do 20 browser tabs slow recognition down? (see ``benchmarks.web_load``)."""

from __future__ import annotations

import ipaddress
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

from benchmarks.web_load import render, run_load_test
from edge_runtime.cli.common import parser, run, setup_logging
from edge_runtime.errors import SignedgeError
from edge_runtime.files import write_json

PROG = "web_load"
SUMMARY = 'Load test of the live web page: do 20 browser tabs slow recognition down?'


def _main(argv: Sequence[str] | None) -> int:
    p = parser(PROG, SUMMARY + "\n\nexample:\n  python -m benchmarks.cli.web_load --model "
                                                  "model_int8.tflite --source take.npz --clients 20 --seconds 30")
    p.add_argument("--model", required=True, type=Path, help="exported classifier (.tflite/.onnx from export-tflite)")
    p.add_argument("--source", required=True, type=Path, help="a recording .npz, replayed in a loop, unpaced")
    p.add_argument("--clients", type=int, default=20, help="simulated browser tabs")
    p.add_argument("--seconds", type=float, default=30.0, help="seconds under load in all")
    p.add_argument("--cycles", type=int, default=6, help="loaded stretches the seconds are cut into")
    p.add_argument("--web-fps", type=float, default=10.0, help="the page's picture cap (sign-recognize --web-fps)")
    p.add_argument("--host", default="127.0.0.1", help="a loopback address (nothing else is allowed)")
    p.add_argument("--max-drop", type=float, default=0.10, help="largest accepted throughput drop under load")
    p.add_argument("--json", type=Path, default=None, help="also write the report here")
    args = p.parse_args(argv)
    setup_logging(args.verbose)
    try:
        loopback = ipaddress.ip_address(args.host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        p.error("--host must be a loopback address such as 127.0.0.1: this load test never leaves the machine")
    if args.clients < 1 or args.cycles < 1 or args.seconds / max(args.cycles, 1) < 1:
        p.error("--clients and --cycles must be >= 1, and each stretch (--seconds / --cycles) at least 1 s")
    if not str(args.source).lower().endswith(".npz"):
        raise SignedgeError(f"{args.source}: the load test replays a recording .npz")
    report = run_load_test(args.model, args.source, args.clients, args.seconds, args.cycles, args.web_fps, args.host)
    print(render(report))
    if args.json:
        data = asdict(report)
        for cycle, raw in zip(report.cycles, data["cycles"]):
            raw.update(ratio=round(cycle.ratio, 4), cpu_ratio=cycle.cpu_ratio)
        write_json(args.json, data)
    tabs = report.clients * len(report.cycles)
    ok = report.drop <= args.max_drop and report.unserved == 0 and not report.problems
    print(f"{'PASS' if ok else 'FAIL'}: drop {100 * report.drop:.1f}% (limit {100 * args.max_drop:.0f}%), "
          f"{tabs - report.unserved}/{tabs} tab-stretches served, "
          f"{'no problems' if not report.problems else str(len(report.problems)) + ' problem(s)'}")
    return 0 if ok else 1


def main(argv: Sequence[str] | None = None) -> None:
    sys.exit(run(_main, argv, prog=PROG))


if __name__ == "__main__":
    main()
