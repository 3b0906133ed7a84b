"""sign-train --cluster: data-parallel training on a real (local) Ray cluster, against the single-machine path."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("keras")

from ray_cluster import free_port, ray_cli, ray_cluster, ray_processes  # noqa: E402, F401  (the module's cluster)

from edge_runtime.hands import HandSequence  # noqa: E402
from edge_runtime.spec import DEFAULT_SPEC  # noqa: E402
from train.augment import NO_AUGMENT, Augmenter  # noqa: E402
from train.cli.train import main  # noqa: E402
from train.fit import TrainSequence  # noqa: E402
from train.synth.config import SynthConfig  # noqa: E402
from train.synth.writer import make_dataset  # noqa: E402

EPOCHS = ["--epochs", "15", "--min-epochs", "0", "--patience", "15", "--split-seed", "0", "-q"]
# The rule, stated before the runs (benchmarks/results/cluster.md): seed noise is the spread of the test accuracy of
# single-machine runs with seeds 0, 1 and 2 on one people split (--split-seed 0); a two-worker run with seed 0 on
# that split must land inside it, widened by two test recordings on each side.
SEEDS = (0, 1, 2)
SLACK_RECORDINGS = 2


def _sign_train(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """The command in its own process, as a user runs it against a cluster (with the cluster's token in the env)."""
    return subprocess.run([str(Path(sys.executable).with_name("sign-train")), *map(str, args)], capture_output=True,
                          text=True, timeout=900)


def _card(run: Path) -> dict:
    return json.loads((run / "model_card.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def demo_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's synthetic data (5 words, 8 signers): sign-synth's defaults."""
    folder = tmp_path_factory.mktemp("synth") / "demo"
    make_dataset(folder, SynthConfig())
    return folder


def test_the_workers_shares_of_a_batch_are_that_batch() -> None:
    """Worker k of n takes every n-th sample of each batch: together exactly one process's batches, same steps."""
    raws = [HandSequence(np.zeros((8, 2, 21, 3), np.float32), np.zeros((8, 2), bool)) for _ in range(21)]
    y = np.arange(21) % 3
    one = TrainSequence(raws, y, DEFAULT_SPEC, Augmenter(NO_AUGMENT), batch_size=8, seed=3)
    for n in (2, 3):
        shards = [TrainSequence(raws, y, DEFAULT_SPEC, Augmenter(NO_AUGMENT), batch_size=8, seed=3, shard=(k, n))
                  for k in range(n)]
        assert all(len(s) == len(one) for s in shards)
        for b in range(len(one)):
            whole = sorted(one._order[b * 8:(b + 1) * 8].tolist())
            parts = [s._order[b * 8:(b + 1) * 8][k::n].tolist() for k, s in enumerate(shards)]
            assert sorted(sum(parts, [])) == whole
            assert [len(s[b][1]) for s in shards] == [len(p) for p in parts]
        assert [s.samples_per_epoch for s in shards] == [sum(len(s[b][1]) for b in range(len(s))) for s in shards]
    tiny = [TrainSequence(raws[:9], y[:9], DEFAULT_SPEC, Augmenter(NO_AUGMENT), 8, shard=(k, 2)) for k in range(2)]
    assert [len(t[1][1]) for t in tiny] == [1, 1]  # a last batch of one sample is shared, never empty
    with pytest.raises(ValueError, match="shard"):
        TrainSequence(raws, y, DEFAULT_SPEC, Augmenter(NO_AUGMENT), shard=(2, 2))


@pytest.mark.slow
def test_two_workers_on_two_nodes_train_what_one_machine_trains(
        ray_cluster: str, demo_data: Path, tmp_path: Path) -> None:
    ray = _sign_train(demo_data, "-o", tmp_path / "ray", *EPOCHS, "--cluster", "--workers", "2",
                      "--address", ray_cluster)
    assert ray.returncode == 0, ray.stderr[-3000:]
    assert "Traceback" not in ray.stderr
    local_acc = []
    for seed in SEEDS:
        code = _in_process(demo_data, "-o", tmp_path / f"local{seed}", *EPOCHS, "--seed", str(seed))
        assert code == 0
        local_acc.append(_card(tmp_path / f"local{seed}")["metrics"]["test"]["accuracy"])
    card, local = _card(tmp_path / "ray"), _card(tmp_path / "local0")
    assert card["fit"]["trained_with"]["engine"] == "ray"
    assert card["fit"]["trained_with"]["workers"] == 2 and card["fit"]["trained_with"]["nodes"] == 2
    assert local["fit"]["trained_with"] == {"engine": "local", "workers": 1}
    assert card["split"] == local["split"] and card["labels"] == local["labels"]  # the same split, guard and labels
    files = {run: sorted(p.name for p in (tmp_path / run).iterdir()) for run in ("ray", "local0")}
    assert files["ray"] == files["local0"]
    assert card["fit"]["steps_per_epoch"] == local["fit"]["steps_per_epoch"]  # the same global batches
    n = card["metrics"]["test"]["n"]
    accuracy = card["metrics"]["test"]["accuracy"]
    low, high = min(local_acc) - SLACK_RECORDINGS / n, max(local_acc) + SLACK_RECORDINGS / n
    assert low <= accuracy <= high, f"cluster {accuracy:.3f} outside seed noise {local_acc} ± {SLACK_RECORDINGS}/{n}"
    # the run folder exports like any other
    from export.cli.tflite import main as export_main

    with pytest.raises(SystemExit) as done:
        export_main([str(tmp_path / "ray"), "--formats", "int8"])  # calibrated on the run's training recordings
    assert done.value.code in (0, None)
    assert (tmp_path / "ray" / "export" / "model_int8.tflite").is_file()


def _in_process(*args: str | Path) -> int:
    with pytest.raises(SystemExit) as done:
        main([str(a) for a in args])
    return int(done.value.code or 0)


@pytest.mark.slow
def test_a_worker_killed_mid_training_stops_the_run_in_one_line_and_writes_nothing(
        ray_cluster: str, demo_data: Path, tmp_path: Path) -> None:
    import os
    import signal

    out, log = tmp_path / "run", tmp_path / "stderr.txt"
    args = [str(Path(sys.executable).with_name("sign-train")), str(demo_data), "-o", str(out), "--epochs", "200",
            "--min-epochs", "0", "--patience", "200", "--cluster", "--workers", "2", "--address", ray_cluster]
    with open(log, "w", encoding="utf-8") as err:
        run = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=err, text=True)
        killed, deadline = None, time.monotonic() + 300
        while run.poll() is None and time.monotonic() < deadline:
            if killed is None and "epoch   2/" in log.read_text(encoding="utf-8") and ray_processes(b"RayTrainWorker"):
                killed = ray_processes(b"RayTrainWorker")[-1]
                os.kill(killed, signal.SIGKILL)  # a worker dies mid-epoch
            time.sleep(0.2)
        code = run.wait(timeout=120)
    stderr = log.read_text(encoding="utf-8")
    assert killed is not None, "no training worker was seen to kill: " + stderr[-1500:]
    assert code != 0 and "training on the Ray cluster stopped: a worker process died" in stderr, stderr[-1500:]
    assert "Traceback" not in stderr
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.slow
def test_more_workers_than_the_cluster_has_cpus_is_one_line(ray_cluster: str, demo_data: Path,
                                                              tmp_path: Path) -> None:
    done = _sign_train(demo_data, "-o", tmp_path / "run", *EPOCHS, "--cluster", "--workers", "3",
                       "--address", ray_cluster)
    assert done.returncode != 0 and "the Ray cluster has 2 CPUs" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "run").exists()


def test_an_unreachable_address_is_one_line_within_30_s(demo_data: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    ray_cli()
    start = time.monotonic()
    code = _in_process(demo_data, "-o", tmp_path / "run", *EPOCHS, "--cluster", "--address",
                       f"127.0.0.1:{free_port()}")
    err = capsys.readouterr().err
    assert code != 0 and "cannot reach the Ray cluster" in err and "Traceback" not in err
    assert time.monotonic() - start < 30
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("flags, message", [
    (["--address", "auto"], "--address and --storage go with --cluster"),
    (["--cluster", "--workers", "0"], "--workers must be at least 1"),
    (["--cluster", "--strategy", "mirrored"], "cannot be combined with --strategy mirrored"),
    (["--cluster", "--audit-leakage"], "drop --cluster"),
])
def test_cluster_flags_that_do_not_fit_are_one_line(demo_data: Path, tmp_path: Path, flags: list[str], message: str,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    code = _in_process(demo_data, "-o", tmp_path / "run", *flags)
    err = capsys.readouterr().err
    assert code != 0 and message in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()


def test_training_without_cluster_never_imports_ray() -> None:
    code = ("import sys, train.cli.train, train.fit, train.evaluate; "
            "assert not any(m == 'ray' or m.startswith('ray.') for m in sys.modules), 'ray imported'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
