"""PII redaction with configurable patterns: e-mails, phone numbers, card numbers, IBANs and street addresses.

Each kind is a regex plus an optional validator (Luhn for cards, mod-97 for IBANs, a shape check
for phones) so that order numbers, dates, prices and durations survive. The store's own contact
details go in `allow`, otherwise the model would never learn them. Matches are replaced by
`[KIND]` placeholders; the report counts them per kind and names the records, never the values.

    redactor = Redactor(RedactionConfig.from_yaml(Path("finetune/configs/redaction.yaml")))
    text, counts = redactor.redact("mail me at jo@example.com")  # "mail me at [EMAIL]", {"email": 1}
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from finetune.errors import FinetuneError

_STREET_SUFFIX = (r"(?:Street|St|Avenue|Ave|Road|Rd|Lane|Ln|Drive|Dr|Boulevard|Blvd|Court|Ct|Way|Place|Pl|"
                  r"Parkway|Pkwy|Terrace|Close|Square|Sq|Crescent|Highway|Hwy)")
_COMPOUND_STREET = (r"(?:straat|weg|laan|gracht|plein|kade|singel|dijk|steeg|hof|markt|straße|strasse|str\.|"
                    r"gasse|allee|platz|ring|damm|ufer)")
_POSTCODE_CITY = r"(?:,?\s+(?:\d{4}\s?[A-Z]{2}|\d{5}|[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2})(?:\s+[A-Z][a-zäöüé]+)?)?"

PATTERNS: dict[str, str] = {
    "email": r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b",
    "iban": r"\b[A-Z]{2}\d{2}(?:\s?[A-Z0-9]{4}){2,7}(?:\s?[A-Z0-9]{1,3})?\b",
    "card": r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])",
    "phone": r"(?<![\w+])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,4}\)[\s.-]?)?\d{2,4}(?:[\s.-]?\d{2,4}){1,5}(?![\w-])",
    "address": (
        # "221B Baker Street", "1600 Amphitheatre Parkway, Mountain View"
        rf"\b\d{{1,5}}[A-Za-z]?\s+(?:[A-Z][a-z]+\s+){{1,3}}{_STREET_SUFFIX}\b\.?(?:,\s+[A-Z][a-z]+(?:\s[A-Z][a-z]+)?)?"
        rf"(?:,\s+[A-Z]{{2}}\s+\d{{5}}(?:-\d{{4}})?)?{_POSTCODE_CITY}"
        # "Lindenstraat 42, 3512 BK Utrecht", "Hauptstraße 5a"
        rf"|\b[A-Z][a-zäöüß]*{_COMPOUND_STREET}\s+\d{{1,5}}(?:[-\s]?[A-Za-z])?\b{_POSTCODE_CITY}"
    ),
}


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _valid_card(match: str) -> bool:
    digits = re.sub(r"\D", "", match)
    return 13 <= len(digits) <= 19 and _luhn(digits)


def _valid_iban(match: str) -> bool:
    compact = match.replace(" ", "")
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def _valid_phone(match: str) -> bool:
    # Phones start with '+', '(' or a trunk '0', or have the North-American 3-3-4 shape; this keeps
    # prices, dates, order numbers and lists of numbers ("30 60 90 days") out.
    digits = re.sub(r"\D", "", match)
    if not 9 <= len(digits) <= 15:
        return False
    if match.startswith(("+", "(")) or digits.startswith("0"):
        return True
    return re.fullmatch(r"\d{3}[\s.-]\d{3}[\s.-]\d{4}", match) is not None


VALIDATORS: dict[str, Callable[[str], bool]] = {"card": _valid_card, "iban": _valid_iban, "phone": _valid_phone}


@dataclass
class RedactionConfig:
    """What to redact. `kinds` are built-in detectors, applied in this order; `extra` adds named regexes."""

    kinds: list[str] = field(default_factory=lambda: ["email", "iban", "card", "phone", "address"])
    extra: dict[str, str] = field(default_factory=dict)
    allow: list[str] = field(default_factory=list)  # literal strings never redacted (the store's own contacts)

    @classmethod
    def from_yaml(cls, path: Path) -> RedactionConfig:
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise FinetuneError(f"cannot read redaction config {path}: {exc}") from exc
        if not isinstance(data, dict):
            raise FinetuneError(f"{path}: expected a mapping with kinds / extra / allow")
        unknown = set(data) - {"kinds", "extra", "allow"}
        if unknown:
            raise FinetuneError(f"{path}: unknown keys {sorted(unknown)}; use kinds, extra, allow")
        return cls(**data)


class Redactor:
    def __init__(self, config: RedactionConfig | None = None) -> None:
        self.config = config or RedactionConfig()
        self._rules: list[tuple[str, re.Pattern[str]]] = []
        for kind in self.config.kinds:
            if kind not in PATTERNS:
                raise FinetuneError(f"unknown redaction kind {kind!r}; built-ins are {', '.join(PATTERNS)}")
            self._rules.append((kind, re.compile(PATTERNS[kind])))
        for name, pattern in self.config.extra.items():
            try:
                self._rules.append((name, re.compile(pattern)))
            except re.error as exc:
                raise FinetuneError(f"redaction pattern {name!r} is not a valid regex: {exc}") from exc
        self._allow = sorted({a for a in self.config.allow if a}, key=len, reverse=True)

    def redact(self, text: str) -> tuple[str, Counter[str]]:
        counts: Counter[str] = Counter()
        # Allowed strings are swapped for inert tokens first so no rule can match inside them.
        shelter = {f"\x00{chr(0xE000 + i)}\x00": value for i, value in enumerate(self._allow)}
        for token, value in shelter.items():
            text = text.replace(value, token)
        for kind, regex in self._rules:
            validator = VALIDATORS.get(kind)

            def replace(match: re.Match[str], kind: str = kind, validator=validator) -> str:
                if validator is not None and not validator(match.group(0)):
                    return match.group(0)
                counts[kind] += 1
                return f"[{kind.upper()}]"

            text = regex.sub(replace, text)
        for token, value in shelter.items():
            text = text.replace(token, value)
        return text, counts
