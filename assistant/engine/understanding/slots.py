"""Slot extraction: values a template needs that only the customer's message can supply.

Each extractor is a compiled pattern plus a normaliser, so `#nw 48213`, `NW-48213` and
`order 48213` all render as the store's canonical `#NW-48213`.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# Order numbers of the sample store look like #NW-48213; people also type "nw48213" or "order 48213".
_ORDER_ID = re.compile(r"(?:#\s*)?\bNW[\s-]?(\d{5})\b|\border\s*(?:number|no\.?|#)?\s*#?\s*(\d{5})\b", re.I)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")


def _order_id(text: str) -> str | None:
    match = _ORDER_ID.search(text)
    if not match:
        return None
    return f"#NW-{match.group(1) or match.group(2)}"


def _email(text: str) -> str | None:
    match = _EMAIL.search(text)
    return match.group(0) if match else None


EXTRACTORS: dict[str, Callable[[str], str | None]] = {
    "order_id": _order_id,
    "email": _email,
}


def extract_slots(text: str, names: list[str] | None = None) -> dict[str, str]:
    """Values of the named slots (all known ones when `names` is None) found in `text`."""
    wanted = EXTRACTORS.keys() if names is None else [n for n in names if n in EXTRACTORS]
    found: dict[str, str] = {}
    for name in wanted:
        value = EXTRACTORS[name](text)
        if value is not None:
            found[name] = value
    return found
