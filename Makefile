# signedge: `make demo` sets everything up and runs the main job on synthetic demo data;
# `make test` runs the test suite (what CI runs). Both create .venv on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
DEMO_DATA ?= data/demo
DEMO_RUN  ?= runs/demo
STAMP  := $(VENV)/.installed

.PHONY: venv demo test leakage pi-check clean-demo help

help:
	@echo "make demo   - virtualenv + install, then synth -> train -> export -> recognize -> bench on demo data"
	@echo "make test   - run the test suite (what .ci/run calls)"
	@echo "make leakage - the seed's augment-then-split next to signedge's split, on the demo data"
	@echo "make pi-check - install [edge] into an emulated Raspberry Pi 4/5, recognize a real video and enroll a word there"
	@echo "make venv   - only create $(VENV) and install signedge[train,mediapipe,web,dev,quantize,cluster]"

venv: $(STAMP)

# mediapipe pulls opencv-contrib-python while the device extra asks for opencv-python-headless; both
# install the same cv2 package and the second overwrites the first. Keep exactly one: contrib (a superset,
# with GUI support for --show on a desktop).
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[train,mediapipe,web,dev,quantize,cluster]'
	$(BIN)/python -m pip uninstall -q -y opencv-python-headless
	$(BIN)/python -m pip install -q -c constraints.txt --force-reinstall --no-deps opencv-contrib-python
	$(BIN)/python -c "import cv2, tensorflow, mediapipe, ai_edge_litert, onnxruntime; print('environment ready: cv2', cv2.__version__)"
	touch $(STAMP)

# A test-split recording of the demo data (signers synth-03 and synth-05 are held out with the default seed).
DEMO_SAMPLE ?= $(DEMO_DATA)/recordings/수학/synth-03-수학-01.npz

demo: $(STAMP)
	$(BIN)/sign-synth $(DEMO_DATA) --force
	$(BIN)/sign-train $(DEMO_DATA) -o $(DEMO_RUN) --force
	$(BIN)/export-tflite $(DEMO_RUN)
	@echo "== recognize: $(DEMO_SAMPLE) is a synthetic recording of a signer the model never saw in training; the demo's accuracy (sign-train's test accuracy, printed above) is measured on such unseen synthetic signers, so a miss is possible (\"label\" is the model's answer, \"true_label\" what the recording holds)"
	$(BIN)/sign-recognize --model $(DEMO_RUN)/export/model_int8.tflite --source $(DEMO_SAMPLE) --json
	$(BIN)/sign-bench $(DEMO_RUN) --quick

# The seed's mistake next to ours, on the demo data: the table in the README.
leakage: $(STAMP)
	$(BIN)/sign-synth $(DEMO_DATA) --force
	$(BIN)/sign-train $(DEMO_DATA) -o runs/leakage --audit-leakage --force

# Device check on an emulated Raspberry Pi (needs root and ../shared/tools/pi-emu; not part of CI:
# emulation is slow and its times say nothing about Pi speed).
PI_EMU   ?= ../shared/tools/pi-emu
PI_ROOT  ?= /var/tmp/pi-root
PI_VIDEO ?= $(abspath ../shared/data/ksl-expert-videos/가족__남편.mp4)
PI_TASK  ?= $(abspath ../shared/models/hand_landmarker.task)
PI_RUN   = PI_EMU_BINDS="$(abspath ../shared)" $(PI_EMU)/run.sh $(PI_ROOT)
PI_RECOGNIZE = sign-recognize --model $(DEMO_RUN)/export/model_int8.tflite --hand-model $(PI_TASK) \
	--source $(PI_VIDEO) --json --threshold 0 --threads 4
# Derived hand bundles, built on the host (sign-models --precision) from the shared float bundle; int8 calibrated on
# every 5th shared KSL video (가족__남편 is one of them: this checks that a Pi runs the files as the host does;
# sign-parity --precision measures what they keep, on the videos left out).
PI_MODELS = $(DEMO_RUN)/pi-models
PI_RECOGNIZE_AT = sign-recognize --model $(DEMO_RUN)/export/model_int8.tflite --hand-model $(PI_MODELS)/hand_landmarker.task \
	--source $(PI_VIDEO) --json --threshold 0 --threads 4 --landmark-precision
# Enrolling on the device: a word the demo model never saw (three synthetic recordings, made on the host), taught
# to a copy of the int8 model, so that every sign-recognize run here keeps to the trained words.
PI_ENROLL_DIR  = $(DEMO_RUN)/pi-enroll
PI_ENROLL_WORD ?= 커피
PI_ENROLL = sign-enroll --model $(PI_ENROLL_DIR)/model_int8.tflite

pi-check: $(DEMO_RUN)/export/model_int8.tflite
	mkdir -p $(PI_MODELS) && cp $(PI_TASK) $(PI_MODELS)/hand_landmarker.task
	$(BIN)/sign-models --precision f16 --from-file $(PI_MODELS)/hand_landmarker.task
	$(BIN)/sign-models --precision int8 --from-file $(PI_MODELS)/hand_landmarker.task -q \
		--calibration $(dir $(PI_VIDEO)) --calibration-every 5
	@echo "== host: the same video at each landmark precision (the Pis below must report the same sign)"
	for p in f32 f16 int8; do $(BIN)/$(PI_RECOGNIZE_AT) $$p; done
	$(PI_EMU)/setup.sh $(PI_ROOT)
	$(PI_EMU)/install.sh $(PI_ROOT) "$(CURDIR)[edge]"
	@# pip keeps an installed signedge of the same version: reinstall this checkout's code itself
	PI_EMU_PIP_ARGS="--force-reinstall --no-deps" $(PI_EMU)/install.sh $(PI_ROOT) "$(CURDIR)"
	@echo "== Pi 4 (cortex-a72): litert landmarks, int8 model, no tensorflow, no mediapipe"
	PI_EMU_CPU=cortex-a72 $(PI_RUN) python3 -c "import edge_runtime.cli.recognize, edge_runtime.cli.enroll, sys; assert 'tensorflow' not in sys.modules and 'mediapipe' not in sys.modules; print('imports ok')"
	PI_EMU_CPU=cortex-a72 $(PI_RUN) $(PI_RECOGNIZE) --landmarks litert
	@echo "== Pi 4: int8 hand models (emulated times mean nothing; the sign must match the host's)"
	PI_EMU_CPU=cortex-a72 $(PI_RUN) $(PI_RECOGNIZE_AT) int8
	@echo "== Pi 4: enroll a new word from three recordings into a copy of the int8 model, then list it"
	rm -rf $(PI_ENROLL_DIR) && mkdir -p $(PI_ENROLL_DIR) && cp $(DEMO_RUN)/export/model_int8.tflite $(PI_ENROLL_DIR)/
	$(BIN)/sign-synth $(PI_ENROLL_DIR)/data --words $(PI_ENROLL_WORD) --signers 1 --per-word 3 --no-progress
	PI_EMU_CPU=cortex-a72 $(PI_RUN) $(PI_ENROLL) --word $(PI_ENROLL_WORD) --samples 3 \
		--source $(PI_ENROLL_DIR)/data/recordings/$(PI_ENROLL_WORD)/*.npz
	PI_EMU_CPU=cortex-a72 $(PI_RUN) $(PI_ENROLL) --list
	$(PI_EMU)/install.sh $(PI_ROOT) mediapipe==1.2.3
	@echo "== Pi 5 (cortex-a76): litert, then mediapipe landmarks"
	PI_EMU_CPU=cortex-a76 $(PI_RUN) $(PI_RECOGNIZE) --landmarks litert
	@echo "== Pi 5: int8 hand models, then f16 (the A76 computes in float16 here: the one place it differs)"
	PI_EMU_CPU=cortex-a76 $(PI_RUN) $(PI_RECOGNIZE_AT) int8
	PI_EMU_CPU=cortex-a76 $(PI_RUN) $(PI_RECOGNIZE_AT) f16
	PI_EMU_CPU=cortex-a76 $(PI_RUN) $(PI_RECOGNIZE) --landmarks mediapipe

$(DEMO_RUN)/export/model_int8.tflite:
	$(MAKE) demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

clean-demo:
	rm -rf $(DEMO_DATA) $(DEMO_RUN)
