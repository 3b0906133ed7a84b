"""Spike (issue #18): int8 variants of the hand landmarker's palm detector and landmark model, measured.

Not a product: it finds and justifies a route. Two routes are built from the
float ``.tflite`` files inside ``hand_landmarker.task`` (and its ``_lite``
sibling when it sits next to it):

- ``ort-int8``: tf2onnx ``--tflite`` → ONNX (opset 17), onnxruntime
  ``quant_pre_process`` then ``quantize_static`` (QDQ, per-channel int8
  weights, uint8 activations, MinMax) with a CalibrationDataReader of real
  inputs; run with onnxruntime (CPU EP, 1 thread);
- ``aeq-int8``: the float ``.tflite`` with its float16 weights folded back to
  float32 (the DEQUANTIZE ops removed) and a ``serving_default`` signature
  added, then ai-edge-quantizer's ``static_wi8_ai8`` recipe calibrated on the
  same inputs; run with ai-edge-litert (XNNPACK, 1 thread). ai-edge-quantizer
  is not a project dependency: pass ``--aeq-path`` to a directory where it was
  installed with ``pip install --no-deps --target DIR ai-edge-quantizer
  immutabledict``; without it the route is skipped.

Data: the shared KSL videos sorted by name; every ``--calib-every``-th one is a
calibration video, the others are checked. The float LiteRT pipeline
(``LiteRTHands``, 1 thread) runs over each video; its palm-detector inputs
(the letterboxed 192x192 frame) and its landmark crops (224x224, with the
region's width) are the inputs. Calibration: palm inputs + crops of the
calibration videos; checks: those of the other videos.

Measured (all at 1 thread, the variants interleaved on identical inputs):
ms per invoke (median of ``--reps`` calls); per-crop fidelity of the landmark
model (landmark distance in % of the image width, presence and handedness
agreement) and of the palm detector (found palms, top palm's box and keypoint
distance); the whole pipeline with the variant swapped in vs the float
pipeline on the check videos (the issue's parity gates: ">= 1 hand found"
agreement, landmark distance median and p95 in % of the width, handedness
agreement, via ``benchmarks.parity.Tally``); each variant's size, op list,
and whether building it twice gives the same bytes.

    python -m experiments.landmark_quant_spike --task /work/shared/models/hand_landmarker.task \\
        --videos /work/shared/data/ksl-expert-videos --out /tmp/lmq [--aeq-path /tmp/lmq/aeq]
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import logging
import os
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import cv2
import numpy as np

from benchmarks.parity import Tally
from edge_runtime.landmarks.anchors import AnchorOptions, ssd_anchors
from edge_runtime.landmarks.litert import PALM_INPUT, LiteRTHands
from edge_runtime.landmarks.palm import decode_palms, weighted_nms
from edge_runtime.landmarks.quantize import unfold_fp16  # noqa: F401  (the library's, used by the spike)
from edge_runtime.landmarks.roi import crop_matrix, letterbox_rect
from edge_runtime.landmarks.task_file import DETECTOR, LANDMARKER

log = logging.getLogger("lmq")
cv2.setNumThreads(1)
KINDS = {"palm": DETECTOR, "landmarks": LANDMARKER}
LM_SIZE = 224


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- inputs from the float pipeline ---------------------------------------------------------------------


@dataclass
class Inputs:
    palm: list[np.ndarray]  # [192, 192, 3] float32 RGB 0..1
    crops: list[np.ndarray]  # [224, 224, 3] float32 RGB 0..1
    crop_width: list[float]  # the crop region's width as a fraction of the image width


def _to_input(bgr: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB).astype(np.float32) * np.float32(1.0 / 255.0)


def read_frames(video: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(video))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames


def collect(task: Path, videos: list[Path], palm_every: int, crop_every: int) -> Inputs:
    """Palm inputs (every ``palm_every``-th frame) and landmark crops (every ``crop_every``-th) the float pipeline sees."""
    out = Inputs([], [], [])
    hands = LiteRTHands(task, threads=1)
    seen: list[tuple[np.ndarray, float]] = []
    original = hands._landmarks

    def spy(image: np.ndarray, rect: Any) -> Any:
        h, w = image.shape[:2]
        crop = cv2.warpAffine(image, crop_matrix(rect, w, h, LM_SIZE, LM_SIZE), (LM_SIZE, LM_SIZE),
                              flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        seen.append((crop, rect.width))
        return original(image, rect)

    hands._landmarks = spy  # type: ignore[method-assign]
    for video in videos:
        hands.reset()
        for i, frame in enumerate(read_frames(video)):
            h, w = frame.shape[:2]
            if i % palm_every == 0:
                box = letterbox_rect(w, h)
                lb = cv2.warpAffine(frame, crop_matrix(box, w, h, PALM_INPUT, PALM_INPUT), (PALM_INPUT, PALM_INPUT),
                                    flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
                out.palm.append(_to_input(lb))
            seen.clear()
            hands.process(frame, int(i * 1000 / 30))
            if i % crop_every == 0:
                for crop, width in seen:
                    out.crops.append(_to_input(crop))
                    out.crop_width.append(float(width))
    hands.close()
    return out


# -- runners: one interface for LiteRT and onnxruntime ---------------------------------------------------


class Runner:
    """``run(x)`` → the model's outputs in the float ``.tflite``'s order (x: [S, S, 3] float32 RGB 0..1)."""

    name: str
    size: int

    def run(self, x: np.ndarray) -> list[np.ndarray]:
        raise NotImplementedError


class LiteRTRunner(Runner):
    def __init__(self, name: str, content: bytes) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.name = name
        self.interp = Interpreter(model_content=content, num_threads=1)
        self.interp.allocate_tensors()
        det = self.interp.get_input_details()[0]
        self.input_index, self.size = det["index"], int(det["shape"][1])
        self.in_dtype, (self.in_scale, self.in_zero) = det["dtype"], det["quantization"]
        self.outs = [(d["index"], d["quantization"], d["dtype"])
                     for d in sorted(self.interp.get_output_details(), key=lambda d: _out_key(d["name"]))]

    def run(self, x: np.ndarray) -> list[np.ndarray]:
        """Float in, float out; an integer input/output (a fully int8 graph) is (de)quantized here, in numpy."""
        if self.in_dtype != np.float32:
            info = np.iinfo(self.in_dtype)
            x = np.clip(np.round(x / self.in_scale) + self.in_zero, info.min, info.max).astype(self.in_dtype)
        self.interp.set_tensor(self.input_index, x[None])
        self.interp.invoke()
        outs = []
        for index, (scale, zero), dtype in self.outs:
            y = self.interp.get_tensor(index)
            outs.append((y.astype(np.float32) - zero) * scale if dtype != np.float32 else y.copy())
        return outs


class OrtRunner(Runner):
    def __init__(self, name: str, path: Path) -> None:
        import onnxruntime as ort

        self.name = name
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        inp = self.sess.get_inputs()[0]
        self.input_name, self.size = inp.name, int(inp.shape[1])
        self.out_names = sorted((o.name for o in self.sess.get_outputs()), key=_out_key)

    def run(self, x: np.ndarray) -> list[np.ndarray]:
        return self.sess.run(self.out_names, {self.input_name: x[None]})


def _out_key(name: str) -> int:
    """Output order of the MediaPipe models: Identity, Identity_1, Identity_2, ..."""
    tail = name.rsplit(":", 1)[0].rsplit("Identity", 1)[-1].lstrip("_")
    return int(tail) if tail.isdigit() else 0


class PipelineModel:
    """A Runner dressed as ``litert._Model`` so that ``LiteRTHands`` runs it in place of its interpreter."""

    def __init__(self, runner: Runner, shapes: list[list[int]]) -> None:
        self.runner, self.size = runner, runner.size
        self.outputs = [{"shape": np.array(s)} for s in shapes]
        self._out: list[np.ndarray] = []

    def run(self, crop_bgr: np.ndarray) -> None:
        self._out = self.runner.run(_to_input(crop_bgr))

    def output(self, i: int) -> np.ndarray:
        return self._out[i]


# -- route A: tf2onnx + onnxruntime static quantization --------------------------------------------------


class _Reader:
    def __init__(self, name: str, data: list[np.ndarray]) -> None:
        self.name, self.it = name, iter(data)

    def get_next(self) -> dict[str, np.ndarray] | None:
        x = next(self.it, None)
        return None if x is None else {self.name: x[None]}

    def rewind(self) -> None:  # pragma: no cover - older/newer ORT call it
        pass


def to_onnx(tflite: Path, onnx_path: Path) -> None:
    cmd = [sys.executable, "-m", "tf2onnx.convert", "--tflite", str(tflite), "--output", str(onnx_path),
           "--opset", "17"]
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="3")
    run = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if run.returncode != 0:
        raise RuntimeError(f"tf2onnx failed: {run.stderr[-2000:]}")


def ort_int8(onnx_path: Path, out: Path, calib: list[np.ndarray]) -> None:
    import onnx
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    pre = out.with_suffix(".pre.onnx")
    quant_pre_process(str(onnx_path), str(pre), skip_symbolic_shape=True)
    name = onnx.load(str(pre)).graph.input[0].name
    quantize_static(str(pre), str(out), _Reader(name, calib), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    calibrate_method=CalibrationMethod.MinMax,
                    extra_options={"CalibMaxIntermediateOutputs": 32})
    pre.unlink()


# -- route B: ai-edge-quantizer on the float .tflite ----------------------------------------------------


def aeq_int8(float32_tflite: bytes, calib: list[np.ndarray], input_name: str) -> bytes:
    from ai_edge_quantizer import quantizer, recipe

    q = quantizer.Quantizer(bytearray(float32_tflite))
    q.load_quantization_recipe(recipe.static_wi8_ai8())
    result = q.calibrate({"serving_default": [{input_name: x[None]} for x in calib]}, num_threads=1)
    return bytes(q.quantize(result).quantized_model)


# -- measurements ---------------------------------------------------------------------------------------


def interleaved_ms(runners: list[Runner], inputs: list[np.ndarray], reps: int) -> dict[str, float]:
    """Median ms per invoke; each round runs every variant once on the same input, in rotating order."""
    times: dict[str, list[float]] = {r.name: [] for r in runners}
    for r in runners:  # warm-up
        for x in inputs[:5]:
            r.run(x)
    for i in range(reps):
        x = inputs[i % len(inputs)]
        k = i % len(runners)
        for r in runners[k:] + runners[:k]:
            t = time.perf_counter()
            r.run(x)
            times[r.name].append((time.perf_counter() - t) * 1000.0)
    return {name: float(np.median(v)) for name, v in times.items()}


def landmark_fidelity(ref: Runner, cand: Runner, crops: list[np.ndarray], widths: list[float]) -> dict[str, float]:
    dist, pres_agree, hand_agree, dpres, dhand = [], 0, 0, [], []
    n_present = 0
    for x, width in zip(crops, widths):
        a, b = ref.run(x), cand.run(x)
        la, lb = a[0].reshape(21, 3), b[0].reshape(21, 3)
        d_px = np.hypot(la[:, 0] - lb[:, 0], la[:, 1] - lb[:, 1])  # crop pixels
        pa, pb = float(a[1].reshape(-1)[0]), float(b[1].reshape(-1)[0])
        ha, hb = float(a[2].reshape(-1)[0]), float(b[2].reshape(-1)[0])
        pres_agree += (pa > 0.5) == (pb > 0.5)
        dpres.append(abs(pa - pb))
        if pa > 0.5:
            n_present += 1
            dist.append(d_px / LM_SIZE * width * 100.0)
            hand_agree += (ha > 0.5) == (hb > 0.5)
            dhand.append(abs(ha - hb))
    d = np.concatenate(dist) if dist else np.zeros(0)
    return {"crops": len(crops), "crops_present": n_present,
            "median_pct": float(np.median(d)), "p95_pct": float(np.percentile(d, 95)),
            "presence_agreement": pres_agree / len(crops), "handedness_agreement": hand_agree / max(n_present, 1),
            "presence_absdiff_p95": float(np.percentile(dpres, 95)),
            "handedness_absdiff_p95": float(np.percentile(dhand, 95)) if dhand else float("nan")}


def palm_fidelity(ref: Runner, cand: Runner, frames: list[np.ndarray]) -> dict[str, float]:
    anchors = ssd_anchors(AnchorOptions(input_width=PALM_INPUT, input_height=PALM_INPUT))
    count_agree, any_agree, box_d, kp_d, logit_d = 0, 0, [], [], []
    for x in frames:
        pa, pb = [], []
        for runner, store in ((ref, pa), (cand, pb)):
            out = runner.run(x)
            boxes, scores = (out[0], out[1]) if out[0].shape[-1] == 18 else (out[1], out[0])
            store.append(weighted_nms(decode_palms(boxes, scores, anchors, 0.5, float(PALM_INPUT)), max_count=2))
            store.append(scores.reshape(-1))
        count_agree += len(pa[0]) == len(pb[0])
        any_agree += (len(pa[0]) > 0) == (len(pb[0]) > 0)
        top = np.argsort(-pa[1])[:20]  # the 20 highest-scoring anchors of the float model
        logit_d.append(np.abs(np.clip(pa[1][top], -100, 100) - np.clip(pb[1][top], -100, 100)))
        if len(pa[0]) and len(pb[0]):
            ca = (pa[0].boxes[0, :2] + pa[0].boxes[0, 2:]) / 2
            cb = (pb[0].boxes[0, :2] + pb[0].boxes[0, 2:]) / 2
            box_d.append(float(np.hypot(*(ca - cb))) * 100.0)  # % of the letterboxed side (= image width)
            kp_d.append(np.hypot(*(pa[0].keypoints[0] - pb[0].keypoints[0]).T) * 100.0)
    kp = np.concatenate(kp_d) if kp_d else np.zeros(1) * np.nan
    return {"frames": len(frames), "palm_count_agreement": count_agree / len(frames),
            "any_palm_agreement": any_agree / len(frames),
            "top_box_centre_median_pct": float(np.median(box_d)) if box_d else float("nan"),
            "top_keypoints_median_pct": float(np.median(kp)), "top_keypoints_p95_pct": float(np.percentile(kp, 95)),
            "top20_logit_absdiff_median": float(np.median(np.concatenate(logit_d)))}


def pipeline_parity(task: Path, videos: list[Path], palm: Runner | None, lm: Runner | None) -> dict[str, Any]:
    """Float LiteRT pipeline vs the same pipeline with the candidate models swapped in, frame by frame."""
    total = Tally()
    for video in videos:
        ref = LiteRTHands(task, threads=1)
        cand = LiteRTHands(task, threads=1)
        if palm is not None:
            cand._palm = PipelineModel(palm, [list(d["shape"]) for d in ref._palm.outputs])  # type: ignore
        if lm is not None:
            cand._hand = PipelineModel(lm, [list(d["shape"]) for d in ref._hand.outputs])  # type: ignore
        tally = Tally()
        for i, frame in enumerate(read_frames(video)):
            ts = int(i * 1000 / 30)
            t0 = time.perf_counter()
            c = cand.process(frame, ts)
            t1 = time.perf_counter()
            r = ref.process(frame, ts)
            t2 = time.perf_counter()
            tally.add(c, r, frame.shape[1] / frame.shape[0], (t1 - t0) * 1000, (t2 - t1) * 1000)
        total.merge(tally)
        ref.close()
    s = total.summary("all")
    return {k: s[k] for k in ("frames", "litert_frames_with_hand", "mediapipe_frames_with_hand", "found_agreement",
                              "same_slot_hands", "median_pct", "p95_pct", "matched_hands", "handedness_agreement",
                              "litert_ms", "mediapipe_ms")}


def graph_ops(path_or_bytes: Path | bytes) -> dict[str, int]:
    if isinstance(path_or_bytes, Path) and path_or_bytes.suffix == ".onnx":
        import onnx

        return dict(collections.Counter(n.op_type for n in onnx.load(str(path_or_bytes)).graph.node))
    from ai_edge_litert.interpreter import Interpreter

    content = path_or_bytes.read_bytes() if isinstance(path_or_bytes, Path) else path_or_bytes
    it = Interpreter(model_content=content)
    return dict(collections.Counter(d["op_name"] for d in it._get_ops_details()))


def ort_optimized_ops(path: Path) -> dict[str, int]:
    """The node types onnxruntime actually runs after its graph optimizations (QDQ groups fused to QLinear*)."""
    import onnx
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opt = path.with_suffix(".optimized.onnx")
    opts.optimized_model_filepath = str(opt)
    ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    ops = dict(collections.Counter(n.op_type for n in onnx.load(str(opt)).graph.node))
    opt.unlink()
    return ops


# -- main -----------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--task", type=Path, required=True)
    ap.add_argument("--videos", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--aeq-path", type=Path, default=None, help="directory holding ai_edge_quantizer (pip --target)")
    ap.add_argument("--calib-every", type=int, default=5, help="every n-th video (sorted by name) calibrates")
    ap.add_argument("--check-videos", type=int, default=0, help="at most this many check videos (0 = all)")
    ap.add_argument("--reps", type=int, default=300)
    ap.add_argument("--sizes", default="full,lite")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.aeq_path:
        sys.path.insert(0, str(args.aeq_path))
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    videos = sorted(args.videos.glob("*.mp4"))
    calib_v = [v for i, v in enumerate(videos) if i % args.calib_every == 0]
    check_v = [v for i, v in enumerate(videos) if i % args.calib_every != 0]
    if args.check_videos:
        check_v = check_v[:args.check_videos]
    tasks = {"full": args.task}
    lite = args.task.with_name(args.task.stem + "_lite.task")
    if lite.is_file():
        tasks["lite"] = lite
    report: dict[str, Any] = {"calibration_videos": [v.name for v in calib_v], "check_videos": [v.name for v in check_v],
                              "host": os.uname().machine, "models": {}}

    for size in args.sizes.split(","):
        task = tasks[size]
        log.info("%s: collecting inputs", size)
        cal = collect(task, calib_v, palm_every=3, crop_every=2)
        chk = collect(task, check_v, palm_every=6, crop_every=4)
        cal_palm, cal_crops = cal.palm[::max(1, len(cal.palm) // 200)], cal.crops[::max(1, len(cal.crops) // 300)]
        log.info("%s: calibration %d palm inputs, %d crops; check %d palm inputs, %d crops", size, len(cal_palm),
                 len(cal_crops), len(chk.palm), len(chk.crops))
        runners: dict[str, dict[str, Runner]] = {}
        with zipfile.ZipFile(task) as z:
            contents = {kind: z.read(name) for kind, name in KINDS.items()}
        for kind, content in contents.items():
            entry: dict[str, Any] = {}
            base = out / f"{size}_{kind}"
            f32 = base.with_suffix(".f32.tflite")
            f32.write_bytes(content)
            calib = cal_palm if kind == "palm" else cal_crops
            rs: dict[str, Runner] = {"f32-litert": LiteRTRunner("f32-litert", content)}
            entry["f32-litert"] = {"bytes": len(content), "ops": graph_ops(content), "sha256": sha(content)}

            # route A
            onnx_path = base.with_suffix(".f32.onnx")
            to_onnx(f32, onnx_path)
            q_path = base.with_suffix(".int8.onnx")
            shas = []
            for attempt in range(2):
                t = time.perf_counter()
                ort_int8(onnx_path, q_path, calib)
                shas.append(sha(q_path.read_bytes()))
                if attempt == 0:
                    build_s = time.perf_counter() - t
                    to_onnx(f32, onnx_path.with_suffix(".again.onnx"))
                    onnx_same = sha(onnx_path.read_bytes()) == sha(onnx_path.with_suffix(".again.onnx").read_bytes())
                    onnx_path.with_suffix(".again.onnx").unlink()
            rs["f32-ort"] = OrtRunner("f32-ort", onnx_path)
            rs["int8-ort"] = OrtRunner("int8-ort", q_path)
            entry["f32-ort"] = {"bytes": onnx_path.stat().st_size, "ops": graph_ops(onnx_path),
                                "reproducible": onnx_same}
            entry["int8-ort"] = {"bytes": q_path.stat().st_size, "ops": graph_ops(q_path),
                                 "ops_after_ort_optimization": ort_optimized_ops(q_path),
                                 "reproducible": shas[0] == shas[1], "sha256": shas[0], "build_s": round(build_s, 1)}

            # route B
            if args.aeq_path:
                try:
                    unfolded = unfold_fp16(content)
                    base.with_suffix(".f32u.tflite").write_bytes(unfolded)
                    rs["f32u-litert"] = LiteRTRunner("f32u-litert", unfolded)
                    entry["f32u-litert"] = {"bytes": len(unfolded), "ops": graph_ops(unfolded)}
                    name = "input_1"
                    shas = []
                    for attempt in range(2):
                        t = time.perf_counter()
                        q = aeq_int8(unfolded, calib, name)
                        shas.append(sha(q))
                        if attempt == 0:
                            build_s = time.perf_counter() - t
                    base.with_suffix(".int8.tflite").write_bytes(q)
                    rs["int8-aeq"] = LiteRTRunner("int8-aeq", q)
                    entry["int8-aeq"] = {"bytes": len(q), "ops": graph_ops(q), "reproducible": shas[0] == shas[1],
                                         "sha256": shas[0], "build_s": round(build_s, 1)}
                except Exception as err:  # a spike: note the failure and go on
                    log.exception("ai-edge-quantizer route failed for %s %s", size, kind)
                    entry["int8-aeq"] = {"error": f"{type(err).__name__}: {err}"[:500]}

            check = chk.palm if kind == "palm" else chk.crops
            entry["ms_per_invoke"] = interleaved_ms(list(rs.values()), check[:40], args.reps)
            fid = {}
            for name, r in rs.items():
                if name == "f32-litert":
                    continue
                if kind == "palm":
                    fid[name] = palm_fidelity(rs["f32-litert"], r, check)
                else:
                    fid[name] = landmark_fidelity(rs["f32-litert"], r, check, chk.crop_width)
            entry["fidelity_vs_f32"] = fid
            report["models"][f"{size}_{kind}"] = entry
            runners[kind] = rs
            log.info("%s %s: %s", size, kind, json.dumps(entry["ms_per_invoke"]))

        # whole pipeline: each int8 route with both models swapped in, and each model alone
        pipe = {}
        for route in ("int8-ort", "int8-aeq"):
            if route not in runners["palm"] or route not in runners["landmarks"]:
                continue
            pipe[f"{route} both"] = pipeline_parity(task, check_v, runners["palm"][route], runners["landmarks"][route])
            pipe[f"{route} landmarks only"] = pipeline_parity(task, check_v, None, runners["landmarks"][route])
            log.info("%s pipeline %s: %s", size, route, json.dumps(pipe[f"{route} both"]))
        report[f"{size}_pipeline"] = pipe
        (out / "report.json").write_text(json.dumps(report, indent=1, ensure_ascii=False))
    (out / "report.json").write_text(json.dumps(report, indent=1, ensure_ascii=False))
    print(json.dumps(report, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
