"""``sign-models``: getting the hand bundle onto a machine, from local files only (no network in tests)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from helpers import exit_code

from edge_runtime.cli.models import VARIANTS, main
from edge_runtime.files import sha256_file
from edge_runtime.landmarks.task_file import DETECTOR, LANDMARKER, read_task


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The default destination lives under XDG_CACHE_HOME: point it at the test's folder."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "signedge"


def fake_wheel(path: Path, shared_dir: Path, tamper: bool = False) -> Path:
    """A zip laid out like the mediapipe 0.10.21 wheel, holding the four models taken from the shared bundles."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as whl:
        whl.writestr("mediapipe/__init__.py", "")
        for variant in VARIANTS.values():
            bundle = shared_dir / "models" / variant.filename
            if not bundle.is_file():
                pytest.skip(f"needs {bundle}")
            models = read_task(bundle)
            landmarker = models.landmarker + (b"\0" if tamper else b"")
            whl.writestr(variant.detector_member, models.detector)
            whl.writestr(variant.landmarker_member, landmarker)
    return path


def test_from_file_validates_and_copies_the_bundle(hand_task: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "models" / "hand.task"
    assert exit_code(main, ["--from-file", str(hand_task), "--out", str(out)]) == 0
    assert sha256_file(out) == sha256_file(hand_task) == VARIANTS["full"].sha256
    assert "the pinned full bundle" in capsys.readouterr().out


def test_from_file_refuses_what_is_not_a_hand_bundle(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    not_zip = tmp_path / "notes.task"
    not_zip.write_text("not a zip")
    no_models = tmp_path / "other.task"
    with zipfile.ZipFile(no_models, "w") as z:
        z.writestr(DETECTOR, b"only one of the two models")
    out = tmp_path / "out.task"
    for bad, reason in ((not_zip, "not a zip"), (no_models, f"missing {LANDMARKER}"),
                        (tmp_path / "nowhere.task", "not found")):
        assert exit_code(main, ["--from-file", str(bad), "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip()
        assert reason in err and err.startswith("sign-models: error:") and len(err.splitlines()) == 1
    assert not out.exists() and list(tmp_path.glob(".out.task*")) == []


def test_a_bundle_that_is_not_pinned_is_copied_with_a_note(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    custom = tmp_path / "custom.task"
    with zipfile.ZipFile(custom, "w") as z:
        z.writestr(DETECTOR, b"detector")
        z.writestr(LANDMARKER, b"landmarker")
    out = tmp_path / "out.task"
    assert exit_code(main, ["--from-file", str(custom), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "not one of the pinned bundles" in captured.out and "same file on every machine" in captured.err
    assert out.read_bytes() == custom.read_bytes()


def test_rebuilding_from_the_wheel_is_byte_identical_to_the_pinned_bundles(
        shared_dir: Path, tmp_path: Path, private_cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wheel = fake_wheel(tmp_path / "mediapipe-0.10.21-py3-none-any.whl", shared_dir)
    assert exit_code(main, ["--from-wheel", str(wheel)]) == 0  # default destination, full variant
    assert sha256_file(private_cache / "hand_landmarker.task") == VARIANTS["full"].sha256
    lite_out = tmp_path / "lite.task"
    assert exit_code(main, ["--from-wheel", str(wheel), "--variant", "lite", "--out", str(lite_out)]) == 0
    assert sha256_file(lite_out) == VARIANTS["lite"].sha256
    capsys.readouterr()
    # Already in place: no download is even attempted (this test has no network).
    assert exit_code(main, []) == 0
    assert "already the pinned full bundle" in capsys.readouterr().out


def test_a_wheel_with_other_models_is_refused(shared_dir: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    wheel = fake_wheel(tmp_path / "mediapipe-0.10.21-py3-none-any.whl", shared_dir, tamper=True)
    out = tmp_path / "out.task"
    assert exit_code(main, ["--from-wheel", str(wheel), "--out", str(out)]) == 2
    assert "is not the pinned model" in capsys.readouterr().err
    empty = tmp_path / "empty.whl"
    with zipfile.ZipFile(empty, "w") as z:
        z.writestr("x.py", "")
    assert exit_code(main, ["--from-wheel", str(empty), "--out", str(out)]) == 2
    assert "is it the mediapipe==0.10.21 wheel" in capsys.readouterr().err
    assert not out.exists()


def test_url_downloads_only_with_the_right_sha256(hand_task: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    url = hand_task.resolve().as_uri()  # file:// exercises the download path without a network
    out = tmp_path / "dl" / "hand.task"
    assert exit_code(main, ["--url", url, "--out", str(out)]) == 2
    assert "--url needs --sha256" in capsys.readouterr().err
    assert exit_code(main, ["--url", url, "--sha256", "0" * 64, "--out", str(out)]) == 2
    assert "nothing written" in capsys.readouterr().err and not out.exists()
    assert exit_code(main, ["--url", url, "--sha256", VARIANTS["full"].sha256.upper(), "--out", str(out)]) == 0
    assert sha256_file(out) == VARIANTS["full"].sha256
    assert exit_code(main, ["--sha256", VARIANTS["full"].sha256]) == 2  # --sha256 alone makes no sense
