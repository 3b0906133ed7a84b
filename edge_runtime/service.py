"""``sign-recognize --print-systemd-unit``: the recogniser as a systemd service, started at boot.

A device without a screen should start recognising when it is switched on,
come back after a crash, and keep its output where ``journalctl`` finds it.
:func:`systemd_unit` writes that unit from the command line the user already
tested: the same flags, with every file made absolute (a service does not
start in the user's folder), ``--serve`` added (the web page is how a
headless device is watched) and ``--show`` dropped (a service has no screen).
The CLI prints it; installing it is three commands (see the README).
"""

from __future__ import annotations

import argparse
import getpass
import os
import shlex
import sys
from pathlib import Path
from typing import Sequence

from edge_runtime.sources import Source
from edge_runtime.web import is_loopback

UNIT_NAME = "signedge.service"
PATH_FLAGS = ("--model", "--hand-model", "--speak-to-file")  # flags whose values are files or folders
DROPPED_FLAGS = ("--print-systemd-unit", "--show")  # meaningless in a service
GROUPS = ("video", "audio")  # cameras and sound cards on Raspberry Pi OS
_SAFE = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-+=.,/:@%")


def systemd_quote(word: str) -> str:
    """One ExecStart word as systemd reads it: quoted when needed, ``%`` and ``$`` escaped (specifiers)."""
    escaped = word.replace("%", "%%").replace("$", "$$")
    if escaped and all(c in _SAFE or ord(c) > 127 for c in escaped):
        return escaped
    return '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'


def service_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> list[str]:
    """The flags of ``args`` (those that differ from the defaults) as the service will pass them."""
    words: list[str] = []
    for action in parser._actions:  # argparse has no public list of its actions
        if not action.option_strings or action.dest in ("help",):
            continue
        flag = max(action.option_strings, key=len)
        if flag in DROPPED_FLAGS:
            continue
        value = getattr(args, action.dest, None)
        default = action.default
        if isinstance(default, str) and callable(action.type):  # argparse converts a text default the same way
            default = action.type(default)
        if value is None or value == default or value is False:
            continue
        if isinstance(action, argparse._CountAction):  # -v -v
            words += [flag] * int(value)
        elif action.nargs == 0:  # store_true and friends
            words.append(flag)
        elif isinstance(value, Source):
            words += [flag, value.for_service()]
        else:
            text = str(value)
            if flag in PATH_FLAGS:
                text = str(Path(text).expanduser().resolve())
            words += [flag, text]
    if "--serve" not in words:
        words.append("--serve")
    return words


def _flag_value(arguments: Sequence[str], flag: str) -> str | None:
    words = list(arguments)
    return words[words.index(flag) + 1] if flag in words[:-1] else None


def command_prefix() -> list[str]:
    """How to start sign-recognize from a service: this environment's script, else ``python -m``."""
    script = Path(sys.executable).parent / "sign-recognize"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [str(Path(sys.executable).absolute()), "-m", "edge_runtime.cli.recognize"]


def systemd_unit(arguments: Sequence[str], *, user: str | None = None, workdir: Path | None = None,
                 prefix: Sequence[str] | None = None) -> str:
    """The unit file text that runs ``sign-recognize <arguments>`` at boot and restarts it on failure."""
    user = user or getpass.getuser()
    workdir = (workdir or Path.cwd()).resolve()
    command = list(prefix or command_prefix()) + list(arguments)
    exec_start = " ".join(systemd_quote(word) for word in command)
    shown = " ".join(shlex.quote(word) for word in ["sign-recognize", *arguments])
    host = _flag_value(arguments, "--host") or "127.0.0.1"
    reach = (f"# The page is at http://{host}:{_flag_value(arguments, '--port') or 8000}/ on this device only; add "
             f"--host 0.0.0.0 to see it from other computers.\n" if is_loopback(host) else
             f"# The page listens on {host}: every computer that reaches this device can see it.\n")
    return f"""\
# {UNIT_NAME}: live sign recognition with its web page, started at boot.
# Made by: sign-recognize ... --print-systemd-unit
# Runs:    {shown}
# Install: sign-recognize ... --print-systemd-unit | sudo tee /etc/systemd/system/{UNIT_NAME}
#          sudo systemctl daemon-reload && sudo systemctl enable --now {UNIT_NAME.removesuffix('.service')}
# Watch:   journalctl -u {UNIT_NAME.removesuffix('.service')} -f
{reach}[Unit]
Description=signedge live sign recognition (sign-recognize --serve)
Wants=network-online.target
After=network-online.target sound.target

[Service]
Type=simple
User={user}
SupplementaryGroups={' '.join(GROUPS)}
WorkingDirectory={str(workdir).replace('%', '%%')}
Environment=PYTHONUNBUFFERED=1
ExecStart={exec_start}
# SIGTERM ends a run like Ctrl-C: the open sign is reported and the summary written to the journal
KillSignal=SIGTERM
TimeoutStopSec=20
Restart=on-failure
RestartSec=5
StandardOutput=journal
StandardError=journal
SyslogIdentifier=signedge

[Install]
WantedBy=multi-user.target
"""
