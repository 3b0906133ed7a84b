"""sign-extract --engine ray on a real (local) Ray cluster: a head and a second node on this machine."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ray_cluster import free_port, ray_cli, ray_cluster, ray_processes  # noqa: F401  (the module's cluster)

from train.cli.extract import main


def _extract(*args: str) -> int:
    with pytest.raises(SystemExit) as done:
        main(list(args))
    return int(done.value.code or 0)


def _sign_extract(*args: str) -> subprocess.CompletedProcess[str]:
    """The command in its own process, as a user runs it against a cluster (with the cluster's token in the env)."""
    return subprocess.run([str(Path(sys.executable).with_name("sign-extract")), *args], capture_output=True,
                          text=True, timeout=600)


def _video_folder(tmp_path: Path, videos: list[Path]) -> Path:
    """VIDEO_DIR/sign/<the given videos>: one label, as sign-extract's folder mode reads it."""
    folder = tmp_path / "videos" / "sign"
    folder.mkdir(parents=True)
    for video in videos:
        shutil.copy(video, folder / video.name)
    return folder


@pytest.mark.slow
@pytest.mark.shared
def test_two_ray_workers_on_two_nodes_write_the_local_engines_bytes(
        ray_cluster: str, hand_task: Path, ksl_videos: list[Path], tmp_path: Path) -> None:
    videos = _video_folder(tmp_path, ksl_videos[:3])
    (videos / "broken.mp4").write_bytes(b"not a video")  # reported, never stops the batch
    flags = ["--hand-model", str(hand_task), "--max-width", "320", "--no-progress", "--workers", "2"]
    assert _extract(str(tmp_path / "videos"), str(tmp_path / "local"), *flags) == 1  # 1: one video failed
    done = _sign_extract(str(tmp_path / "videos"), str(tmp_path / "ray"), *flags, "--engine", "ray",
                         "--address", ray_cluster)
    assert done.returncode == 1, done.stderr[-2000:]
    assert "broken.mp4" in done.stderr and "Traceback" not in done.stderr
    local = sorted(p.relative_to(tmp_path / "local") for p in (tmp_path / "local").rglob("*.npz"))
    assert len(local) == 3
    for rel in local:
        assert (tmp_path / "ray" / rel).read_bytes() == (tmp_path / "local" / rel).read_bytes()
    assert (tmp_path / "ray" / "manifest.csv").read_bytes() == (tmp_path / "local" / "manifest.csv").read_bytes()
    # resumable as locally: the recordings that exist and load are kept
    again = _sign_extract(str(tmp_path / "videos"), str(tmp_path / "ray"), *flags, "--engine", "ray",
                          "--address", ray_cluster)
    assert again.returncode == 1 and "3 kept from an earlier run" in again.stdout
    # a manifest path no node can read is named, per file; the others still get done
    manifest = tmp_path / "labels.csv"
    manifest.write_text(f"file,label\nsign/{ksl_videos[0].name},a\nsign/gone.mp4,b\n", encoding="utf-8")
    listed = _sign_extract(str(tmp_path / "videos"), str(tmp_path / "listed"), *flags, "--engine", "ray",
                           "--address", ray_cluster, "--manifest", str(manifest))
    assert listed.returncode == 1 and "gone.mp4: not readable on node" in listed.stderr
    assert len(list((tmp_path / "listed").rglob("*.npz"))) == 1


def test_an_unreachable_address_is_one_line_and_no_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ray_cli()
    (tmp_path / "videos").mkdir()
    code = _extract(str(tmp_path / "videos"), str(tmp_path / "out"), "--hand-model", str(tmp_path / "h.task"),
                    "--engine", "ray", "--address", f"127.0.0.1:{free_port()}")
    err = capsys.readouterr().err
    assert code != 0 and "cannot reach the Ray cluster" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_address_without_the_ray_engine_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "videos").mkdir()
    assert _extract(str(tmp_path / "videos"), str(tmp_path / "out"), "--hand-model", str(tmp_path / "h.task"),
                    "--address", "auto") != 0
    assert "--address goes with --engine ray" in capsys.readouterr().err


def test_the_local_engine_never_imports_ray() -> None:
    code = ("import sys, train.cli.extract, train.extract.job; "
            "assert not any(m == 'ray' or m.startswith('ray.') for m in sys.modules), 'ray imported'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


@pytest.mark.slow
@pytest.mark.shared
def test_a_worker_killed_mid_run_loses_no_video_and_leaves_no_half_file(
        ray_cluster: str, hand_task: Path, ksl_videos: list[Path], tmp_path: Path) -> None:
    import signal
    import time

    _video_folder(tmp_path, ksl_videos[:6])
    out = tmp_path / "ray"
    args = [str(Path(sys.executable).with_name("sign-extract")), str(tmp_path / "videos"), str(out), "--hand-model",
            str(hand_task), "--max-width", "320", "--no-progress", "--workers", "2", "--engine", "ray",
            "--address", ray_cluster]
    run = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    killed = None
    deadline = time.monotonic() + 300
    while run.poll() is None and time.monotonic() < deadline:
        if killed is None and list(out.rglob("*.npz")) and ray_processes(b"_Extractor"):
            killed = ray_processes(b"_Extractor")[0]
            os.kill(killed, signal.SIGKILL)  # a worker dies mid-batch
        time.sleep(0.2)
    stdout, stderr = run.communicate(timeout=60)
    print(f"killed actor {killed}; sign-extract exit {run.returncode}")
    assert killed is not None, "no actor was seen to kill"
    assert "Traceback" not in stderr
    assert not [p for p in out.rglob("*") if p.is_file() and p.suffix not in (".npz", ".csv", ".json")]
    if run.returncode != 0:  # the lost task was reported, not retried: one line, and the same command resumes
        assert "the Ray job stopped" in stderr, stderr[-1500:]
        again = _sign_extract(*args[1:])
        assert again.returncode == 0, again.stderr[-1500:]
    assert len(list(out.rglob("*.npz"))) == 6
