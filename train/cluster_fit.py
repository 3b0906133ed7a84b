"""``sign-train --cluster``: the same training, data-parallel on the workers of a Ray cluster.

Why this shape. Ray Train's ``TensorflowTrainer`` starts the workers where the
cluster has room, describes them to each other in ``TF_CONFIG`` and stops the
job cleanly when one dies; TensorFlow's collective ops (set up by
``MultiWorkerMirroredStrategy``) average the gradients. Keras 3's ``fit`` does
not run under that strategy's scope (keras-team/keras#20585: "Attempt to
convert a value (PerReplica...)"), so each worker keeps an ordinary Keras
model and the ordinary ``fit`` loop of ``train.fit`` — same model, loss,
callbacks, class weights, augmentation — and only two things are added:

* an optimizer that replaces each step's gradients by their mean over the
  workers before Adam applies them (``GradientMeanAdam``), and
* ``WorkerSync``, which starts every worker from rank 0's weights, averages
  BatchNorm statistics before each validation, and averages each epoch's logs
  (validation is split between the workers) before early stopping and the
  learning-rate schedule read them, so every worker takes the same decisions
  and keeps the same model.

Worker k of n takes every n-th sample of each batch of ``--batch-size``
(``TrainSequence(shard=...)``): together the workers see exactly the batches
and augmented variants one process would, so a cluster run differs from a
single-machine run only by dropout draws and summation order. The split, the
guard and everything written after training happen here on the driver, as for
a single-machine run; rank 0 hands the trained weights back through Ray
Train's checkpoint (``--storage``: on several machines, a folder every node
sees at the same path).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import socket
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import keras
import numpy as np

from edge_runtime.dataset import MANIFEST
from edge_runtime.errors import DatasetError, SignedgeError
from edge_runtime.files import sha256_file
from edge_runtime.spec import FeatureSpec
from train.augment import Augmenter
from train.fit import (
    FeatureBatches,
    FitResult,
    HandsView,
    Loaded,
    Report,
    TrainConfig,
    TrainSequence,
    class_weights,
    compiled_model,
    fit_callbacks,
    fit_result,
    load_dataset,
)
from train.splits import Split

log = logging.getLogger(__name__)

WEIGHTS_FILE = "weights.npz"
FIT_FILE = "fit.json"
# Environment of the workers: TensorFlow quiet on its C++ side (each worker would print its start-up page).
WORKER_ENV = {"TF_CPP_MIN_LOG_LEVEL": "2"}


@dataclass(frozen=True)
class ClusterJob:
    """What every worker needs: where the dataset is, which manifest it must find there, and the split's rows."""

    data: str
    manifest_sha256: str
    spec: FeatureSpec
    labels: tuple[str, ...]
    train: tuple[int, ...]
    val: tuple[int, ...]
    cfg: TrainConfig
    prefix: str = ""
    progress: str | None = None  # rank 0 appends its epoch lines here; the driver prints them as they come


class Collective:
    """Sum and mean across the training workers through TensorFlow's collective ops.

    ``MultiWorkerMirroredStrategy`` reads ``TF_CONFIG`` (written by Ray Train)
    and connects the workers; it is used only for its all-reduce, never as the
    model's scope. Works eagerly (callbacks) and inside Keras's compiled step.
    """

    def __init__(self) -> None:
        import tensorflow as tf

        self.tf = tf
        self.strategy = tf.distribute.MultiWorkerMirroredStrategy()

    def _reduce(self, op: str, tensors: Sequence[Any]) -> list[Any]:
        tf = self.tf

        def replica(*values: Any) -> Any:  # identity: a value made in the replica's device scope has a device
            return tf.distribute.get_replica_context().all_reduce(op, [tf.identity(v) for v in values])

        out = self.strategy.run(replica, args=tuple(tf.convert_to_tensor(t) for t in tensors))
        return [self.strategy.experimental_local_results(o)[0] for o in out]

    def mean(self, tensors: Sequence[Any]) -> list[Any]:
        return self._reduce("MEAN", tensors)

    def sum(self, tensors: Sequence[Any]) -> list[Any]:
        return self._reduce("SUM", tensors)


class GradientMeanAdam(keras.optimizers.Adam):
    """Adam applying the workers' mean gradient: each worker then makes the same update to the same weights."""

    def __init__(self, collective: Collective, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._collective = collective

    def apply_gradients(self, grads_and_vars: Any) -> Any:
        pairs = [(g, v) for g, v in grads_and_vars if g is not None]
        grads = self._collective.mean([g for g, _ in pairs])
        return super().apply_gradients(zip(grads, [v for _, v in pairs]))


class WorkerSync(keras.callbacks.Callback):
    """Keeps n workers one model (first in the callback list, so the others read the averaged logs)."""

    def __init__(self, collective: Collective, rank: int, train_samples: int, val_samples: int) -> None:
        super().__init__()
        self.collective, self.rank = collective, rank
        self.train_samples, self.val_samples = float(train_samples), float(val_samples)

    def on_train_begin(self, logs: dict | None = None) -> None:
        weights = self.model.get_weights()
        mine = weights if self.rank == 0 else [np.zeros_like(w) for w in weights]
        self.model.set_weights([np.asarray(w) for w in self.collective.sum(mine)])
        # every worker's sample counts are fixed for the run: their totals are summed once, not every epoch
        totals = self.collective.sum([np.float64(self.train_samples), np.float64(self.val_samples)])
        self.train_total, self.val_total = (float(t) for t in totals)

    def on_test_begin(self, logs: dict | None = None) -> None:
        stats = [w for w in self.model.non_trainable_weights if "float" in str(w.dtype)]
        for variable, mean in zip(stats, self.collective.mean([w.value for w in stats])):
            variable.assign(mean)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is None:
            return
        keys = sorted(k for k in logs if k != "learning_rate")
        val = [k.startswith("val_") for k in keys]
        sums = self.collective.sum([np.float64(logs[k]) * (self.val_samples if v else self.train_samples)
                                    for k, v in zip(keys, val)])
        for k, v, value in zip(keys, val, sums):
            logs[k] = float(value) / (self.val_total if v else self.train_total)


def _worker_report(rank: int, progress: str | None) -> Report:
    def line(text: str) -> None:
        if rank == 0 and progress:
            with open(progress, "a", encoding="utf-8") as out:
                out.write(text + "\n")

    return line


class ProgressTail(threading.Thread):
    """Prints the lines rank 0 appends to the progress file while the job runs (a plain file on the storage every
    node sees: Ray's own forwarding of worker output would bring every worker's start-up chatter with it)."""

    def __init__(self, path: Path, report: Report, every_s: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.path, self.report, self.every_s = path, report, every_s
        self.done = threading.Event()
        self._offset = 0

    def _drain(self) -> None:
        if not self.path.is_file():
            return
        with open(self.path, encoding="utf-8") as src:
            src.seek(self._offset)
            text = src.read()
        complete = text[:text.rfind("\n") + 1]
        self._offset += len(complete.encode("utf-8"))
        for line in complete.splitlines():
            self.report(line)

    def run(self) -> None:
        while not self.done.wait(self.every_s):
            self._drain()

    def stop(self) -> None:
        self.done.set()
        self.join()
        self._drain()


def train_worker(config: dict[str, Any]) -> None:
    """One Ray Train worker: read its share of the split from the dataset, fit with the others, rank 0 hands back."""
    import ray.train

    job: ClusterJob = config["job"]
    context = ray.train.get_context()
    rank, size = context.get_world_rank(), context.get_world_size()
    cfg = job.cfg
    here = Path(job.data) / MANIFEST
    if not here.is_file() or sha256_file(here) != job.manifest_sha256:
        raise DatasetError(f"worker {rank} on {socket.gethostname()}: {here} is missing or not the manifest the "
                           "driver read (the dataset must be on storage every node sees at the same path)")
    collective = Collective()
    loaded = load_dataset(job.data, spec=job.spec, stream=True)
    y = loaded.y
    train, val = list(job.train), list(job.val[rank::size])
    keras.utils.set_random_seed(cfg.seed)
    sequence = TrainSequence(HandsView(loaded.recordings, train), y[train], job.spec,
                             Augmenter(cfg.augment, seed=cfg.seed), cfg.batch_size, cfg.seed, shard=(rank, size))
    # --init-from is read by rank 0 only: WorkerSync gives every worker rank 0's starting weights
    model = compiled_model(cfg if rank == 0 else dataclasses.replace(cfg, init_from=None), job.spec,
                           len(job.labels), optimizer=GradientMeanAdam(collective, learning_rate=cfg.learning_rate))
    callbacks = [WorkerSync(collective, rank, sequence.samples_per_epoch, len(val))]
    callbacks += fit_callbacks(cfg, _worker_report(rank, job.progress), job.prefix)
    start = time.perf_counter()
    history = model.fit(sequence, validation_data=FeatureBatches(loaded, val, max(cfg.batch_size, 64)),
                        epochs=cfg.epochs, callbacks=callbacks, verbose=0,
                        class_weight=class_weights(y[train], len(job.labels)) if cfg.class_weights else None)
    seconds = time.perf_counter() - start
    names = sorted(set(cfg.augment.ops) | {"mirror", "dropout", "none"})
    counts = collective.sum([np.int64(sequence.applied.get(name, 0)) for name in names])
    applied = {name: int(c) for name, c in zip(names, counts) if int(c)}
    with tempfile.TemporaryDirectory() as folder:
        checkpoint = None
        if rank == 0:
            np.savez(Path(folder) / WEIGHTS_FILE, *model.get_weights())
            (Path(folder) / FIT_FILE).write_text(json.dumps({
                "history": {k: [float(v) for v in vals] for k, vals in history.history.items()},
                "seconds": seconds, "steps_per_epoch": len(sequence), "augmentations": applied}))
            checkpoint = ray.train.Checkpoint.from_directory(folder)
        ray.train.report({"epochs": len(history.history.get("loss", []))}, checkpoint=checkpoint)


def _check_fits(cfg: TrainConfig, split: Split, cpus: float) -> None:
    if len(split.val) < cfg.workers:
        raise SignedgeError(f"--workers {cfg.workers}: the validation part has only {len(split.val)} recordings, "
                            "and each worker validates its share (use fewer workers)")
    if cpus < cfg.workers:
        raise SignedgeError(f"--workers {cfg.workers}: the Ray cluster has {cpus:g} CPUs, and each worker takes one "
                            "(add nodes with `ray start --address HEAD:PORT`, or use fewer workers)")


def _failure(err: BaseException) -> SignedgeError:
    """Ray Train's error as one line: a dead worker named as such, else the worker's own error message."""
    text = str(err)
    log.debug("Ray Train stopped with: %s", text)
    if "worker process has died" in text or "actor died" in text.lower():
        pid, host = re.search(r"pid=(\d+)", text), re.search(r"hostname='([^']+)'", text)
        where = f" (pid {pid.group(1)} on {host.group(1)})" if pid and host else ""
        detail = f"a worker process died{where}"
    else:
        raised = re.findall(r"^(?:[\w.]+\.)?(\w+(?:Error|Exception)): (.+)$", text, flags=re.MULTILINE)
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        detail = raised[-1][1] if raised else (lines or [type(err).__name__])[-1]
    return SignedgeError(f"training on the Ray cluster stopped: {detail} (nothing was written; run it again)")


def fit_split_on_cluster(loaded: Loaded, split: Split, cfg: TrainConfig, report: Report,
                         prefix: str = "") -> FitResult:
    """Train on ``split`` with ``cfg.workers`` Ray workers; the result is what ``train.fit.fit_split`` returns."""
    from train.ray_cluster import ray_session

    storage = Path(cfg.storage) if cfg.storage else Path(tempfile.gettempdir())
    if not storage.is_dir():
        raise SignedgeError(f"--storage {storage}: no such folder")
    with ray_session(cfg.address, "--cluster", env=WORKER_ENV) as ray:
        _check_fits(cfg, split, ray.cluster_resources().get("CPU", 0.0))
        nodes = sum(1 for node in ray.nodes() if node.get("Alive"))
        from ray.train import FailureConfig, RunConfig, ScalingConfig
        from ray.train.tensorflow import TensorflowTrainer

        report(f"{prefix}training on the Ray cluster: {cfg.workers} workers, {nodes} node(s), batch {cfg.batch_size} "
               f"split between them")
        with tempfile.TemporaryDirectory(prefix=".sign-train-ray-", dir=storage) as folder:
            progress = Path(folder) / "epochs.log"
            job = ClusterJob(str(loaded.dataset.folder.resolve()), sha256_file(loaded.dataset.folder / MANIFEST),
                             loaded.spec, tuple(loaded.labels), tuple(int(i) for i in split.train),
                             tuple(int(i) for i in split.val), cfg, prefix, str(progress))
            tail = ProgressTail(progress, report)
            tail.start()
            trainer = TensorflowTrainer(
                train_worker, train_loop_config={"job": job},
                scaling_config=ScalingConfig(num_workers=cfg.workers, use_gpu=False, resources_per_worker={"CPU": 1}),
                run_config=RunConfig(name="sign-train", storage_path=folder,
                                     failure_config=FailureConfig(max_failures=0)))
            try:
                result = trainer.fit()
            except Exception as err:  # Ray Train wraps the worker's error; its types vary between versions
                raise _failure(err) from err
            finally:
                tail.stop()
            if result.checkpoint is None:
                raise SignedgeError("training on the Ray cluster ended without the trained weights (nothing was "
                                    "written)")
            with result.checkpoint.as_directory() as handed:
                with np.load(Path(handed) / WEIGHTS_FILE) as npz:
                    weights = [npz[f"arr_{i}"] for i in range(len(npz.files))]
                fitted = json.loads((Path(handed) / FIT_FILE).read_text())
    model = compiled_model(dataclasses.replace(cfg, init_from=None), loaded.spec, len(loaded.labels))
    model.set_weights(weights)  # the trained weights, handed back by rank 0
    trained_with = {"engine": "ray", "workers": cfg.workers, "nodes": nodes, "ray": ray.__version__,
                    "batch_per_worker": -(-cfg.batch_size // cfg.workers), "gradients": "mean over workers each step"}
    return fit_result(model, fitted["history"], cfg, float(fitted["seconds"]), int(fitted["steps_per_epoch"]),
                      fitted["augmentations"], trained_with)
