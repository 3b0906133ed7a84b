# signedge: `make demo` sets everything up and runs the main job on synthetic demo data;
# `make test` runs the test suite (what CI runs). Both create .venv on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
DEMO_DATA ?= data/demo
DEMO_RUN  ?= runs/demo
STAMP  := $(VENV)/.installed

.PHONY: venv demo test clean-demo help

help:
	@echo "make demo   - virtualenv + install, then synth -> train -> export -> bench -> recognize on demo data"
	@echo "make test   - run the test suite (what .ci/run calls)"
	@echo "make venv   - only create $(VENV) and install signedge[train,mediapipe,dev]"

venv: $(STAMP)

# mediapipe pulls opencv-contrib-python while the device extra asks for opencv-python-headless; both
# install the same cv2 package and the second overwrites the first. Keep exactly one: contrib (a superset,
# with GUI support for --show on a desktop).
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[train,mediapipe,dev]'
	$(BIN)/python -m pip uninstall -q -y opencv-python-headless
	$(BIN)/python -m pip install -q -c constraints.txt --force-reinstall --no-deps opencv-contrib-python
	$(BIN)/python -c "import cv2, tensorflow, mediapipe, ai_edge_litert, onnxruntime; print('environment ready: cv2', cv2.__version__)"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/sign-synth $(DEMO_DATA) --force

test: $(STAMP)
	$(BIN)/python -m pytest -q

clean-demo:
	rm -rf $(DEMO_DATA) $(DEMO_RUN)
