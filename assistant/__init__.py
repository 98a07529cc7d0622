"""Customer-service assistant: the engine facade, HTTP server, SDK and CLI.

Importing this package is cheap; heavy modules (torch, transformers, FAISS) load only
when the facade is built. `from assistant import Assistant` is the public entry point.
"""

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from assistant.engine.facade import Assistant

__all__ = ["Assistant", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "Assistant":
        from assistant.engine.facade import Assistant

        return Assistant
    raise AttributeError(name)
