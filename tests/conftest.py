"""Shared test fixtures: where ../shared is, and skipping cleanly when it is not there."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import need_program

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"needs the shared data folder {SHARED} (not present in a user's clone)")
    return SHARED


def _shared_model(shared_dir: Path, name: str) -> Path:
    path = shared_dir / "models" / name
    if not path.is_file():
        pytest.skip(f"needs {path}")
    return path


@pytest.fixture(scope="session")
def hand_task(shared_dir: Path) -> Path:
    return _shared_model(shared_dir, "hand_landmarker.task")


@pytest.fixture(scope="session")
def lite_task(shared_dir: Path) -> Path:
    """The lite hand models (only the litert backend can read them)."""
    return _shared_model(shared_dir, "hand_landmarker_lite.task")


@pytest.fixture(scope="session")
def ksl_videos(shared_dir: Path) -> list[Path]:
    videos = sorted((shared_dir / "data" / "ksl-expert-videos").glob("*.mp4"))
    if not videos:
        pytest.skip("needs the shared KSL videos")
    return videos


@pytest.fixture(scope="session")
def espeak_ng() -> str:
    """The speech engine --speak runs; tests that need it skip where it is not installed (CI installs it)."""
    return need_program("espeak-ng", "apt-get install -y espeak-ng")


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    """Tests never see (or write) the user's ~/.cache/signedge: no hand model is installed unless a test does it."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
