"""Step options from a YAML file and/or command-line flags, parsed into the step's dataclass.

Flags are generated from the dataclass fields (their `help` metadata becomes `--help` text) by
transformers' HfArgumentParser; `--config file.yaml` sets defaults that explicit flags override.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, TypeVar

import yaml
from transformers import HfArgumentParser

from finetune.errors import FinetuneError

T = TypeVar("T")


def load_yaml_options(path: Path, cls: type) -> dict[str, Any]:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise FinetuneError(f"cannot read config {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise FinetuneError(f"{path}: expected a mapping of option: value")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise FinetuneError(f"{path}: unknown options {unknown}; see --help for the list")
    return data


def parse_options(cls: type[T], argv: list[str] | None, description: str) -> T:
    parser = HfArgumentParser(cls, description=description)
    parser.add_argument("--config", default=None, help="YAML file of options; command-line flags override it.")
    known, _ = parser.parse_known_args(argv)
    if known.config:
        parser.set_defaults(**load_yaml_options(Path(known.config), cls))
    namespace = parser.parse_args(argv)
    values = {f.name: getattr(namespace, f.name) for f in dataclasses.fields(cls) if f.init}
    return cls(**values)


def options_dict(options: Any) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(options).items()}
