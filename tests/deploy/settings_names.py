"""Is an ASSISTANT_* variable name a real setting? Deployment files must not set names the app ignores."""

from __future__ import annotations

from pydantic import BaseModel

from assistant.engine.settings import Settings


def _names(model: type[BaseModel], prefix: str) -> set[str]:
    names: set[str] = set()
    for field_name, field in model.model_fields.items():
        env = f"{prefix}{field_name.upper()}"
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names |= _names(annotation, f"{env}__")
        else:
            names.add(env)
    return names


SETTING_NAMES = frozenset(_names(Settings, "ASSISTANT_"))


def is_setting(name: str) -> bool:
    return name in SETTING_NAMES
