"""deploy/compose.yaml against the Compose Specification JSON schema (the copy vendored by check-jsonschema),
as written and after interpolation with deploy/.env.example, plus the wiring a schema cannot see."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.deploy.settings_names import is_setting
from tests.support import ROOT

DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}; $$ escapes a literal $.
_REFERENCE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


def env_example() -> dict[str, str]:
    pairs = (line.split("=", 1) for line in (DEPLOY / ".env.example").read_text().splitlines()
             if line and not line.startswith("#") and "=" in line)
    return {k: v for k, v in pairs}


def interpolate(text: str, env: dict[str, str]) -> str:
    def one(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.groups()
        value = env.get(name)
        if op in (":?", "?") and not value:
            raise KeyError(f"{name} is required: {arg}")
        if value is None or (op == ":-" and value == ""):
            return arg or ""
        return value

    return _REFERENCE.sub(one, text)


def schema() -> dict:
    source = resources.files("check_jsonschema") / "builtin_schemas" / "vendor" / "compose-spec.json"
    return json.loads(source.read_text())


def errors(document: dict) -> list[str]:
    validator_cls = jsonschema.validators.validator_for(schema())
    return [f"{list(e.path)}: {e.message}" for e in validator_cls(schema()).iter_errors(document)]


def test_compose_file_matches_the_compose_specification() -> None:
    assert errors(yaml.safe_load(COMPOSE.read_text())) == []
    cli = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
                          str(COMPOSE)], capture_output=True, text=True)
    assert cli.returncode == 0, cli.stdout + cli.stderr


def test_interpolated_with_the_example_env_it_is_still_valid() -> None:
    resolved = yaml.safe_load(interpolate(COMPOSE.read_text(), env_example()))
    assert errors(resolved) == []
    app = resolved["services"]["app"]
    assert app["environment"]["ASSISTANT_DATABASE_URL"] == \
        "postgresql+psycopg://assistant:change-me@postgres:5432/assistant"
    assert resolved["services"]["vllm"]["command"][-1] == "support-v1=/adapters/support-v1"


def test_a_missing_required_variable_is_caught() -> None:
    env = env_example()
    del env["POSTGRES_PASSWORD"]
    with pytest.raises(KeyError, match="POSTGRES_PASSWORD"):
        interpolate(COMPOSE.read_text(), env)


def test_wiring_images_variables_and_files() -> None:
    text = COMPOSE.read_text()
    compose = yaml.safe_load(text)
    services = compose["services"]
    assert {"app", "vllm", "postgres", "prometheus"} <= set(services)
    defined = set(env_example())
    used = {m.group(1) for m in _REFERENCE.finditer(text) if m.group(1)}
    assert used <= defined, f"not documented in deploy/.env.example: {sorted(used - defined)}"
    for name, service in services.items():
        image = interpolate(service["image"], env_example())
        assert ":" in image and not image.endswith(":latest"), f"{name}: pin the image tag ({image})"
        for dependency in service.get("depends_on", {}):
            assert dependency in services
    app = services["app"]
    assert all(is_setting(key) for key in app["environment"]), list(app["environment"])
    assert (DEPLOY / app["build"]["context"] / app["build"]["dockerfile"]).resolve().is_file()
    assert app["depends_on"]["postgres"]["condition"] == "service_healthy"
    vllm = services["vllm"]
    assert "--enable-lora" in vllm["command"] and "--lora-modules" in vllm["command"]
    assert vllm["deploy"]["resources"]["reservations"]["devices"][0]["capabilities"] == ["gpu"]
    assert services["prometheus"]["profiles"] == ["monitoring"]
    prometheus = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    targets = {t.split(":")[0] for job in prometheus["scrape_configs"] for c in job["static_configs"]
               for t in c["targets"]}
    assert targets <= set(services)


def test_env_example_is_current_and_documents_every_setting() -> None:
    sys.path.insert(0, str(DEPLOY))
    try:
        import make_env_example
    finally:
        sys.path.remove(str(DEPLOY))
    text = (DEPLOY / ".env.example").read_text()
    assert text == make_env_example.render(), "stale: run python deploy/make_env_example.py"
    documented = set(re.findall(r"^# (ASSISTANT_[A-Z0-9_]+)=", text, flags=re.M))
    from tests.deploy.settings_names import SETTING_NAMES

    assert documented == SETTING_NAMES
    check = subprocess.run([sys.executable, str(DEPLOY / "make_env_example.py"), "--check"], capture_output=True)
    assert check.returncode == 0, check.stderr


def test_env_example_check_detects_drift(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sys.path.insert(0, str(DEPLOY))
    try:
        import make_env_example
    finally:
        sys.path.remove(str(DEPLOY))
    stale = tmp_path / ".env.example"
    stale.write_text((DEPLOY / ".env.example").read_text().replace("ASSISTANT_ENGINE__BACKEND=auto", ""))
    monkeypatch.setattr(make_env_example, "TARGET", stale)
    monkeypatch.setattr(sys, "argv", ["make_env_example.py", "--check"])
    assert make_env_example.main() == 1
