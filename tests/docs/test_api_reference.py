"""docs/api.md is generated from the app's OpenAPI schema and must match the code (it cannot go stale)."""

from __future__ import annotations

from pathlib import Path

from assistant.server.openapi_markdown import generate, render, type_of

ROOT = Path(__file__).resolve().parents[2]


def test_committed_reference_matches_the_schema() -> None:
    committed = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    assert committed == generate(), "docs/api.md is stale: python -m assistant.server.openapi_markdown > docs/api.md"


def test_every_route_is_documented() -> None:
    from assistant.server.app import create_app

    text = generate()
    for path, ops in create_app().openapi()["paths"].items():
        for method in ops:
            assert f"### `{method.upper()} {path}`" in text


def test_types_read_as_text() -> None:
    assert type_of({"$ref": "#/components/schemas/ChatRequest"}) == "[ChatRequest](#schema-chatrequest)"
    assert type_of({"anyOf": [{"type": "string", "maxLength": 64}, {"type": "null"}]}) == "string, max length 64 \\| null"
    assert type_of({"type": "array", "items": {"enum": ["up", "down"]}}) == 'array of `"up"` \\| `"down"`'
    assert type_of({"type": "integer", "minimum": 1}) == "integer, ≥ 1"


def test_render_groups_routes_by_tag_and_lists_schemas() -> None:
    spec = {
        "info": {"title": "T", "description": "D"},
        "paths": {"/x": {"get": {"tags": ["things"], "summary": "Get X", "parameters": [
            {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer", "default": 10}}],
            "responses": {"200": {"description": "OK", "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/X"}}}}}}}},
        "components": {"schemas": {"X": {"type": "object", "required": ["id"], "properties": {
            "id": {"type": "string", "description": "The id."}}}}},
    }
    text = render(spec)
    assert "## Routes: things" in text and "### `GET /x`" in text
    assert "| `limit` | query | integer | no | `10` |  |" in text
    assert "| 200 | OK | `application/json` [X](#schema-x) |" in text
    assert "### Schema X" in text and "| `id` | string | yes |  | The id. |" in text
