"""Answer templates: loading, validation errors with file and line, rendering, thresholds, required slots."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.engine.understanding.templates import TemplateBook, TemplateError

BOOK = """\
slots:
  company: Acme
  hours: "9-17"
intents:
  track_order:
    threshold: 0.9
    templates:
      - id: track.with_id
        requires: [order_id]
        text: "Order {order_id} from {company} can be tracked online."
        sources: [order-tracking]
      - id: track.default
        text: "Track your parcel at {company}; we are open {hours}."
  greeting:
    templates:
      - id: greeting.default
        text: "Hi from {company}!"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "templates.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_renders_first_template_whose_slots_are_found(tmp_path):
    book = TemplateBook.load(write(tmp_path, BOOK), default_threshold=0.7)
    rendered = book.select("track_order", "where is NW-12345?")
    assert rendered.template_id == "track.with_id"
    assert rendered.text == "Order #NW-12345 from Acme can be tracked online."
    assert rendered.sources == ("order-tracking",)
    assert rendered.slots == {"order_id": "#NW-12345"}
    fallback = book.select("track_order", "where is my parcel")
    assert fallback.template_id == "track.default"
    assert fallback.text == "Track your parcel at Acme; we are open 9-17."


def test_thresholds_per_intent_and_default(tmp_path):
    book = TemplateBook.load(write(tmp_path, BOOK), default_threshold=0.7)
    assert book.threshold("track_order") == 0.9
    assert book.threshold("greeting") == 0.7
    assert book.select("refund", "money back?") is None


def test_settings_defaults_fill_but_file_wins(tmp_path):
    book = TemplateBook.load(write(tmp_path, BOOK), defaults={"company": "Other", "region": "EU"})
    assert book.defaults["company"] == "Acme"
    assert book.defaults["region"] == "EU"


def test_unknown_slot_fails_with_file_and_line(tmp_path):
    bad = BOOK.replace("Hi from {company}!", "Hi from {compnay}!")
    with pytest.raises(TemplateError, match=r"templates.yaml:17: .*unknown slot \{compnay\}"):
        TemplateBook.load(write(tmp_path, bad))


def test_unextractable_requirement_and_duplicate_ids_fail(tmp_path):
    with pytest.raises(TemplateError, match=r"templates.yaml:9: .*cannot extract slot 'shoe_size'"):
        TemplateBook.load(write(tmp_path, BOOK.replace("requires: [order_id]", "requires: [shoe_size]")))
    with pytest.raises(TemplateError, match="duplicate template id"):
        TemplateBook.load(write(tmp_path, BOOK.replace("id: track.default", "id: track.with_id")))


def test_bad_threshold_and_yaml_errors(tmp_path):
    with pytest.raises(TemplateError, match=r":6: threshold of track_order"):
        TemplateBook.load(write(tmp_path, BOOK.replace("threshold: 0.9", "threshold: 1.5")))
    with pytest.raises(TemplateError, match="invalid YAML"):
        TemplateBook.load(write(tmp_path, "intents: [unclosed\n"))
    with pytest.raises(TemplateError, match="attribute|plain name"):
        TemplateBook.load(write(tmp_path, BOOK.replace("{hours}", "{hours.__class__}")))


def test_bundled_sample_templates_load():
    from assistant.engine.understanding.understanding import SAMPLE_TEMPLATES

    if not SAMPLE_TEMPLATES.exists():
        pytest.skip("sample templates not written yet")
    book = TemplateBook.load(SAMPLE_TEMPLATES)
    assert book.intents
    for intent in book.intents:
        assert book.select(intent, "order NW-12345") is not None
