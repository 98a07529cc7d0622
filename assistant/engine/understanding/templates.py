"""Answer templates: a YAML book mapping intents to curated replies with slots and a confidence threshold.

Schema:
    slots: {company: ..., business_hours: ...}        # defaults usable as {name}
    intents:
      track_order:
        threshold: 0.80                               # optional; else the configured default
        templates:
          - id: track_order.default
            text: "... {order_id} ..."
            requires: [order_id]                      # optional: slots extracted from the message
            sources: [order-tracking]                 # optional: doc ids backing the facts

Every placeholder must be a default slot or an extractable one (see slots.py); anything else
fails at load time with the file and line, so a typo never reaches a customer.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from assistant.engine.errors import TemplateError  # noqa: F401 - re-exported
from assistant.engine.understanding.slots import EXTRACTORS, extract_slots


@dataclass(frozen=True)
class Template:
    id: str
    intent: str
    text: str
    requires: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    line: int = 0

    @property
    def placeholders(self) -> set[str]:
        return {name for _, name, _, _ in string.Formatter().parse(self.text) if name}


@dataclass(frozen=True)
class RenderedTemplate:
    template_id: str
    intent: str
    text: str
    sources: tuple[str, ...]
    slots: dict[str, str]  # the values extracted from the message
    filled: dict[str, str] = field(default_factory=dict)  # every placeholder's value, defaults included


@dataclass
class TemplateBook:
    defaults: dict[str, str] = field(default_factory=dict)
    thresholds: dict[str, float] = field(default_factory=dict)
    by_intent: dict[str, list[Template]] = field(default_factory=dict)
    default_threshold: float = 0.8
    source: str = ""

    @property
    def intents(self) -> list[str]:
        return sorted(self.by_intent)

    def threshold(self, intent: str) -> float:
        return self.thresholds.get(intent, self.default_threshold)

    def get(self, template_id: str) -> Template | None:
        for templates in self.by_intent.values():
            for template in templates:
                if template.id == template_id:
                    return template
        return None

    def select(self, intent: str, message: str, extra_slots: dict[str, str] | None = None) -> RenderedTemplate | None:
        """The first template of `intent` whose extractable slots are all found in `message`."""
        templates = self.by_intent.get(intent, [])
        if not templates:
            return None
        found = extract_slots(message)
        values = {**self.defaults, **(extra_slots or {}), **found}
        for template in templates:
            needed = set(template.requires) | (template.placeholders & EXTRACTORS.keys())
            if needed - found.keys():
                continue
            return RenderedTemplate(
                template_id=template.id,
                intent=intent,
                text=template.text.format_map(values),
                sources=template.sources,
                slots={k: v for k, v in found.items() if k in needed},
                filled={name: str(values[name]) for name in template.placeholders},
            )
        return None

    @classmethod
    def empty(cls, default_threshold: float = 0.8) -> TemplateBook:
        return cls(default_threshold=default_threshold)

    @classmethod
    def load(cls, path: str | Path, default_threshold: float = 0.8,
             defaults: dict[str, str] | None = None) -> TemplateBook:
        """Parse and validate `path`; `defaults` (e.g. the company name from settings) fill unset slots."""
        path = Path(path)
        if not path.is_file():
            raise TemplateError(f"{path}: templates file not found")
        return cls.parse(path.read_text(encoding="utf-8"), path, default_threshold, defaults)

    @classmethod
    def parse(cls, text: str, name: str | Path, default_threshold: float = 0.8,
              defaults: dict[str, str] | None = None) -> TemplateBook:
        """Parse and validate YAML `text` (errors name `name` and the line): a file's, or one template edited in
        the console (template_versions.py), so both pass the same checks."""
        path = Path(name)
        try:
            root = yaml.compose(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f":{mark.line + 1}" if mark is not None else ""
            raise TemplateError(f"{path}{where}: invalid YAML ({getattr(exc, 'problem', exc)})") from exc
        return _Parser(path, default_threshold).parse(root, defaults or {})


class _Parser:
    """Walks the composed YAML nodes (not plain dicts) so every error can name its line."""

    def __init__(self, path: Path, default_threshold: float) -> None:
        self.path = path
        self.default_threshold = default_threshold

    def fail(self, node: yaml.Node | None, message: str) -> TemplateError:
        line = f":{node.start_mark.line + 1}" if node is not None else ""
        return TemplateError(f"{self.path}{line}: {message}")

    def mapping(self, node: yaml.Node | None, what: str) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, f"{what} must be a mapping")
        return {str(key.value): (key, value) for key, value in node.value}

    def scalar(self, node: yaml.Node, what: str) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            raise self.fail(node, f"{what} must be a single value")
        return yaml.safe_load(yaml.serialize(node))

    def names(self, node: yaml.Node | None, what: str) -> tuple[str, ...]:
        if node is None:
            return ()
        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, f"{what} must be a list")
        return tuple(str(self.scalar(item, what)) for item in node.value)

    def parse(self, root: yaml.Node | None, defaults: dict[str, str]) -> TemplateBook:
        top = self.mapping(root, "the templates file")
        unknown = set(top) - {"slots", "intents"}
        if unknown:
            key = top[sorted(unknown)[0]][0]
            raise self.fail(key, f"unknown top-level key {key.value!r} (expected slots, intents)")
        slot_values = dict(defaults)
        if "slots" in top:
            for name, (key, value) in self.mapping(top["slots"][1], "slots").items():
                if not name.isidentifier():
                    raise self.fail(key, f"slot name {name!r} is not an identifier")
                slot_values[name] = str(self.scalar(value, f"slot {name}"))
        book = TemplateBook(defaults=slot_values, default_threshold=self.default_threshold, source=str(self.path))
        if "intents" not in top:
            raise self.fail(root, "missing 'intents'")
        seen_ids: set[str] = set()
        for intent, (key, body) in self.mapping(top["intents"][1], "intents").items():
            fields = self.mapping(body, f"intent {intent}")
            if "threshold" in fields:
                value_node = fields["threshold"][1]
                threshold = self.scalar(value_node, "threshold")
                if not isinstance(threshold, int | float) or not 0.0 <= float(threshold) <= 1.0:
                    raise self.fail(value_node, f"threshold of {intent} must be a number in [0, 1]")
                book.thresholds[intent] = float(threshold)
            if "templates" not in fields:
                raise self.fail(key, f"intent {intent} has no templates")
            seq = fields["templates"][1]
            if not isinstance(seq, yaml.SequenceNode) or not seq.value:
                raise self.fail(seq, f"templates of {intent} must be a non-empty list")
            book.by_intent[intent] = [self.template(intent, item, slot_values, seen_ids) for item in seq.value]
        return book

    def template(self, intent: str, node: yaml.Node, slot_values: dict[str, str], seen: set[str]) -> Template:
        fields = self.mapping(node, f"a template of {intent}")
        for required in ("id", "text"):
            if required not in fields:
                raise self.fail(node, f"a template of {intent} has no {required!r}")
        template_id = str(self.scalar(fields["id"][1], "id"))
        if template_id in seen:
            raise self.fail(fields["id"][1], f"duplicate template id {template_id!r}")
        seen.add(template_id)
        text_node = fields["text"][1]
        text = str(self.scalar(text_node, "text"))
        requires = self.names(fields.get("requires", (None, None))[1], "requires")
        for name in requires:
            if name not in EXTRACTORS:
                raise self.fail(fields["requires"][1],
                                f"template {template_id}: cannot extract slot {name!r} "
                                f"(extractable: {', '.join(sorted(EXTRACTORS))})")
        try:
            parsed = list(string.Formatter().parse(text))
        except ValueError as exc:
            raise self.fail(text_node, f"template {template_id}: bad placeholder syntax ({exc})") from exc
        for _, name, spec, conversion in parsed:
            if name is None:
                continue
            if not name.isidentifier() or spec or conversion:
                raise self.fail(text_node, f"template {template_id}: placeholder {{{name}}} must be a plain name")
            if name not in slot_values and name not in EXTRACTORS:
                raise self.fail(text_node, f"template {template_id}: unknown slot {{{name}}} "
                                           f"(define it under 'slots' or use an extractable slot)")
        return Template(
            id=template_id, intent=intent, text=text, requires=requires,
            sources=self.names(fields.get("sources", (None, None))[1], "sources"),
            line=text_node.start_mark.line + 1,
        )
