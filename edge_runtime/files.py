"""Writing files so that a crash or a bad input never leaves half a file behind."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; it becomes ``path`` only if the block succeeds.

    The temporary file is flushed to the disk before the rename and the folder after it, so a power cut leaves
    either the old file or the whole new one.

    The temporary name keeps the final suffix (``suffix`` overrides it) because
    some writers (``np.savez``, converters) look at the extension.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=suffix if suffix is not None else final.suffix,
                               dir=final.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; the final file gets the usual permissions
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        _sync(tmp_path)
        os.replace(tmp_path, final)
        _sync(final.parent)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _sync(path: Path) -> None:
    """Flush a file's (or a folder's) bytes to the disk: on a device that loses power (a Pi's SD card) a rename
    can otherwise reach the disk before the data it names, leaving an empty file under the final name."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # e.g. a folder that cannot be opened on this platform: nothing more to do
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems (and folders on some platforms) refuse fsync; the write itself stands
        pass
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | os.PathLike[str], text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: str | os.PathLike[str], data: Any) -> None:
    write_text(path, json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False) + "\n")


def sha256_file(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
