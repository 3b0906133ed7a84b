"""Spike (issue #18), follow-up: int8 landmark model with its output heads left in float (or int16 activations).

Reuses ``experiments.landmark_quant_spike`` (same data split, inputs, runners and
measurements); only the ai-edge-quantizer recipe differs. The full landmark
model's backbone is ``static_wi8_ai8``; the ops whose output tensor name matches
``--heads`` (the four FULLY_CONNECTED heads and the two LOGISTIC ops, i.e. the
presence, handedness, landmark and world-landmark outputs) are either left
unquantized (``NO_QUANTIZE``: float32 compute, float32 outputs) or get int16
activations (``static_wi8_ai16``). The palm detector stays float ("landmarks
only" pipeline variant).

    taskset -c 1 python -m experiments.landmark_quant_float_heads --task /work/shared/models/hand_landmarker.task \\
        --videos /work/shared/data/ksl-expert-videos --out /tmp/lmq2 --aeq-path /tmp/lmq/aeq
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from experiments.landmark_quant_spike import (
    KINDS,
    LiteRTRunner,
    collect,
    graph_ops,
    interleaved_ms,
    landmark_fidelity,
    pipeline_parity,
    sha,
    unfold_fp16,
)

log = logging.getLogger("lmq2")
HEADS = r"conv_handedness|conv_handflag|^Identity"  # FC + LOGISTIC heads; the final FCs' outputs are Identity/_3
MEAN = r"global_average_pooling2d"


def aeq_mixed(float32_tflite: bytes, calib: list[np.ndarray], input_name: str, float_scopes: list[str],
              a16_scopes: list[str]) -> bytes:
    """``static_wi8_ai8`` everywhere, then float (NO_QUANTIZE) / int16-activation overrides for the given scopes."""
    from ai_edge_quantizer import quantizer, recipe
    from ai_edge_quantizer.algorithm_manager import AlgorithmName
    from ai_edge_quantizer.qtyping import TFLOperationName

    q = quantizer.Quantizer(bytearray(float32_tflite))
    q.load_quantization_recipe(recipe.static_wi8_ai8())
    for regex in a16_scopes:
        q.add_static_config(regex, TFLOperationName.ALL_SUPPORTED, activation_num_bits=16, weight_num_bits=8)
    for io in (TFLOperationName.INPUT, TFLOperationName.OUTPUT):  # float32 graph input and outputs
        q.update_quantization_recipe(".*", io, algorithm_key=AlgorithmName.NO_QUANTIZE)
    for regex in float_scopes:
        q.update_quantization_recipe(regex, TFLOperationName.ALL_SUPPORTED, algorithm_key=AlgorithmName.NO_QUANTIZE)
    result = q.calibrate({"serving_default": [{input_name: x[None]} for x in calib]}, num_threads=1)
    return bytes(q.quantize(result).quantized_model)


def io_types(content: bytes) -> dict[str, list[str]]:
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=content)
    return {"inputs": [np.dtype(d["dtype"]).name for d in it.get_input_details()],
            "outputs": [f'{d["name"]}:{np.dtype(d["dtype"]).name}' for d in it.get_output_details()]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--task", type=Path, required=True)
    ap.add_argument("--videos", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--aeq-path", type=Path, required=True)
    ap.add_argument("--calib-every", type=int, default=5)
    ap.add_argument("--reps", type=int, default=300)
    ap.add_argument("--heads", default=HEADS)
    ap.add_argument("--variants", default="int8-aeq,heads-f32,heads+mean-f32,heads-a16")
    ap.add_argument("--parity", default="heads-f32,heads+mean-f32,heads-a16", help="variants run through the pipeline")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    sys.path.insert(0, str(args.aeq_path))
    args.out.mkdir(parents=True, exist_ok=True)
    recipes = {"int8-aeq": ([], []), "heads-f32": ([args.heads], []), "heads+mean-f32": ([args.heads, MEAN], []),
               "heads-a16": ([], [args.heads])}

    videos = sorted(args.videos.glob("*.mp4"))
    calib_v = [v for i, v in enumerate(videos) if i % args.calib_every == 0]
    check_v = [v for i, v in enumerate(videos) if i % args.calib_every != 0]
    cal = collect(args.task, calib_v, palm_every=3, crop_every=2)
    chk = collect(args.task, check_v, palm_every=6, crop_every=4)
    cal_crops = cal.crops[::max(1, len(cal.crops) // 300)]
    log.info("calibration %d crops; check %d crops", len(cal_crops), len(chk.crops))
    with zipfile.ZipFile(args.task) as z:
        content = z.read(KINDS["landmarks"])
    unfolded = unfold_fp16(content)
    report: dict[str, Any] = {"heads_regex": args.heads, "calibration_crops": len(cal_crops),
                              "check_crops": len(chk.crops), "check_videos": len(check_v), "variants": {}}
    rs = {"f32-litert": LiteRTRunner("f32-litert", content)}
    for name in args.variants.split(","):
        floats, a16 = recipes[name]
        shas = []
        for attempt in range(2):
            t = time.perf_counter()
            q = aeq_mixed(unfolded, cal_crops, "input_1", floats, a16)
            shas.append(sha(q))
            if attempt == 0:
                build_s = time.perf_counter() - t
        (args.out / f"full_landmarks.{name}.tflite").write_bytes(q)
        rs[name] = LiteRTRunner(name, q)
        report["variants"][name] = {"bytes": len(q), "ops": graph_ops(q), "io": io_types(q), "sha256": shas[0],
                                    "reproducible": shas[0] == shas[1], "build_s": round(build_s, 1)}
        log.info("%s: %s", name, json.dumps(report["variants"][name]))
    report["ms_per_invoke"] = interleaved_ms(list(rs.values()), chk.crops[:40], args.reps)
    log.info("ms: %s", json.dumps(report["ms_per_invoke"]))
    for name in args.variants.split(","):
        report["variants"][name]["fidelity_vs_f32"] = landmark_fidelity(rs["f32-litert"], rs[name], chk.crops,
                                                                        chk.crop_width)
        log.info("%s fidelity: %s", name, json.dumps(report["variants"][name]["fidelity_vs_f32"]))
    (args.out / "report.json").write_text(json.dumps(report, indent=1))
    for name in args.parity.split(","):
        if name:
            report["variants"][name]["pipeline_landmarks_only"] = pipeline_parity(args.task, check_v, None, rs[name])
            log.info("%s pipeline: %s", name, json.dumps(report["variants"][name]["pipeline_landmarks_only"]))
            (args.out / "report.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
