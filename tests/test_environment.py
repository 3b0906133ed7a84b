"""The installed environment as `make venv` promises it: one OpenCV, and the device core free of TensorFlow."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata

OPENCV_DISTRIBUTIONS = ("opencv-python", "opencv-python-headless", "opencv-contrib-python",
                        "opencv-contrib-python-headless")


def test_exactly_one_opencv_distribution_provides_cv2():
    """Two OpenCV wheels write the same cv2 package over each other; the later one wins file by file."""
    installed = []
    for name in OPENCV_DISTRIBUTIONS:
        try:
            installed.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    assert len(installed) == 1, f"expected one OpenCV distribution, found: {installed or 'none'}"


def test_importing_the_device_core_loads_no_tensorflow():
    code = ("import sys, edge_runtime, edge_runtime.spec, edge_runtime.dataset, edge_runtime.classifier, "
            "edge_runtime.recognizer, edge_runtime.landmarks.litert, edge_runtime.capture; "
            "print(sorted(m for m in ('tensorflow', 'keras', 'mediapipe') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]"
