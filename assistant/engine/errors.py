"""The exceptions the engine raises on purpose, in one place: server routes, the CLI and the console catch these.

Each module that raises one imports it from here (and re-exports it under its old name), so
`from assistant.engine.errors import ConversationNotFound` is the one import a caller needs.
`RetrievalError` is the retrieval layer's base class, re-exported here (imported on first use:
the retrieval package takes half a second to import).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from retrieval.errors import RetrievalError


# -- customer turns ----------------------------------------------------------------------------
class InvalidMessage(ValueError):
    """The customer message is empty or too long; nothing is stored."""


class ConversationNotFound(LookupError):
    """No conversation with that id (for this site)."""


class MessageNotFound(LookupError):
    """No such message in that conversation."""


class NotHandedOff(ValueError):
    """Only a conversation a person has (status "handoff") takes an agent's message; nothing is stored."""


# -- engines (backends) ------------------------------------------------------------------------
class BackendError(RuntimeError):
    """An engine could not start or serve a request; the message is shown to operators."""


class AdapterNotFound(BackendError):
    """A request named a LoRA adapter that this backend has not loaded."""


class QueueFull(BackendError):
    """Too many requests are waiting; callers should retry later (HTTP 503 + Retry-After)."""


# -- operator data -----------------------------------------------------------------------------
class ReviewError(ValueError):
    """The review cannot be recorded as asked; the message says why. Nothing was stored."""


class RetrainRefused(ReviewError):
    """Retraining would not give a sound model (too few examples); the message explains what to add."""


class DataError(ValueError):
    """The labelled data cannot be used; the message names the file and, where it can, the line."""


class TemplateError(ValueError):
    """The templates file is invalid; the message names the file and line."""


class ModelNotFound(FileNotFoundError):
    """A configured or embedded model is missing; the message says how to install it."""


# -- sites and keys ----------------------------------------------------------------------------
class SiteError(ValueError):
    """Invalid site settings (bad id, origin, rate or widget option)."""


class SiteNotFound(LookupError):
    """No site with that id."""


class SiteExists(ValueError):
    """A site with that id exists already."""


class KeyNotFound(LookupError):
    """No key with that id for the site."""


class SiteBusy(ValueError):
    """The site cannot be deleted as asked (the default site, or open handoffs without force); nothing was deleted."""


def __getattr__(name: str) -> Any:
    if name == "RetrievalError":
        from retrieval.errors import RetrievalError

        return RetrievalError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AdapterNotFound", "BackendError", "ConversationNotFound", "DataError", "InvalidMessage", "KeyNotFound",
    "MessageNotFound", "ModelNotFound", "NotHandedOff", "QueueFull", "RetrainRefused", "RetrievalError", "ReviewError",
    "SiteBusy", "SiteError", "SiteExists", "SiteNotFound", "TemplateError",
]
