"""``sign-recognize --print-systemd-unit``: the tested command line becomes a unit systemd accepts."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from edge_runtime.model_info import sidecar_path
from edge_runtime.service import systemd_quote, systemd_unit
from helpers import need_program
from test_recognizer import Demo, demo  # noqa: F401  (the session fixture: tiny trained model + recordings)

pytestmark = pytest.mark.slow


def run_cli(args: list[str]) -> int:
    from edge_runtime.cli.recognize import main

    with pytest.raises(SystemExit) as exit_info:
        main(args)
    return int(exit_info.value.code)


def exec_words(unit: str) -> str:
    [line] = [line for line in unit.splitlines() if line.startswith("ExecStart=")]
    return line.removeprefix("ExecStart=")


@pytest.fixture
def model_in_a_folder_with_a_space(demo: Demo, tmp_path: Path) -> Path:
    folder = tmp_path / "my models"
    folder.mkdir()
    model = folder / demo.models["int8"].name
    shutil.copyfile(demo.models["int8"], model)
    shutil.copyfile(sidecar_path(demo.models["int8"]), sidecar_path(model))
    return model


def test_the_unit_runs_the_same_flags_with_absolute_paths_and_the_web_view(
        demo: Demo, model_in_a_folder_with_a_space: Path, tmp_path, monkeypatch, capsys) -> None:
    hand = tmp_path / "hand_landmarker.task"
    hand.write_bytes(b"a bundle")  # only its existence is checked here
    monkeypatch.chdir(tmp_path)  # the user's relative paths must survive the service's other working folder
    assert run_cli(["--model", "my models/model_int8.tflite", "--source", "picam", "--hand-model",
                    "hand_landmarker.task", "--threshold", "0.7", "--show", "-v", "--print-systemd-unit"]) == 0
    unit, err = capsys.readouterr()
    assert err == ""
    command = exec_words(unit)
    assert command.split()[0].endswith(("/sign-recognize", "/python")) and command.split()[0].startswith("/")
    assert f'--model "{tmp_path}/my models/model_int8.tflite"' in command  # quoted: the folder has a space
    assert f"--hand-model {tmp_path}/hand_landmarker.task" in command and "--source picam" in command
    assert "--threshold 0.7" in command
    assert "--verbose" in command and command.endswith("--serve")  # the web view is how a headless device is seen
    assert "--show" not in command and "--print-systemd-unit" not in command
    for line in ("Restart=on-failure", "StandardOutput=journal", "StandardError=journal",
                 "WantedBy=multi-user.target", f"WorkingDirectory={tmp_path}", "Wants=network-online.target"):
        assert line in unit.splitlines(), line
    assert "on this device only; add --host 0.0.0.0" in unit


def test_the_unit_speaks_into_an_absolute_folder(demo: Demo, espeak_ng, tmp_path, monkeypatch, capsys) -> None:
    """--speak-to-file is checked like --speak (the engine must be there at boot) and its folder made absolute."""
    monkeypatch.chdir(tmp_path)
    assert run_cli(["--model", str(demo.models["int8"]), "--source", str(demo.held_out[0]), "--speak-to-file",
                    "spoken", "--print-systemd-unit"]) == 0
    command = exec_words(capsys.readouterr().out)
    assert f"--speak-to-file {tmp_path}/spoken" in command and f"--source {demo.held_out[0]}" in command


def test_bad_inputs_print_no_unit(demo: Demo, tmp_path, capsys) -> None:
    model = str(demo.models["float"])
    cases = {
        "missing hand model": (["--source", "picam", "--hand-model", str(tmp_path / "none.task")],
                               "hand model not found"),
        "no hand model": (["--source", "0"], "--hand-model is required"),
        "missing recording": (["--source", str(tmp_path / "gone.npz")], "recording file not found"),
    }
    for name, (flags, message) in cases.items():
        assert run_cli(["--model", model, *flags, "--print-systemd-unit"]) == 2, name
        out, err = capsys.readouterr()
        assert out == "" and err.count("\n") == 1 and message in err, (name, err)


def test_the_unit_names_the_source_as_the_grammar_reads_it(tmp_path, monkeypatch) -> None:
    from edge_runtime.cli.recognize import build_parser
    from edge_runtime.service import service_arguments

    monkeypatch.chdir(tmp_path)
    p = build_parser()

    def source_words(*flags: str) -> list[str]:
        words = service_arguments(p, p.parse_args(["--model", "/m.tflite", *flags]))
        return words[words.index("--source"):words.index("--source") + 2] if "--source" in words else []

    assert source_words() == source_words("--source", "0") == []  # the default camera needs no flag
    assert source_words("--source", "clips/a.mp4") == ["--source", str(tmp_path / "clips" / "a.mp4")]
    assert source_words("--source", "/dev/v4l/by-id/cam") == ["--source", "/dev/v4l/by-id/cam"]  # as typed
    assert source_words("--source", "picam:1") == ["--source", "picam:1"]


def test_systemd_quoting() -> None:
    assert systemd_quote("/opt/signedge/model.tflite") == "/opt/signedge/model.tflite"
    assert systemd_quote("/home/pi/my models/m.tflite") == '"/home/pi/my models/m.tflite"'
    assert systemd_quote("100%") == "100%%"  # % starts a systemd specifier
    assert systemd_quote("$HOME") == '"$$HOME"'  # $ starts a variable
    assert systemd_quote('say "hi"') == '"say \\"hi\\""'
    assert systemd_quote("/data/형,오빠.npz") == "/data/형,오빠.npz"


def verify(tool: str, unit_file: Path) -> str:
    result = subprocess.run([tool, "verify", str(unit_file)], capture_output=True, text=True, timeout=60)
    return f"exit {result.returncode}: {result.stdout}{result.stderr}".strip()


@pytest.fixture(scope="module")
def systemd_analyze(tmp_path_factory) -> str:
    path = need_program("systemd-analyze", "systemd")
    plain = tmp_path_factory.mktemp("units") / "plain.service"
    plain.write_text("[Service]\nExecStart=/bin/true\n")
    answer = verify(path, plain)
    if answer != "exit 0:":  # e.g. a container where systemd cannot load its own units
        pytest.skip(f"systemd-analyze cannot verify units here ({answer.splitlines()[0]})")
    return path


def test_systemd_analyze_verify_accepts_the_unit(demo: Demo, model_in_a_folder_with_a_space: Path, systemd_analyze,
                                                 tmp_path, capsys) -> None:
    assert run_cli(["--model", str(model_in_a_folder_with_a_space), "--source", str(demo.held_out[0]),
                    "--host", "0.0.0.0", "--port", "8080", "--print-systemd-unit"]) == 0
    unit = capsys.readouterr().out
    assert "every computer that reaches this device can see it" in unit
    unit_file = tmp_path / "signedge.service"
    unit_file.write_text(unit, encoding="utf-8")
    assert verify(systemd_analyze, unit_file) == "exit 0:"  # no error and not a single warning
    # the check has teeth: a unit systemd would not accept gets a warning
    broken = tmp_path / "broken.service"
    broken.write_text(unit.replace("Restart=on-failure", "Restart=sometimes"), encoding="utf-8")
    assert "Failed to parse service restart specifier" in verify(systemd_analyze, broken)
    user_unit = systemd_unit(["--model", "/m.tflite", "--serve"], user="pi", workdir=Path("/home/pi"),
                             prefix=["/home/pi/.venv/bin/sign-recognize"])
    assert "User=pi" in user_unit and exec_words(user_unit) == "/home/pi/.venv/bin/sign-recognize --model " \
                                                               "/m.tflite --serve"
