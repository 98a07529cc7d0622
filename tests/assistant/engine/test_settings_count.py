"""The settings stay few and say what they do: at most 40 user-facing ASSISTANT_* settings, each with a help text
that describes the setting, not a benchmark diary (numbers and comparisons belong next to the constants that
replaced the tuning knobs, and in docs/benchmarks.md)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from assistant.engine.settings import Settings

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
MAX_SETTINGS = 40
# What a benchmark diary looks like: before -> after, "measured", percentages, latencies, speed-ups, doc pointers.
DIARY = [
    re.compile(r"->|→"),
    re.compile(r"\bmeasured\b|\bbenchmark|docs/bench", re.I),
    re.compile(r"\d\s*%"),
    re.compile(r"\b\d+(?:\.\d+)?\s*(?:ms|s)\b"),
    re.compile(r"\b\d+(?:\.\d+)?x\b|~\d"),
    re.compile(r"(?<![\d.])\d+\.\d+(?![\d.])"),  # a measured value such as 0.817 (not an address like 0.0.0.0)
]


def _settings(model: type[BaseModel] = Settings, prefix: str = "ASSISTANT_") -> dict[str, FieldInfo]:
    """Every setting as make_env_example.py lists it: nested groups flattened with a double underscore."""
    found: dict[str, FieldInfo] = {}
    for name, field in model.model_fields.items():
        env = f"{prefix}{name.upper()}"
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            found |= _settings(field.annotation, f"{env}__")
        else:
            found[env] = field
    return found


def _documented() -> set[str]:
    sys.path.insert(0, str(DEPLOY))
    try:
        import make_env_example
    finally:
        sys.path.remove(str(DEPLOY))
    return set(re.findall(r"^# (ASSISTANT_[A-Z0-9_]+)=", make_env_example.render(), flags=re.M))


def test_at_most_40_user_facing_settings_counted_as_the_env_example_lists_them() -> None:
    settings = _settings()
    assert set(settings) == _documented()
    assert len(settings) <= MAX_SETTINGS, f"{len(settings)} settings: make tuning knobs module constants"


@pytest.mark.parametrize("name", sorted(_settings()))
def test_each_setting_says_what_it_does_without_a_benchmark_diary(name: str) -> None:
    text = _settings()[name].description or ""
    assert len(text.split()) >= 3, f"{name} needs a help text saying what it does"
    diary = [p.pattern for p in DIARY if p.search(text)]
    assert not diary, f"{name}'s help text reads like a benchmark diary ({diary}): {text}"
