"""Bundled sample content for the fictional shop Northwind Outfitters: where each file lives.

The facts all files agree on are in FACTS.md next to this file. Code that needs the samples imports these
paths instead of rebuilding them, so the layout can change in one place.
"""

from pathlib import Path

SAMPLES_DIR = Path(__file__).resolve().parent
KB_DIR = SAMPLES_DIR / "kb"
FAQ_CSV = KB_DIR / "faq.csv"
INTENTS_CSV = SAMPLES_DIR / "intents.csv"
TEMPLATES_YAML = SAMPLES_DIR / "templates.yaml"
FACTS_MD = SAMPLES_DIR / "FACTS.md"
OUT_OF_SCOPE_INTENT = "oos"
