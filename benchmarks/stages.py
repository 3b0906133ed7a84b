"""The per-stage floor table: how close each hand model runs to this core's peak, and what that says about a Pi.

A latency on a laptop says little about a Raspberry Pi; a latency next to the
work it did and the core's own peak does. For every hand model that is there
(palm detector and landmark model of the full and lite bundles, at each
precision whose bundle exists, :func:`edge_runtime.landmarks.precision.bundle_path`)
this module

1. counts the model's operations from its graph (:func:`count_ops`, static
   shapes, the convention below), not from a quoted figure;
2. times one ``invoke`` at 1 thread (median over interleaved calls on the
   same inputs: crops of real frames when a video is given, else generated
   frames), giving the achieved GFLOP/s;
3. measures this core's peak in the same run, through the same runtime at 1
   thread: a large FULLY_CONNECTED probe in float32 and in int8
   (:func:`host_peak`), so efficiency = achieved / peak (int8 models against
   the int8 probe) is a ratio of two measurements on one machine in one run;
4. does the same for whole frames through ``LiteRTHands.process`` (tracking
   frames: landmark model only; detection frames: palm detector + landmark
   model), grouped by which models ran;
5. *estimates* each row on a Raspberry Pi 4 (Cortex-A72) and 5 (Cortex-A76):
   ops / (the core's published peak x this host's efficiency for that row).
   An estimate, never a measurement: run ``sign-bench`` on the Pi for that.

Operation convention (what one "FLOP" is here):

- CONV_2D, DEPTHWISE_CONV_2D, TRANSPOSE_CONV, FULLY_CONNECTED, BATCH_MATMUL:
  2 x multiply-accumulates (2*KH*KW*Cin/groups*Hout*Wout*Cout for a
  convolution; bias and fused activation not counted);
- elementwise ops (ADD, SUB, MUL, DIV, PRELU, LOGISTIC, TANH, RELU*, HARD_SWISH,
  ...) and RESIZE_*: 1 per output element;
- pooling: 1 per output element per window position (KH*KW);
- reductions (MEAN, SUM, REDUCE_MAX, ...): 1 per input element;
- everything else (QUANTIZE, DEQUANTIZE, RESHAPE, PAD, CONCATENATION, ...): 0,
  but listed with its count. int8 ops count the same way (as integer ops).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from edge_runtime.errors import ModelError, SignedgeError
from edge_runtime.landmarks.precision import PRECISIONS, existing_bundles
from edge_runtime.landmarks.task_file import read_task

log = logging.getLogger(__name__)

# ----------------------------------------------------------------------------------- published figures

# Per-core peaks, FLOPs (or int8 ops) per cycle = 128-bit pipes x lanes x 2 (a multiply-accumulate is 2 ops).
# Cortex-A72 (Raspberry Pi 4): Arm "Cortex-A72 Software Optimization Guide" (UAN 0016A, 2015; e.g.
#   https://dokumen.tips/documents/cortex-a72-software-optimization-guide.html), section 3: two FP/ASIMD pipes
#   (F0, F1); "ASIMD FP multiply accumulate, Q-form" (FMLA .4S) issues on F0/F1, throughput 2 per cycle:
#   2 x 4 lanes x 2 = 16 FP32 FLOP/cycle. int8: the A72 has no dot-product instruction; the widening integer
#   multiply-accumulate (SMLAL, 8 x 8-bit -> 16-bit lanes) issues on F0 only: 1 x 8 x 2 = 16 ops/cycle
#   (architectural derivation from that table, not a figure Arm quotes).
# Cortex-A76 (Raspberry Pi 5): Arm "Cortex-A76 Software Optimization Guide" (PJDOC-466751330-7215, 2019;
#   e.g. https://fdocuments.net/document/arm-cortex-a76-software-optimization-guide.html): two ASIMD pipes
#   (V0, V1), FMLA Q-form throughput 2 per cycle: 16 FP32 FLOP/cycle; SDOT (16 x int8 MACs per Q-form
#   instruction) throughput 2 per cycle on V0/V1 (also listed in NumKong's include/numkong/dot/neonsdot.h):
#   2 x 16 x 2 = 64 int8 ops/cycle.
# Clocks: Pi 4 1.5 GHz (boards from 2022 on: 1.8 GHz), Pi 5 2.4 GHz (raspberrypi.com product pages).


@dataclass(frozen=True)
class PiCore:
    """One Raspberry Pi core's published peak, for estimates."""

    board: str
    core: str
    ghz: float
    f32_per_cycle: int
    int8_per_cycle: int

    def peak_gflops(self, precision: str) -> float:
        return self.ghz * (self.int8_per_cycle if precision == "int8" else self.f32_per_cycle)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "f32_peak_gflops": self.peak_gflops("f32"),
                "int8_peak_gops": self.peak_gflops("int8")}


PI4 = PiCore("Raspberry Pi 4", "Cortex-A72", 1.5, 16, 16)
PI5 = PiCore("Raspberry Pi 5", "Cortex-A76", 2.4, 16, 64)
PI_CORES = (PI4, PI5)
# MediaPipe's gesture-recognizer sample on a Raspberry Pi 4: 5-9 fps, a MediaPipe maintainer's figure (quoted by
# the project's issue #18); the figure to set the estimates beside, not a target.
MEDIAPIPE_PI4_FPS = (5, 9)

# ------------------------------------------------------------------------------------------ op counting

_MAC_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV", "FULLY_CONNECTED", "BATCH_MATMUL"}
_ELEMENTWISE = {"ADD", "SUB", "MUL", "DIV", "PRELU", "LOGISTIC", "TANH", "RELU", "RELU6", "RELU_N1_TO_1",
                "LEAKY_RELU", "HARD_SWISH", "MAXIMUM", "MINIMUM", "SQUARED_DIFFERENCE", "RSQRT", "SQRT", "EXP",
                "ABS", "NEG", "SQUARE", "ELU", "GELU", "SOFTMAX", "LOG_SOFTMAX", "RESIZE_BILINEAR",
                "RESIZE_NEAREST_NEIGHBOR"}
_POOLING = {"MAX_POOL_2D", "AVERAGE_POOL_2D", "L2_POOL_2D"}
_REDUCTIONS = {"MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD"}
QUANT_OPS = ("QUANTIZE", "DEQUANTIZE")


@dataclass
class OpCount:
    """A model's operations, counted from its graph with the module's convention."""

    flops: int
    flops_by_op: dict[str, int]  # op type -> FLOPs (0 for the ops that count nothing)
    ops_by_type: dict[str, int]  # op type -> how many of them
    precision: str  # "int8" when a convolution / fully connected op computes on int8 tensors, else "f32"

    @property
    def quant_ops(self) -> int:
        return sum(self.ops_by_type.get(name, 0) for name in QUANT_OPS)

    @property
    def uncounted(self) -> list[str]:
        """Op types counted as 0 FLOPs (data movement, (de)quantization)."""
        return sorted(name for name, flops in self.flops_by_op.items() if flops == 0)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "quant_ops": self.quant_ops, "uncounted": self.uncounted}


def _schema() -> Any:
    try:
        from ai_edge_litert import schema_py_generated
    except ImportError as err:
        raise ModelError("counting a model's operations needs ai-edge-litert (pip install ai-edge-litert)") from err
    return schema_py_generated


def _size(shape: Iterable[int]) -> int:
    return int(np.prod([int(v) for v in shape], dtype=np.int64))


def _op_flops(name: str, op: Any, options: Any, shapes: list[list[int] | None],
              out_shapes: list[list[int] | None]) -> int:
    """FLOPs of one operator (module convention); 0 for the ops it does not count."""
    out = out_shapes[0] if out_shapes else None
    if out is None:
        return 0
    if name == "CONV_2D":  # filter [Cout, KH, KW, Cin / groups]
        _, kh, kw, cin = shapes[1]
        return 2 * _size(out) * kh * kw * cin
    if name == "DEPTHWISE_CONV_2D":  # filter [1, KH, KW, Cout]: one input channel per output channel
        _, kh, kw, _ = shapes[1]
        return 2 * _size(out) * kh * kw
    if name == "TRANSPOSE_CONV":  # inputs: output shape, filter [Cout, KH, KW, Cin], input
        cout, kh, kw, _ = shapes[1]
        return 2 * _size(shapes[2]) * kh * kw * cout
    if name == "FULLY_CONNECTED":  # weights [units, K]
        return 2 * _size(out) * shapes[1][-1]
    if name == "BATCH_MATMUL":  # K is the first input's last axis (or its second-to-last when adjoint)
        adj = bool(getattr(options, "adjX", False))
        return 2 * _size(out) * shapes[0][-2 if adj else -1]
    if name in _ELEMENTWISE:
        return _size(out)
    if name in _POOLING:
        return _size(out) * int(options.filterHeight) * int(options.filterWidth)
    if name in _REDUCTIONS:
        return _size(shapes[0])
    return 0


def count_ops(content: bytes) -> OpCount:
    """The operations of a ``.tflite`` model (bytes), counted from its graph (see the module's convention)."""
    schema = _schema()
    try:
        model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(content, 0))
    except Exception as err:  # flatbuffers raises anything on garbage
        raise ModelError(f"not a TFLite model ({type(err).__name__})") from err
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    int8 = {schema.TensorType.INT8, schema.TensorType.UINT8}
    flops_by_op: dict[str, int] = {}
    ops_by_type: dict[str, int] = {}
    precision = "f32"
    for graph in model.subgraphs or []:
        tensors = graph.tensors or []

        def shape(i: int) -> list[int] | None:
            return None if i < 0 or tensors[i].shape is None else [int(v) for v in tensors[i].shape]

        for op in graph.operators or []:
            code = model.operatorCodes[op.opcodeIndex]
            name = names.get(max(int(code.builtinCode), int(code.deprecatedBuiltinCode)), "CUSTOM")
            inputs = [int(i) for i in (op.inputs if op.inputs is not None else [])]
            outputs = [int(i) for i in (op.outputs if op.outputs is not None else [])]
            flops = _op_flops(name, op, op.builtinOptions, [shape(i) for i in inputs],
                              [shape(i) for i in outputs])
            flops_by_op[name] = flops_by_op.get(name, 0) + flops
            ops_by_type[name] = ops_by_type.get(name, 0) + 1
            if name in _MAC_OPS and inputs and tensors[inputs[0]].type in int8:
                precision = "int8"
    return OpCount(sum(flops_by_op.values()), flops_by_op, ops_by_type, precision)


# ------------------------------------------------------------------------------------------ host peak

PROBE_SHAPE = (196, 1024, 1024)  # M, K, N: a 14x14 feature map through a 1024 -> 1024 layer, ~0.4 GFLOP


def fc_model(m: int, k: int, n: int, int8: bool) -> bytes:
    """A one-op ``.tflite`` model, FULLY_CONNECTED [m, k] x [n, k]^T, float32 or int8 (weights and activations),
    written with the flatbuffer schema (no TensorFlow needed at bench time)."""
    schema = _schema()
    from ai_edge_litert.tools.flatbuffer_utils import convert_object_to_bytearray

    rng = np.random.default_rng(0)
    weights = (rng.integers(-127, 128, (n, k), dtype=np.int8) if int8
               else rng.standard_normal((n, k)).astype(np.float32))
    empty, data = schema.BufferT(), schema.BufferT()
    data.data = np.frombuffer(weights.tobytes(), np.uint8)

    def tensor(name: str, shape: tuple[int, int], buffer: int, scale: float) -> Any:
        t = schema.TensorT()
        t.name, t.shape, t.buffer = name, list(shape), buffer
        t.type = schema.TensorType.INT8 if int8 else schema.TensorType.FLOAT32
        if int8:
            t.quantization = schema.QuantizationParametersT()
            t.quantization.scale, t.quantization.zeroPoint = [scale], [0]
        return t

    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.FULLY_CONNECTED
    code.version = 1
    op = schema.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, [0, 1, -1], [2]
    op.builtinOptionsType = schema.BuiltinOptions.FullyConnectedOptions
    op.builtinOptions = schema.FullyConnectedOptionsT()
    graph = schema.SubGraphT()
    graph.tensors = [tensor("x", (m, k), 0, 0.02), tensor("w", (n, k), 1, 0.01), tensor("y", (m, n), 0, 0.5)]
    graph.inputs, graph.outputs, graph.operators = [0], [2], [op]
    model = schema.ModelT()
    model.version, model.operatorCodes, model.subgraphs, model.buffers = 3, [code], [graph], [empty, data]
    model.description = "signedge peak probe"
    return bytes(convert_object_to_bytearray(model))


@dataclass
class HostPeak:
    """This core's peak as measured in this run: a big FULLY_CONNECTED through the same runtime at 1 thread."""

    f32_gflops: float
    int8_gops: float
    method: str

    def basis(self, compute: str) -> float:
        """The peak a row's efficiency is measured against: int8 rows against the int8 probe, others f32."""
        return self.int8_gops if compute == "int8" else self.f32_gflops

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _probe(int8: bool, repeats: int) -> float:
    from edge_runtime.tflite import RawGraph

    m, k, n = PROBE_SHAPE
    graph = RawGraph(fc_model(m, k, n, int8), threads=1)
    graph.set_input(np.ones(graph.input_shape, graph.input_dtype))
    for _ in range(3):
        graph.invoke()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        graph.invoke()
        best = min(best, time.perf_counter() - start)
    return 2.0 * m * k * n / best / 1e9


def host_peak(repeats: int = 30) -> HostPeak:
    """The best GFLOP/s (and int8 GOP/s) of a float32 (int8) FULLY_CONNECTED probe at 1 thread.

    Through the TFLite runtime the hand models use (XNNPACK), so the peak is
    what that runtime's best kernel reaches on this core, not what another
    library's does. Best, not median: a peak is what the core can do, and
    noise from other work on a shared machine only ever slows a call down.
    """
    m, k, n = PROBE_SHAPE
    method = (f"TFLite FULLY_CONNECTED {m}x{k} by {k}x{n} (float32, and int8 weights + activations) through the "
              f"hand models' runtime at 1 thread, best of {repeats} invokes")
    return HostPeak(_probe(False, repeats), _probe(True, repeats), method)


# ------------------------------------------------------------------------------------------ frames

def generated_frames(count: int, width: int = 640, height: int = 480, seed: int = 0) -> list[np.ndarray]:
    """A deterministic BGR frame sequence with no hand in it: a drifting colour gradient plus noise.

    What the pipeline is timed on when no video is available: no hand is
    ever found, so the palm detector runs on every frame (the worst case of
    the palm path); the landmark model never runs.
    """
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    frames = []
    for i in range(count):
        phase = 2 * math.pi * i / max(count, 1)
        base = np.stack([(x / width) * 160 + 40 * math.sin(phase), (y / height) * 160 + 40 * math.cos(phase),
                         ((x + y) / (width + height)) * 120 + 60], axis=-1)
        noise = rng.normal(0.0, 12.0, size=(height, width, 3))
        frames.append(np.clip(base + noise + 20, 0, 255).astype(np.uint8))
    return frames


def video_frames(video: Path, count: int, width: int = 640) -> list[np.ndarray]:
    """The first ``count`` frames of ``video`` at ``width`` pixels wide (the live pipeline's size)."""
    from edge_runtime.capture import VideoFileSource

    frames = []
    with VideoFileSource(video, max_width=width) as source:
        for _, image in source:
            frames.append(image)
            if len(frames) >= count:
                break
    if not frames:
        raise SignedgeError(f"{video}: no frame could be read")
    return frames


# ------------------------------------------------------------------------------------------ measuring

@dataclass(frozen=True)
class HandBundle:
    """One bundle the table measures: which model set (full / lite), which precision, where."""

    model: str  # full | lite
    precision: str  # f32 | f16 | int8
    path: Path


def hand_bundles(full: Path | None, lite: Path | None) -> list[HandBundle]:
    """Every bundle there is: the float bundles given and, next to each, its derived precisions that exist."""
    out = []
    for model, path in (("full", full), ("lite", lite)):
        if path is None:
            continue
        out += [HandBundle(model, precision, candidate) for precision, candidate in existing_bundles(path)]
    return out


@dataclass
class Estimate:
    """A Pi's *estimated* ms and fps for one row: ops / (published peak x this host's efficiency)."""

    board: str
    ms: float
    fps: float


def _estimates(flops: int, efficiency: float, compute: str) -> list[Estimate]:
    """Per Pi core: ops / (its published peak for the row's compute precision x this host's efficiency).

    f16 bundles compute in float32 here (and on a Pi 4), so they use the f32
    peak; a Pi 5's float16 arithmetic could do better than estimated.
    """
    out = []
    for core in PI_CORES:
        if not (efficiency > 0 and flops > 0):
            out.append(Estimate(core.board, float("nan"), float("nan")))
            continue
        ms = flops / (core.peak_gflops(compute) * 1e9 * efficiency) * 1000.0
        out.append(Estimate(core.board, ms, 1000.0 / ms))
    return out


@dataclass
class StageRow:
    """One model of one bundle at 1 thread, or one kind of whole frame."""

    model: str  # full | lite
    precision: str  # the bundle's: f32 | f16 | int8
    stage: str  # palm | landmarks | a frame kind
    flops: int
    calls: int = 0  # timed invokes (stage rows) or frames (frame rows)
    p50_ms: float = float("nan")
    gflops: float = float("nan")  # achieved: flops / p50
    efficiency: float = float("nan")  # gflops / this host's measured peak for ``compute`` (f32 or int8 probe)
    estimates: list[Estimate] = field(default_factory=list)  # per Pi: an estimate, not a measurement
    source: str = ""  # what was timed: "video" frames, "generated" frames, or "sum of stages" (invokes only)
    ops: OpCount | None = None  # stage rows: the counted graph
    input: str = ""  # stage rows: the input tensor, e.g. "1x192x192x3 float32"
    compute: str = "f32"  # "int8" or "f32": what the convolutions compute in
    status: str = "ok"  # ok | failed
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def finish(self, peak: HostPeak) -> None:
        """Achieved GFLOP/s, efficiency and the Pi estimates from ``p50_ms`` and ``flops``."""
        if self.p50_ms > 0 and self.flops > 0:
            self.gflops = self.flops / (self.p50_ms / 1000.0) / 1e9
            self.efficiency = self.gflops / peak.basis(self.compute)
        self.estimates = _estimates(self.flops, self.efficiency, self.compute)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["estimates"] = {e.board: {"ms_estimate": e.ms, "fps_estimate": e.fps} for e in self.estimates}
        out["efficiency_basis"] = "host int8 probe" if self.compute == "int8" else "host float32 probe"
        return out


@dataclass
class StagesConfig:
    """What the floor table runs; ``sign-bench``'s flags mirror these fields."""

    bundles: list[HandBundle]
    video: Path | None = None  # None: generated frames
    calls: int = 50  # timed invokes per model
    warmup: int = 3
    frames: int = 60  # frames per bundle for the whole-frame rows
    progress: bool = False


@dataclass
class StagesReport:
    """The floor table: one row per model and per kind of frame, the host's peak, the Pi constants."""

    peak: HostPeak
    stages: list[StageRow]
    frames: list[StageRow]
    source: str  # where the inputs came from
    calls: int
    pi: list[dict[str, Any]] = field(default_factory=lambda: [c.to_dict() for c in PI_CORES])
    mediapipe_pi4_fps: tuple[int, int] = MEDIAPIPE_PI4_FPS

    def to_dict(self) -> dict[str, Any]:
        return {"peak": self.peak.to_dict(), "stages": [r.to_dict() for r in self.stages],
                "frames": [r.to_dict() for r in self.frames], "source": self.source, "calls": self.calls,
                "pi": self.pi, "mediapipe_pi4_fps": list(self.mediapipe_pi4_fps),
                "estimates_are": "estimates: ops / (published per-core peak x this host's measured efficiency)"}


class _Invoker:
    """One model's interpreter at 1 thread, fed a prepared input (float, or quantized with its scale/zero point)."""

    def __init__(self, content: bytes) -> None:
        from edge_runtime.tflite import RawGraph

        self.graph = RawGraph(content, threads=1)
        self.dtype, self.shape = self.graph.input_dtype, self.graph.input_shape
        self.scale, self.zero = self.graph.input_scale, self.graph.input_zero
        self.inputs: list[np.ndarray] = []

    @property
    def input_text(self) -> str:
        return f"{'x'.join(map(str, self.shape))} {self.dtype.name}"

    def prepare(self, frames: Sequence[np.ndarray]) -> None:
        """Each frame resized to the input, RGB in 0..1 (as LiteRTHands feeds it), quantized if the input is."""
        import cv2

        from edge_runtime.landmarks.litert import model_input
        from edge_runtime.model_file import TensorInfo, quantise

        if len(self.shape) != 4 or self.shape[3] != 3:
            raise ModelError(f"input is {self.shape}, expected [1, H, W, 3]")
        height, width = self.shape[1], self.shape[2]
        tensor = TensorInfo("input", self.shape, self.dtype.name, self.scale, self.zero)
        for frame in frames:
            x = model_input(cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA))
            if self.dtype != np.float32:
                if not self.scale:
                    raise ModelError(f"input is {self.dtype.name} without quantization parameters")
                x = quantise(x, tensor)
            self.inputs.append(np.ascontiguousarray(x, dtype=self.dtype))

    def __call__(self, i: int) -> float:
        """One timed invoke on input ``i`` (cycled), in ms."""
        self.graph.set_input(self.inputs[i % len(self.inputs)])
        start = time.perf_counter()
        self.graph.invoke()
        return (time.perf_counter() - start) * 1000.0


def _interleaved(calls: dict[str, Callable[[int], float]], n: int, warmup: int,
                 progress: Any = None) -> dict[str, list[float]]:
    """``n`` timed calls of each, in turns (call by call, rotating who goes first), after ``warmup`` untimed turns.

    Interleaving spreads a shared machine's noise over every row alike.
    """
    names = list(calls)
    times: dict[str, list[float]] = {name: [] for name in names}
    for i in range(warmup + n):
        shift = i % len(names) if names else 0
        for name in names[shift:] + names[:shift]:
            ms = calls[name](i)
            if i >= warmup:
                times[name].append(ms)
        if progress is not None:
            progress.update(1)
    return times


def _stage_rows(config: StagesConfig, frames: list[np.ndarray], source: str,
                bar: Any) -> tuple[list[StageRow], dict[tuple[str, str, str], OpCount]]:
    """Every model of every bundle: counted, loaded at 1 thread, timed interleaved."""
    rows: list[StageRow] = []
    invokers: dict[str, _Invoker] = {}
    counts: dict[tuple[str, str, str], OpCount] = {}
    for bundle in config.bundles:
        models = read_task(bundle.path)
        for stage, content in (("palm", models.detector), ("landmarks", models.landmarker)):
            count = count_ops(content)
            counts[(bundle.model, bundle.precision, stage)] = count
            row = StageRow(bundle.model, bundle.precision, stage, count.flops, ops=count, compute=count.precision,
                           source=source)
            try:
                invoker = _Invoker(content)
                invoker.prepare(frames)
            except ModelError as err:
                row.status, row.note = "failed", str(err)
            else:
                row.input = invoker.input_text
                invokers[str(len(rows))] = invoker
            rows.append(row)
    times = _interleaved(dict(invokers), config.calls, config.warmup, bar)
    for key, values in times.items():
        row = rows[int(key)]
        row.calls, row.p50_ms = len(values), float(np.median(values))
    return rows, counts


def _frame_label(palm: bool, hands: int) -> str:
    if palm:
        return f"frame: palm + {hands}x landmarks" if hands else "frame: palm only (no hand found)"
    return f"frame: tracking, {hands}x landmarks (no palm)"


def _frame_rows(config: StagesConfig, frames: list[np.ndarray], source: str,
                counts: dict[tuple[str, str, str], OpCount], bar: Any) -> list[StageRow]:
    """Whole frames through ``LiteRTHands.process`` at 1 thread, every bundle frame by frame in turn, grouped by
    which models ran (palm or not, how many landmark invokes)."""
    from edge_runtime.landmarks.litert import LiteRTHands

    backends: dict[HandBundle, Any] = {}
    failed: list[StageRow] = []
    for bundle in config.bundles:
        try:
            hands = LiteRTHands(bundle.path, threads=1)
        except SignedgeError as err:
            failed.append(StageRow(bundle.model, bundle.precision, "frame", 0, status="failed", note=str(err),
                                   source=source))
            continue
        backends[bundle] = hands
    kinds: dict[tuple[HandBundle, bool, int], list[float]] = {}
    try:
        for i, frame in enumerate(frames):
            for bundle, hands in backends.items():
                palm_before, lm_before = hands.palm_runs, hands.landmark_runs
                start = time.perf_counter()
                hands.process(frame, i * 33)
                ms = (time.perf_counter() - start) * 1000.0
                if i == 0:
                    continue  # the interpreters' warm-up
                kind = (bundle, hands.palm_runs > palm_before, hands.landmark_runs - lm_before)
                kinds.setdefault(kind, []).append(ms)
            if bar is not None:
                bar.update(1)
    finally:
        for hands in backends.values():
            hands.close()
    rows = list(failed)
    for (bundle, palm, lm_runs), values in sorted(kinds.items(), key=lambda kv: (kv[0][0].model,
                                                                                  PRECISIONS.index(kv[0][0].precision),
                                                                                  not kv[0][1], kv[0][2])):
        palm_count = counts[(bundle.model, bundle.precision, "palm")]
        lm_count = counts[(bundle.model, bundle.precision, "landmarks")]
        flops = (palm_count.flops if palm else 0) + lm_runs * lm_count.flops
        compute = "int8" if "int8" in {palm_count.precision, lm_count.precision} else "f32"
        rows.append(StageRow(bundle.model, bundle.precision, _frame_label(palm, lm_runs), flops, calls=len(values),
                             p50_ms=float(np.median(values)), source=source, compute=compute))
    return rows


def _summed_rows(stages: list[StageRow], frames: list[StageRow]) -> list[StageRow]:
    """The two frame kinds of the issue (tracking: landmarks x1; detection: palm + landmarks x1) as sums of the
    stage rows, for every bundle whose frames did not show that kind (e.g. generated frames never track)."""
    seen = {(r.model, r.precision, r.stage) for r in frames}
    by_key = {(r.model, r.precision, r.stage): r for r in stages}
    out = []
    for model, precision, _ in sorted({(r.model, r.precision, "") for r in stages},
                                      key=lambda k: (k[0], PRECISIONS.index(k[1]))):
        palm, lm = by_key.get((model, precision, "palm")), by_key.get((model, precision, "landmarks"))
        if palm is None or lm is None or not (palm.ok and lm.ok):
            continue
        for label, parts in ((_frame_label(False, 1), [lm]), (_frame_label(True, 1), [palm, lm])):
            if (model, precision, label) in seen:
                continue
            compute = "int8" if any(p.compute == "int8" for p in parts) else "f32"
            out.append(StageRow(model, precision, label, sum(p.flops for p in parts), calls=min(p.calls for p in parts),
                                p50_ms=sum(p.p50_ms for p in parts), source="sum of stages",
                                compute=compute))
    return out


def measure_stages(config: StagesConfig) -> StagesReport:
    """The floor table: host peak, every model's counted ops and 1-thread time, whole frames, Pi estimates."""
    from tqdm import tqdm

    if not config.bundles:
        raise SignedgeError("no hand model bundle to measure")
    if config.calls < 1 or config.frames < 2:
        raise SignedgeError("the stage table needs at least 1 timed call and 2 frames")
    if config.video is not None:
        frames = video_frames(config.video, config.frames)
        source = f"video frames ({config.video.name}, 640 px wide)"
    else:
        frames = generated_frames(config.frames)
        source = "generated frames (no hand: palm detector every frame, worst case)"
    peak = host_peak()
    with tqdm(total=config.warmup + config.calls + len(frames), desc="stages", unit="turn",
              disable=not config.progress, leave=False) as bar:
        kind = "video" if config.video is not None else "generated"  # the rows' short source; ``source`` says more
        stages, counts = _stage_rows(config, frames, kind, bar)
        frame_rows = _frame_rows(config, frames, kind, counts, bar)
    frame_rows += _summed_rows(stages, frame_rows)
    for row in stages + frame_rows:
        row.finish(peak)
    return StagesReport(peak, stages, frame_rows, source, config.calls)
