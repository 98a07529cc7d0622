"""PII redaction applied before anything is stored or analysed: e-mail, card, IBAN, phone and IP addresses.

    >>> Redactor().redact("Mail jo@example.com or call +44 20 7946 0958")
    'Mail [EMAIL] or call [PHONE]'

Detectors that have a checksum use it (Luhn for cards, mod-97 for IBANs), so order numbers
and dates survive. Every built-in detector runs (REDACT_KINDS); extra patterns come from the
settings (security.redact_patterns). The facade calls `redact(text, settings.security)` before it
persists a turn.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from assistant.engine.security import SecurityConfig

REDACT_PII = True  # PII is redacted before anything is stored (False only in tests that read the raw text)
REDACT_KINDS = ("email", "card", "iban", "phone", "ip")  # every built-in detector runs

_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
_CARD = re.compile(r"(?<![\w-])\d(?:[ -]?\d){12,18}(?![\w-])")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]){11,30}\b")
# International (+ or 00 prefix), separated groups (555-123-4567, (020) 7946 0958), or a bare
# Chinese mobile number (11 digits starting 13-19). Bare digit runs stay: they are order numbers.
_PHONE = re.compile(
    r"(?<![\w+])(?:(?:\+|00)\d{1,3}[\s.-]?)?(?:\(\d{1,4}\)[\s.-]?)?\d{2,4}(?:[\s.-]\d{2,4}){1,4}(?![\w-])"
    r"|(?<![\w+])(?:\+|00)\d{8,14}(?!\w)"
    r"|(?<!\d)1[3-9]\d{9}(?!\d)"
)
_IPV4 = re.compile(r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?![\d.])")
_DATE_LIKE = re.compile(r"^\d{4}[-./]\d{1,2}[-./]\d{1,2}$|^\d{1,2}[-./]\d{1,2}[-./]\d{2,4}$")


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def luhn_ok(number: str) -> bool:
    digits = [int(d) for d in _digits(number)]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return len(digits) >= 13 and total % 10 == 0


def iban_ok(candidate: str) -> bool:
    s = candidate.replace(" ", "")
    if not 15 <= len(s) <= 34:
        return False
    rearranged = s[4:] + s[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def _phone_ok(match: str) -> bool:
    digits = _digits(match)
    if _DATE_LIKE.match(match.strip()):
        return False
    return 9 <= len(digits) <= 15


@dataclass(frozen=True)
class Detector:
    label: str
    pattern: re.Pattern[str]
    check: Callable[[str], bool] | None = None


BUILTIN: dict[str, Detector] = {
    "email": Detector("EMAIL", _EMAIL),
    "iban": Detector("IBAN", _IBAN, iban_ok),
    "card": Detector("CARD", _CARD, luhn_ok),
    "phone": Detector("PHONE", _PHONE, _phone_ok),
    "ip": Detector("IP", _IPV4),
}


@dataclass(frozen=True)
class Finding:
    label: str
    start: int
    end: int


class Redactor:
    """Replaces each detected span with `[LABEL]`. Detectors run in order; earlier ones win overlaps."""

    def __init__(self, kinds: Iterable[str] = ("email", "card", "iban", "phone", "ip"),
                 patterns: Mapping[str, str] | None = None) -> None:
        unknown = [k for k in kinds if k not in BUILTIN]
        if unknown:
            raise ValueError(f"unknown PII detector(s) {unknown}; choose from {sorted(BUILTIN)}")
        # Checksummed and exact detectors first, so a card or IP address is not half-eaten as a phone number.
        order = ["email", "iban", "card", "ip", "phone"]
        self.detectors = [BUILTIN[k] for k in order if k in set(kinds)]
        for label, regex in (patterns or {}).items():
            try:
                compiled = re.compile(regex)
            except re.error as exc:
                raise ValueError(f"redaction pattern {label!r} is not a valid regular expression: {exc}") from exc
            self.detectors.append(Detector(label.upper(), compiled))

    def find(self, text: str) -> list[Finding]:
        taken: list[Finding] = []
        for det in self.detectors:
            for m in det.pattern.finditer(text):
                if not m.group(0) or (det.check and not det.check(m.group(0))):
                    continue
                if any(m.start() < f.end and f.start < m.end() for f in taken):
                    continue
                taken.append(Finding(det.label, m.start(), m.end()))
        return sorted(taken, key=lambda f: f.start)

    def redact(self, text: str) -> str:
        out, pos = [], 0
        for f in self.find(text):
            out.append(text[pos:f.start])
            out.append(f"[{f.label}]")
            pos = f.end
        out.append(text[pos:])
        return "".join(out)

    def counts(self, text: str) -> dict[str, int]:
        """How many spans of each label `text` holds (for redaction reports)."""
        result: dict[str, int] = {}
        for f in self.find(text):
            result[f.label] = result.get(f.label, 0) + 1
        return result


@lru_cache(maxsize=16)
def _cached(kinds: tuple[str, ...], patterns: tuple[tuple[str, str], ...]) -> Redactor:
    return Redactor(kinds, dict(patterns))


def redactor_for(config: SecurityConfig | None = None) -> Redactor | None:
    """The built-in detectors plus `config`'s extra patterns, or None when redaction is switched off."""
    config = config or SecurityConfig()
    if not REDACT_PII:
        return None
    return _cached(tuple(REDACT_KINDS), tuple(sorted(config.redact_patterns.items())))


def redact(text: str, config: SecurityConfig | None = None) -> str:
    """Redact `text` as configured (default: all built-in detectors); unchanged when redaction is off."""
    redactor = redactor_for(config)
    return redactor.redact(text) if redactor and text else text
