"""Render the app's OpenAPI schema as Markdown: docs/api.md, the API reference of the user guide.

    python -m assistant.server.openapi_markdown > docs/api.md      # regenerate after changing a route or schema
    python -m assistant.server.openapi_markdown --check docs/api.md

The reference is generated, never edited by hand: tests/docs/test_api_reference.py fails when the committed
file differs from what the running code's schema gives. The live schema is also served at /openapi.json and
browsable at /docs.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

INTRO = """\
Generated from the server's OpenAPI schema by `python -m assistant.server.openapi_markdown > docs/api.md`;
do not edit by hand. A running server serves the same schema at `/openapi.json` and an interactive page at `/docs`.

Authentication: a site's secret key as `Authorization: Bearer sk_...` (or `X-API-Key`), a widget session token
from `POST /v1/widget/session`, or, for `/v1/admin/*`, `X-Admin-Key`. Without `ASSISTANT_SECURITY__REQUIRE_KEYS`
(the local default) calls without a key act as the `default` site. Every error has one shape,
`{"error": {"code": "...", "message": "...", "details": ...}}`; the OpenAI-compatible routes answer in OpenAI's
error shape instead. See [the widget and sites](widget-and-sites.md) for keys, limits and the widget.
"""


def _anchor(name: str) -> str:
    return re.sub(r"[^a-z0-9_-]", "", name.lower().replace(" ", "-"))


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def type_of(schema: dict[str, Any]) -> str:
    """A short, readable type: `string`, `integer ≥ 1`, `array of [Source](#source)`, `"up" | "down"`, ..."""
    if not schema:
        return "any"
    if "$ref" in schema:
        name = _ref_name(schema["$ref"])
        return f"[{name}](#{_anchor('schema-' + name)})"
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            parts = [type_of(s) for s in schema[key]]
            return " \\| ".join(dict.fromkeys(parts))
    if "const" in schema:
        return f"`{json.dumps(schema['const'])}`"
    if "enum" in schema:
        return " \\| ".join(f"`{json.dumps(v)}`" for v in schema["enum"])
    kind = schema.get("type", "any")
    if isinstance(kind, list):
        return " \\| ".join(kind)
    if kind == "array":
        return f"array of {type_of(schema.get('items', {}))}"
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return f"object of {type_of(schema['additionalProperties'])}"
    text = kind + (f" ({schema['format']})" if "format" in schema else "")
    bounds = [f"{sign} {schema[key]}" for key, sign in (("minimum", "≥"), ("exclusiveMinimum", ">"),
                                                         ("maximum", "≤"), ("exclusiveMaximum", "<"))
              if key in schema]
    lengths = [f"{label} {schema[key]}" for key, label in (("minLength", "min length"), ("maxLength", "max length"),
                                                           ("minItems", "min items"), ("maxItems", "max items"))
               if key in schema]
    return ", ".join([text, *bounds, *lengths])


def _cell(text: Any) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _default(schema: dict[str, Any]) -> str:
    return f"`{json.dumps(schema['default'])}`" if "default" in schema else ""


def _operation(path: str, method: str, op: dict[str, Any]) -> list[str]:
    out = [f"### `{method.upper()} {path}`", ""]
    summary = op.get("summary", "")
    if summary:
        out += [f"*{summary}*", ""]
    if op.get("description"):
        out += [op["description"].strip(), ""]
    params = op.get("parameters", [])
    if params:
        out += ["| parameter | in | type | required | default | description |", "| --- | --- | --- | --- | --- | --- |"]
        for p in params:
            schema = p.get("schema", {})
            out.append(f"| `{p['name']}` | {p['in']} | {type_of(schema)} | {'yes' if p.get('required') else 'no'} | "
                       f"{_default(schema)} | {_cell(p.get('description') or schema.get('description', ''))} |")
        out.append("")
    body = op.get("requestBody")
    if body:
        for media, content in body.get("content", {}).items():
            required = " (required)" if body.get("required") else ""
            out.append(f"Request body{required}: `{media}`, {type_of(content.get('schema', {}))}")
        out.append("")
    out += ["| status | meaning | body |", "| --- | --- | --- |"]
    for status, response in op.get("responses", {}).items():
        content = response.get("content", {})
        bodies = ", ".join(f"`{media}` {type_of(c.get('schema', {}))}" if c.get("schema") else f"`{media}`"
                           for media, c in content.items())
        out.append(f"| {status} | {_cell(response.get('description', ''))} | {bodies} |")
    out.append("")
    return out


def _schema(name: str, schema: dict[str, Any]) -> list[str]:
    out = [f"### Schema {name}", ""]
    if schema.get("description"):
        out += [_cell(schema["description"]), ""]
    props = schema.get("properties")
    if props:
        required = set(schema.get("required", []))
        out += ["| field | type | required | default | description |", "| --- | --- | --- | --- | --- |"]
        for field, spec in props.items():
            out.append(f"| `{field}` | {type_of(spec)} | {'yes' if field in required else 'no'} | {_default(spec)} | "
                       f"{_cell(spec.get('description', ''))} |")
    else:
        out.append(f"Type: {type_of(schema)}")
    out.append("")
    return out


def render(spec: dict[str, Any]) -> str:
    """The whole reference: operations grouped by tag (in the order the routes were registered), then schemas."""
    info = spec.get("info", {})
    out = [f"# API reference: {info.get('title', 'API')}", ""]
    if info.get("description"):
        out += [info["description"].strip(), ""]
    out += [INTRO]
    groups: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, ops in spec.get("paths", {}).items():
        for method, op in ops.items():
            groups.setdefault((op.get("tags") or ["other"])[0], []).append((path, method, op))
    out += ["## Routes", ""]
    for tag, ops in groups.items():
        out += [f"- {tag}: " + ", ".join(f"`{m.upper()} {p}`" for p, m, _ in ops)]
    out.append("")
    for tag, ops in groups.items():
        out += [f"## Routes: {tag}", ""]
        for path, method, op in ops:
            out += _operation(path, method, op)
    schemas = spec.get("components", {}).get("schemas", {})
    if schemas:
        out += ["## Schemas", ""]
        for name in sorted(schemas, key=str.lower):
            out += _schema(name, schemas[name])
    return "\n".join(out).rstrip() + "\n"


def generate() -> str:
    """Markdown for the app as configured by default (routes and schemas do not depend on settings)."""
    from assistant.server.app import create_app

    return render(create_app().openapi())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Render the server's OpenAPI schema as Markdown (docs/api.md).")
    parser.add_argument("--check", type=Path, help="exit 1 when this file differs from the generated Markdown")
    args = parser.parse_args(argv)
    text = generate()
    if args.check:
        if not args.check.exists() or args.check.read_text(encoding="utf-8") != text:
            print(f"{args.check} is out of date: python -m assistant.server.openapi_markdown > {args.check}",
                  file=sys.stderr)
            return 1
        return 0
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
