"""Spoken words: espeak-ng writes the recognised word to a WAV file; speech never holds recognition up.

The tests that need the real engine skip without it (``apt-get install -y
espeak-ng``); the queue and cooldown are checked with a stand-in engine, a
small script that waits until the test lets it finish.
"""

from __future__ import annotations

import stat
import wave
from pathlib import Path

import pytest

from edge_runtime.dataset import load_recording
from edge_runtime.speech import MAX_WAITING, Speaker, SpeechConfig, SpeechError, file_stem, find_engine
from test_recognizer import Demo, demo  # noqa: F401  (the session fixture: tiny trained model + recordings)


def run_cli(args: list[str]) -> int:
    from edge_runtime.cli.recognize import main

    with pytest.raises(SystemExit) as exit_info:
        main(args)
    return int(exit_info.value.code)


def wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


@pytest.mark.slow
def test_speak_to_file_writes_the_recognised_korean_word(demo: Demo, espeak_ng, tmp_path, capsys) -> None:
    take = next(p for p in demo.held_out if load_recording(p).label == "형,오빠")
    out_dir = tmp_path / "spoken"
    assert run_cli(["--model", str(demo.models["int8"]), "--source", str(take), "--json",
                    "--speak-to-file", str(out_dir)]) == 0
    out, _ = capsys.readouterr()
    assert '"label": "형,오빠"' in out
    [wav] = sorted(out_dir.iterdir())
    assert wav.name == "0001-형_오빠.wav"  # numbered, the word readable, the comma made file-safe
    assert wav_seconds(wav) > 0.2  # the word itself, said by the Korean voice


def test_the_same_word_is_not_said_twice_within_the_cooldown(espeak_ng, tmp_path) -> None:
    now = [0.0]
    speaker = Speaker(SpeechConfig(voice="en", cooldown_s=3.0, to_dir=tmp_path), clock=lambda: now[0])
    with speaker:
        assert speaker.say("wave") is True
        now[0] = 2.0
        assert speaker.say("wave") is False  # 2 s later: still cooling down
        assert speaker.say("circle") is True  # another word is said at once
        now[0] = 5.5
        assert speaker.say("wave") is True  # 5.5 s after the first: said again
        assert speaker.wait_idle(timeout=30)
    assert speaker.spoken == ["wave", "circle", "wave"] and speaker.skipped == 1
    assert [f.name for f in sorted(tmp_path.iterdir())] == ["0001-wave.wav", "0002-circle.wav", "0003-wave.wav"]
    assert all(wav_seconds(f) > 0.2 for f in speaker.files)


def gated_engine(folder: Path) -> tuple[str, Path]:
    """A stand-in espeak-ng: answers the voice check, then each word waits for the file ``gate`` to exist."""
    gate = folder / "gate"
    script = folder / "fake-espeak"
    script.write_text(f"""#!/bin/sh
for arg in "$@"; do [ "$arg" = "--stdout" ] && exit 0; done
while [ ! -e "{gate}" ]; do sleep 0.01; done
cat >> "{folder / 'said.txt'}"
echo >> "{folder / 'said.txt'}"
""")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script), gate


def test_say_never_blocks_and_a_backlog_keeps_the_newest_words(tmp_path) -> None:
    engine, gate = gated_engine(tmp_path)
    speaker = Speaker(SpeechConfig(engine=engine, cooldown_s=0.0)).start()
    words = [f"w{i}" for i in range(6)]
    assert speaker.say(words[0])
    assert not speaker.wait_idle(timeout=0.3)  # the engine is busy with w0 (it waits for the gate)...
    for word in words[1:]:
        assert speaker.say(word)  # ...and the recogniser is never made to wait
    assert speaker.dropped == len(words) - 1 - MAX_WAITING  # w1, w2 dropped: late words help nobody
    gate.touch()
    speaker.close(timeout=30)
    said = (tmp_path / "said.txt").read_text().split()
    assert said == ["w0", "w3", "w4", "w5"] and speaker.spoken == said


@pytest.mark.slow
def test_a_voice_espeak_ng_lacks_is_one_clear_line(demo: Demo, espeak_ng, capsys) -> None:
    assert run_cli(["--model", str(demo.models["float"]), "--source", str(demo.held_out[0]), "--speak",
                    "--voice", "xx-nonexistent"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "espeak-ng has no voice 'xx-nonexistent'" in err


@pytest.mark.slow
def test_speak_without_an_engine_is_one_clear_line(demo: Demo, monkeypatch, tmp_path, capsys) -> None:
    base = ["--model", str(demo.models["float"]), "--source", str(demo.held_out[0])]
    monkeypatch.setenv("PATH", str(tmp_path))  # a device where espeak-ng is not installed
    for flags in (["--speak"], ["--speak-to-file", str(tmp_path / "wav")]):
        assert run_cli(base + flags) == 2
        out, err = capsys.readouterr()
        assert out == "" and err == ("sign-recognize: error: --speak needs espeak-ng, which is not installed "
                                     "(sudo apt install espeak-ng)\n")
    assert not (tmp_path / "wav").exists()  # nothing written before the error
    with pytest.raises(SpeechError, match="not installed"):
        find_engine(SpeechConfig())


def test_file_names_are_safe_and_readable() -> None:
    assert file_stem(1, "형,오빠") == "0001-형_오빠"
    assert file_stem(12, "../../etc/passwd") == "0012-etc_passwd"
    assert file_stem(3, "///") == "0003-word"
    with pytest.raises(ValueError, match="not an espeak-ng voice"):
        SpeechConfig(voice="ko; rm -rf /").validate()
