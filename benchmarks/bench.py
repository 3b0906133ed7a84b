"""Timers and the classifier table: every exported format against the trained Keras model, side by side.

What one row measures, and why it is measured that way:

- The same held-out sequences for every row: the run's test split (model card),
  turned into features by ``host.features.load_features`` (the one feature spec).
- Exported files run through the device's own object,
  ``edge_runtime.classifier.load_classifier(path, threads).predict(features)``,
  so a latency includes what the device pays per sign (input quantisation,
  output renormalisation), not just the interpreter's ``invoke``.
- The Keras model twice, both at batch 1 like the device: ``model.predict``
  (what most scripts call, and what most of its time is: Python and
  ``tf.data`` overhead) and a ``tf.function`` over ``model(x, training=False)``
  traced once for ``[1, T, F]`` (graph mode, no XLA). Speed-ups are relative to
  the ``tf.function`` call, so nobody is fooled by ``predict``'s overhead.
- Every (row, thread count) runs in its own fresh Python process that imports
  only what that row needs (LiteRT, onnxruntime or TensorFlow). It reports its
  load time (for ``tf.function``: loading plus the first call, which traces),
  its peak resident memory (Linux ``VmHWM``: what the whole process needed,
  runtime included, as on a device) and the part of it added by loading and
  running the model (peak minus the resident size just before loading).
- Latency: after one untimed pass over the sequences (which gives accuracy)
  and ``warmup`` untimed calls, ``calls`` timed calls cycle over the
  sequences; p50 and p95 are over those calls.
- Open set (an exported file with an embedding output, i.e. a cosine head):
  what the device adds to the interpreter for it, measured in the same
  process, interleaved call by call so that the machine's noise hits both
  alike: (a) ``runner.run`` (invoke, read the probabilities) against (b)
  ``Classifier.score`` with the model's own prototypes plus
  ``OPENSET_ENROLLED`` words enrolled in memory (random unit prototypes: the
  cost depends on how many there are, not on what they are). ``open-set ms``
  is the median of the per-pair differences (b - a).

Formats whose files are missing are reported as missing, not exported here:
exporting needs the TensorFlow converter, which a device does not have, and
the benchmark measures the files a device would receive.

``python -m benchmarks.bench JOB.json`` is the worker entry point (internal).
"""

from __future__ import annotations

import json
import logging
import math
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from benchmarks.machine import current_rss_mb, peak_rss_mb
from edge_runtime.errors import DatasetError, ModelError, SignedgeError
from edge_runtime.files import sha256_file
from edge_runtime.spec import FeatureSpec
from host.run_folder import CARD_FILE, LABELS_FILE, ModelCard, RunFolder

if TYPE_CHECKING:
    from edge_runtime.classifier import Classifier
    from edge_runtime.prototypes import PrototypeStore

log = logging.getLogger(__name__)

KERAS_PREDICT = "keras predict"
KERAS_FUNCTION = "keras tf.function"
WORKER_TIMEOUT_S = 900.0
OPENSET_ENROLLED = 20  # words a user enrolled on the device, on top of the trained ones, for the open-set timing


# ----------------------------------------------------------------------------------------------- timers

@dataclass
class Timing:
    """Milliseconds of repeated calls; the summary figures every table shows."""

    samples_ms: list[float]

    @property
    def n(self) -> int:
        return len(self.samples_ms)

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.samples_ms, q)) if self.samples_ms else float("nan")

    @property
    def p50(self) -> float:
        return self.percentile(50)

    @property
    def p95(self) -> float:
        return self.percentile(95)

    @property
    def mean(self) -> float:
        return float(np.mean(self.samples_ms)) if self.samples_ms else float("nan")

    def summary(self) -> dict[str, float]:
        return {"n": self.n, "p50_ms": self.p50, "p95_ms": self.p95, "mean_ms": self.mean,
                "min_ms": float(min(self.samples_ms)) if self.samples_ms else float("nan")}


def time_calls(fn: Callable[[np.ndarray], Any], inputs: Sequence[np.ndarray], calls: int, warmup: int) -> Timing:
    """Time ``calls`` calls of ``fn`` cycling over ``inputs``, after ``warmup`` untimed calls.

    The warm-up calls are excluded because the first invokes allocate and pack
    weights, which a running device pays once, not per sign.
    """
    if not len(inputs):
        raise ValueError("no inputs to time")
    for i in range(warmup):
        fn(inputs[i % len(inputs)])
    samples = []
    for i in range(calls):
        x = inputs[i % len(inputs)]
        start = time.perf_counter()
        fn(x)
        samples.append((time.perf_counter() - start) * 1000.0)
    return Timing(samples)


def time_interleaved(fns: Sequence[Callable[[np.ndarray], Any]], inputs: Sequence[np.ndarray], calls: int,
                     warmup: int) -> list[Timing]:
    """``calls`` timed calls of every function in ``fns`` on the same input each round; one Timing per function.

    Interleaved, and each round starts with the next function in turn, because
    the machine is shared: a slow spell or a frequency change then hits every
    variant alike, and their difference (:func:`paired_difference`) is measured
    rather than the drift between two separate runs.
    """
    if not len(inputs) or not fns:
        raise ValueError("no inputs or functions to time")
    for i in range(warmup):
        for fn in fns:
            fn(inputs[i % len(inputs)])
    samples: list[list[float]] = [[] for _ in fns]
    for i in range(calls):
        x = inputs[i % len(inputs)]
        for k in range(len(fns)):
            j = (i + k) % len(fns)
            start = time.perf_counter()
            fns[j](x)
            samples[j].append((time.perf_counter() - start) * 1000.0)
    return [Timing(s) for s in samples]


def paired_difference(base: Timing, other: Timing) -> float:
    """Median over rounds of ``other - base`` (ms), for two Timings from one :func:`time_interleaved` run.

    The median of the differences, not the difference of the medians: each pair
    shares its moment on the machine, so what the pair has in common cancels.
    """
    if base.n != other.n or not base.n:
        raise ValueError(f"paired timings need the same number of calls, got {base.n} and {other.n}")
    return float(np.median(np.subtract(other.samples_ms, base.samples_ms)))


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Unweighted mean F1 over the classes that occur in the truth or the predictions (scikit-learn's rule).

    Computed here so the benchmark also runs on a device without scikit-learn.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if not y_true.size:
        return float("nan")
    scores = []
    for c in np.union1d(y_true, y_pred):
        tp = float(np.sum((y_true == c) & (y_pred == c)))
        fp = float(np.sum((y_true != c) & (y_pred == c)))
        fn = float(np.sum((y_true == c) & (y_pred != c)))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return float(np.mean(scores))


# ------------------------------------------------------------------------------------------- the run

@dataclass
class BenchRun:
    """What the benchmark needs from a run folder, read without loading TensorFlow."""

    folder: RunFolder
    labels: list[str]
    card: ModelCard
    spec: FeatureSpec
    dataset: Path
    test_files: list[str]

    @property
    def model_path(self) -> Path:
        return self.folder.model_path

    @property
    def measured_on(self) -> str:
        return self.card.measured_on or f"held-out test split of the run: {len(self.test_files)} recordings"


def read_run(folder: str | Path, dataset: str | Path | None = None) -> BenchRun:
    """The run's labels, card, spec, dataset and test split; every problem is one ``SignedgeError`` line."""
    run = RunFolder(folder)
    run.check_exists()
    card = run.card()
    test = card.split("test")
    if not test:
        raise DatasetError(f"{run.file(CARD_FILE)}: the test split is empty; there is nothing held out to measure on")
    return BenchRun(run, run.labels(), card, card.spec, run.dataset(card, dataset), test)


# ----------------------------------------------------------------------------------------------- rows

@dataclass(frozen=True)
class RowSpec:
    """One row of the classifier table: what runs, from which file, in which runtime."""

    name: str
    kind: str  # keras-predict | keras-function | classifier
    path: Path
    runtime: str  # tensorflow | litert | onnxruntime
    quantisation: str = "none"


def row_specs(run: BenchRun, export_dir: Path) -> list[RowSpec]:
    """The two Keras rows, then one row per ``export.formats.FORMATS`` entry, in table order."""
    from export.formats import FORMATS

    rows = [RowSpec(KERAS_PREDICT, "keras-predict", run.model_path, "tensorflow"),
            RowSpec(KERAS_FUNCTION, "keras-function", run.model_path, "tensorflow")]
    rows += [RowSpec(f.name, "classifier", export_dir / f.filename, f.runtime, f.quantisation) for f in FORMATS]
    return rows


@dataclass
class ClassifierRow:
    """A measured row: quality on the held-out split, size, load, memory and latency per thread count."""

    name: str
    file: str
    runtime: str
    quantisation: str
    status: str = "ok"  # ok | missing | failed | unavailable
    note: str = ""
    size_bytes: int = 0
    n: int = 0
    accuracy: float = float("nan")
    macro_f1: float = float("nan")
    agreement: float = float("nan")  # share of sequences whose argmax equals the Keras model.predict one
    max_abs_diff: float = float("nan")  # max |p - p_keras| over sequences and classes
    # Where this format's class differs from Keras's: Keras's own top-1 minus top-2 probability on that sequence
    # (a near-tie flips under any rounding; a wide margin that flips is a real quantisation error).
    disagreement_margins: list[float] = field(default_factory=list)
    load_ms: float = float("nan")  # at the first thread count (each thread count: JSON ``runs``)
    peak_rss_mb: float = float("nan")
    model_rss_mb: float = float("nan")
    latency: dict[int, dict[str, float]] = field(default_factory=dict)  # threads -> Timing.summary()
    speedup: dict[int, float] = field(default_factory=dict)  # threads -> keras tf.function p50 / this p50
    runs: dict[int, dict[str, float]] = field(default_factory=dict)  # threads -> load_ms, peak/model RSS
    # threads -> open_set_timing(): run vs score p50 and their difference; empty for a file without an embedding
    openset: dict[int, dict[str, float]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("latency", "speedup", "runs", "openset"):
            data[key] = {str(k): v for k, v in data[key].items()}
        return data


@dataclass
class ClassifierConfig:
    """What the classifier table measures; ``sign-bench``'s flags mirror these fields."""

    run_dir: Path
    threads: list[int] = field(default_factory=lambda: [1])
    calls: int = 100  # timed calls per row and thread count
    warmup: int = 10
    export_dir: Path | None = None  # default: RUN_DIR/export
    dataset: Path | None = None
    progress: bool = False

    def __post_init__(self) -> None:
        self.run_dir = Path(self.run_dir)
        self.export_dir = Path(self.export_dir) if self.export_dir is not None else RunFolder(self.run_dir).export_dir
        if not self.threads or any(t < 1 for t in self.threads):
            raise SignedgeError(f"--threads must be positive whole numbers, got {self.threads}")
        if self.calls < 1:
            raise SignedgeError(f"--repeats must be at least 1, got {self.calls}")
        if self.warmup < 0:
            raise SignedgeError(f"--warmup must be 0 or more, got {self.warmup}")


@dataclass
class ClassifierReport:
    run: str
    export_dir: str
    measured_on: str
    n: int
    labels: list[str]
    threads: list[int]
    calls: int
    warmup: int
    rows: list[ClassifierRow]
    model: str = ""  # the run's architecture (model card): which model-family row its head cost is read from

    def row(self, name: str) -> ClassifierRow | None:
        return next((r for r in self.rows if r.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if k != "rows"}
        data["rows"] = [r.to_dict() for r in self.rows]
        return data


# -------------------------------------------------------------------------------------- the processes

def _worker_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter is not a result
    env.setdefault("PYTHONHASHSEED", "0")
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def run_worker(job: dict[str, Any], folder: Path) -> dict[str, Any]:
    """Run one measurement in a fresh Python process; its result, or ``{"status": "failed", "error": ...}``."""
    job_path = folder / f"job-{job['name'].replace(' ', '_')}-{job['threads']}.json"
    out = job_path.with_suffix(".out.json")
    job = {**job, "out": str(out)}
    job_path.write_text(json.dumps(job), encoding="utf-8")
    try:
        done = subprocess.run([sys.executable, "-m", "benchmarks.bench", str(job_path)], check=False,
                              capture_output=True, text=True, env=_worker_env(), timeout=WORKER_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return {"status": "failed", "error": f"did not finish within {WORKER_TIMEOUT_S:g} s"}
    if out.is_file():
        return json.loads(out.read_text(encoding="utf-8"))
    lines = [line for line in (done.stderr or "").strip().splitlines() if line.strip()]
    return {"status": "failed", "error": f"worker exited with status {done.returncode}"
                                         + (f": {lines[-1][:300]}" if lines else "")}


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0][:300] if text else type(err).__name__


@dataclass
class _Loaded:
    """A model loaded in the worker: the per-sequence call and what loading it cost."""

    call: Callable[[np.ndarray], np.ndarray]
    load_ms: float
    runtime: str
    rss_before_load_mb: float
    classifier: Any = None  # the device Classifier, for exported files


def _load_keras(job: dict[str, Any], spec: FeatureSpec) -> _Loaded:
    """The Keras model in this (fresh) process, with TensorFlow limited to the job's thread count."""
    try:
        import tensorflow as tf
    except ImportError as err:
        raise ModuleNotFoundError(f"tensorflow is not installed ({err})") from err
    tf.config.threading.set_intra_op_parallelism_threads(int(job["threads"]))
    tf.config.threading.set_inter_op_parallelism_threads(1)
    before = current_rss_mb()
    start = time.perf_counter()
    model = RunFolder(Path(job["path"]).parent).load_model()
    if job["kind"] == "keras-predict":
        def call(x: np.ndarray) -> np.ndarray:
            return np.asarray(model.predict(x[None], verbose=0))[0]
    else:
        signature = [tf.TensorSpec([1, spec.frames, spec.num_features], tf.float32)]
        graph = tf.function(lambda x: model(x, training=False), input_signature=signature)

        def call(x: np.ndarray) -> np.ndarray:
            return graph(x[None]).numpy()[0]

        call(np.zeros((spec.frames, spec.num_features), np.float32))  # traces: part of loading, as a device pays it
    return _Loaded(call, (time.perf_counter() - start) * 1000.0, f"tensorflow {tf.__version__}", before)


def _load_exported(job: dict[str, Any], spec: FeatureSpec) -> _Loaded:
    """The exported file through the device's ``load_classifier``, its runtime imported first."""
    from edge_runtime.classifier import load_classifier
    from edge_runtime.tflite import runtime_name

    if job["path"].endswith(".onnx"):
        import onnxruntime  # noqa: F401  the runtime's import is not the model's memory
    else:
        try:
            runtime_name()
        except ModelError as err:  # no TFLite runtime on this machine: the row cannot exist here
            raise ModuleNotFoundError(str(err)) from err
    before = current_rss_mb()
    start = time.perf_counter()
    clf = load_classifier(job["path"], threads=int(job["threads"]), expected_spec=spec)
    return _Loaded(clf.predict, (time.perf_counter() - start) * 1000.0, clf.runtime, before, clf)


def worker(job: dict[str, Any]) -> dict[str, Any]:
    """Measure one row at one thread count in this process (see the module docstring)."""
    spec = FeatureSpec.from_dict(job["spec"])
    X = np.load(job["features"], allow_pickle=False)
    try:
        loaded = _load_keras(job, spec) if job["kind"].startswith("keras") else _load_exported(job, spec)
    except ModuleNotFoundError as err:
        return {"status": "unavailable", "error": _first_line(err)}
    except Exception as err:  # loaders raise ModelError, ValueError, OSError...: the row says which
        return {"status": "failed", "error": _first_line(err)}
    try:
        probs = np.stack([np.asarray(loaded.call(x), np.float32).reshape(-1) for x in X])
        timing = time_calls(loaded.call, list(X), int(job["calls"]), int(job["warmup"]))
        invoke = openset = None
        if loaded.classifier is not None:  # the interpreter's own invoke, without predict()'s work around it
            invoke = Timing([_invoke_ms(loaded.classifier, X[i % len(X)]) for i in range(int(job["calls"]))])
            # last: it enrolls words, which changes the classifier's labels
            openset = open_set_timing(loaded.classifier, list(X), int(job["calls"]), int(job["warmup"]))
    except Exception as err:  # a model that loads but fails on real input
        return {"status": "failed", "error": _first_line(err)}
    peak, before = peak_rss_mb(), loaded.rss_before_load_mb
    return {"status": "ok", "runtime": loaded.runtime, "load_ms": loaded.load_ms, "probabilities": probs.tolist(),
            "timing": timing.summary(), "invoke": invoke.summary() if invoke else None, "openset": openset,
            "peak_rss_mb": peak,
            "model_rss_mb": max(0.0, peak - before) if math.isfinite(before) and math.isfinite(peak) else None}


def enrolled_store(clf: Classifier, words: int = OPENSET_ENROLLED, seed: int = 0) -> PrototypeStore:
    """``words`` enrolled words with random unit examples, for this model file, in memory only.

    Random prototypes cost what real ones do (one row each in the cosine
    table); nothing is written beside the model, so a user's own enrolled
    words are never touched.
    """
    from edge_runtime.prototypes import PrototypeStore

    assert clf.openset is not None, "only a file with an embedding output has prototypes"
    rng = np.random.default_rng(seed)
    store = PrototypeStore.empty(sha256_file(clf.path), clf.openset.dim, clf.info.labels)
    for i in range(words):
        store = store.add(f"word{i}", rng.normal(size=(3, clf.openset.dim)))
    return store


def open_set_timing(clf: Classifier, inputs: Sequence[np.ndarray], calls: int, warmup: int,
                    words: int = OPENSET_ENROLLED) -> dict[str, float] | None:
    """What the device adds for the open set, per sign; None for a file without an embedding output.

    (a) ``runner.run``: invoke and read the probabilities, all a dense model
    needs; (b) ``Classifier.score`` with the trained prototypes plus ``words``
    enrolled ones: the same invoke, then the embedding's cosine to every
    prototype and their softmax. Timed interleaved (:func:`time_interleaved`);
    ``openset_ms`` is the median per-pair difference (b - a).
    """
    if clf.openset is None:
        return None
    clf.enroll(enrolled_store(clf, words))
    run, score = time_interleaved([lambda x: clf.runner.run(x[None]), clf.score], inputs, calls, warmup)
    return {"n": run.n, "prototypes": len(clf.labels), "enrolled": len(clf.enrolled), "run_p50_ms": run.p50,
            "score_p50_ms": score.p50, "openset_ms": paired_difference(run, score)}


def _invoke_ms(clf: Any, x: np.ndarray) -> float:
    clf.predict(x)
    return float(clf.last_invoke_ms)


def _worker_main(argv: Sequence[str]) -> int:
    job = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    logging.basicConfig(level=logging.WARNING)
    result = worker(job)
    Path(job["out"]).write_text(json.dumps(result, allow_nan=True), encoding="utf-8")
    return 0


# ------------------------------------------------------------------------------------------ the table

def _stale_note(spec: RowSpec, run: BenchRun, model_sha: str) -> str | None:
    """Why an exported file does not belong to this run (other labels, another model.keras), else None."""
    from edge_runtime.model_info import read_model_info

    try:
        info = read_model_info(spec.path)
    except SignedgeError as err:
        return str(err)
    if info.labels != run.labels:
        return f"{spec.path.name}: its description lists other labels than {LABELS_FILE}: exported from another run"
    if info.source_model_sha256 and info.source_model_sha256 != model_sha:
        return "exported from an older model.keras (sha256 differs): re-run export-tflite"
    return None


def _quality(row: ClassifierRow, probs: np.ndarray, y: np.ndarray, reference: np.ndarray | None) -> None:
    pred = probs.argmax(1)
    row.n = len(y)
    row.accuracy = float(np.mean(pred == y))
    row.macro_f1 = macro_f1(y, pred)
    if reference is not None and reference.shape == probs.shape:
        row.agreement = float(np.mean(pred == reference.argmax(1)))
        row.max_abs_diff = float(np.abs(probs - reference).max())
        top2 = np.sort(reference, axis=1)[:, -2:]
        row.disagreement_margins = [round(float(top2[i, 1] - top2[i, 0]), 4)
                                    for i in np.flatnonzero(pred != reference.argmax(1))]


def _measure_row(spec: RowSpec, run: BenchRun, config: ClassifierConfig, features: Path, tmp: Path,
                 model_sha: str, bar: Any) -> tuple[ClassifierRow, np.ndarray | None]:
    """One row at every thread count (a fresh process each); the row and its held-out probabilities."""
    row = ClassifierRow(spec.name, spec.path.name, spec.runtime, spec.quantisation)
    if not spec.path.is_file():
        row.status = "missing"
        row.note = f"no {spec.path.name} in {spec.path.parent}: run export-tflite {run.folder}"
        bar.update(len(config.threads))
        return row, None
    row.size_bytes = spec.path.stat().st_size
    stale = _stale_note(spec, run, model_sha) if spec.kind == "classifier" else None
    if stale:
        row.note = stale
        log.warning("%s: %s", spec.name, stale)
    probs = None
    for threads in config.threads:
        bar.set_postfix_str(f"{spec.name} x{threads}")
        result = run_worker({"name": spec.name, "kind": spec.kind, "path": str(spec.path), "threads": threads,
                             "features": str(features), "spec": run.spec.to_dict(), "calls": config.calls,
                             "warmup": config.warmup}, tmp)
        bar.update(1)
        if result["status"] != "ok":
            row.status, row.note = result["status"], result.get("error", "")
            log.warning("%s (%d thread(s)): %s", spec.name, threads, row.note)
            bar.update(len(config.threads) - config.threads.index(threads) - 1)
            return row, None
        invoke = {"invoke_p50_ms": result["invoke"]["p50_ms"]} if result["invoke"] else {}
        row.latency[threads] = {**result["timing"], **invoke}
        if result.get("openset"):
            row.openset[threads] = result["openset"]
        row.runs[threads] = {"load_ms": result["load_ms"], "peak_rss_mb": result["peak_rss_mb"],
                             "model_rss_mb": result["model_rss_mb"], "runtime": result["runtime"]}
        if probs is None:  # the same file gives the same answers at any thread count: the first run's are kept
            probs = np.asarray(result["probabilities"], np.float32)
    first = row.runs[config.threads[0]]
    row.load_ms, row.peak_rss_mb = first["load_ms"], first["peak_rss_mb"]
    row.model_rss_mb = float("nan") if first["model_rss_mb"] is None else first["model_rss_mb"]
    return row, probs


def measure_classifiers(config: ClassifierConfig) -> ClassifierReport:
    """The classifier table: every row at every thread count, each in a fresh process, one at a time."""
    from tqdm import tqdm

    from host.features import load_features

    run = read_run(config.run_dir, config.dataset)
    X, y = load_features(run.dataset, run.test_files, run.spec, run.labels, progress=config.progress)
    model_sha = sha256_file(run.model_path)
    assert config.export_dir is not None
    specs = row_specs(run, config.export_dir)
    rows: list[ClassifierRow] = []
    probabilities: dict[str, np.ndarray] = {}
    bar = tqdm(total=len(specs) * len(config.threads), desc="classifier rows", unit="run",
               disable=not config.progress, leave=False)
    with tempfile.TemporaryDirectory(prefix="signedge-bench-") as tmp:
        features = Path(tmp) / "features.npy"
        np.save(features, X, allow_pickle=False)
        for spec in specs:
            row, probs = _measure_row(spec, run, config, features, Path(tmp), model_sha, bar)
            rows.append(row)
            if probs is not None:
                probabilities[row.name] = probs
    bar.close()
    reference = probabilities.get(KERAS_PREDICT)
    baseline = next((r for r in rows if r.name == KERAS_FUNCTION and r.ok), None)
    for row in rows:
        if row.name in probabilities:
            _quality(row, probabilities[row.name], y, reference)
        if baseline is not None and row.ok:
            row.speedup = {t: baseline.latency[t]["p50_ms"] / row.latency[t]["p50_ms"]
                           for t in config.threads if t in baseline.latency and t in row.latency}
    return ClassifierReport(run=str(run.folder), export_dir=str(config.export_dir), measured_on=run.measured_on,
                            n=len(y), labels=run.labels, threads=list(config.threads), calls=config.calls,
                            warmup=config.warmup, rows=rows, model=run.card.model_name)


if __name__ == "__main__":
    sys.exit(_worker_main(sys.argv[1:]))
