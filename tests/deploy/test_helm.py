"""The Helm chart, rendered by the real Helm engine (helm-python-sdk: Helm's Go SDK, no binary, no cluster)
and every manifest validated against the Kubernetes OpenAPI schemas (kubernetes-validate, strict)."""

from __future__ import annotations

import copy
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

from tests.deploy.settings_names import is_setting
from tests.support import ROOT

CHART = ROOT / "deploy" / "helm" / "support-assistant"
DB = {"secrets": {"databaseUrl": "postgresql+psycopg://assistant:pw@postgres.db:5432/assistant"}}
# The oldest Kubernetes the chart declares (kubeVersion >=1.27) and the newest the schemas know.
KUBE_VERSIONS = ["1.27.0", kubernetes_validate.utils.latest_version()]


def merge(base: dict, extra: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in extra.items():
        out[key] = merge(out.get(key, {}), value) if isinstance(value, dict) else value
    return out


def example(name: str) -> dict:
    return yaml.safe_load((CHART / "examples" / name).read_text())


def render(values: dict[str, Any]) -> list[dict]:
    manifests = helm.Chart.load(str(CHART)).render(values, name="support", namespace="cs")
    return [doc for path, text in sorted(manifests.items()) if path.endswith(".yaml")
            for doc in yaml.safe_load_all(text) if doc]


def find(docs: list[dict], kind: str, suffix: str) -> dict:
    matches = [d for d in docs if d["kind"] == kind and d["metadata"]["name"].endswith(suffix)]
    assert len(matches) == 1, [(d["kind"], d["metadata"]["name"]) for d in docs]
    return matches[0]


VARIANTS = {
    "defaults": DB,
    "70b-tp4": merge(DB, example("values-70b-tp4.yaml")),
    "object-store": merge(DB, example("values-object-store.yaml")),
    "no-vllm-fixed-replicas": merge(DB, {"vllm": {"enabled": False}, "app": {"autoscaling": {"enabled": False}}}),
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_rendered_manifest_is_valid_kubernetes(variant: str) -> None:
    docs = render(VARIANTS[variant])
    assert len(docs) >= 8
    for doc in docs:
        for version in KUBE_VERSIONS:
            kubernetes_validate.validate(doc, version, strict=True)


def test_the_validator_does_reject_a_broken_manifest() -> None:
    deployment = copy.deepcopy(find(render(DB), "Deployment", "-app"))
    deployment["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "eight thousand"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBE_VERSIONS[-1], strict=True)


def test_helm_lint_finds_no_warnings_or_errors() -> None:
    report = helm.lint(str(CHART), DB, strict=True)
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


def test_app_is_stateless_autoscaled_probed_and_unprivileged() -> None:
    docs = render(DB)
    app = find(docs, "Deployment", "-app")
    pod = app["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert "replicas" not in app["spec"]  # the HPA owns the replica count
    hpa = find(docs, "HorizontalPodAutoscaler", "-app")
    assert hpa["spec"]["scaleTargetRef"]["name"] == app["metadata"]["name"] and hpa["spec"]["minReplicas"] >= 2
    assert container["startupProbe"]["httpGet"]["path"] == "/readyz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["resources"]["requests"]["cpu"] and container["resources"]["requests"]["memory"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 10001
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["terminationGracePeriodSeconds"] > 30  # longer than the server's 30 s stream drain
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert mounts["/data/index"]["readOnly"] and mounts["/shared/adapters"]["readOnly"]
    assert find(docs, "PodDisruptionBudget", "-app")["spec"]["minAvailable"] == 1


def test_settings_are_real_and_secrets_stay_in_the_secret() -> None:
    docs = render(merge(DB, {"secrets": {"adminKey": "adm-123", "tokenSecret": "tok-456"}}))
    config = find(docs, "ConfigMap", "-settings")["data"]
    assert all(is_setting(key) for key in config), [k for k in config if not is_setting(k)]
    assert config["ASSISTANT_ENGINE__BACKEND"] == "openai"
    assert config["ASSISTANT_ENGINE__OPENAI_BASE_URL"] == "http://support-support-assistant-vllm:8000/v1"
    assert not any(v in str(config) for v in ("adm-123", "tok-456", "pw@postgres"))
    secret = find(docs, "Secret", "-secrets")["stringData"]
    assert secret["admin-key"] == "adm-123" and secret["database-url"].endswith("postgres.db:5432/assistant")
    env = {e["name"]: e for e in find(docs, "Deployment", "-app")["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert all(is_setting(name) for name in env if name.startswith("ASSISTANT_"))
    assert env["ASSISTANT_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["key"] == "database-url"


def test_vllm_replicas_request_gpus_for_tensor_parallelism_and_serve_adapters() -> None:
    docs = render(VARIANTS["70b-tp4"])
    vllm = find(docs, "Deployment", "-vllm")
    container = vllm["spec"]["template"]["spec"]["containers"][0]
    assert vllm["spec"]["replicas"] == 2
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 4 == container["resources"]["requests"]["nvidia.com/gpu"]
    args = container["args"]
    assert "--tensor-parallel-size=4" in args and "--enable-lora" in args
    modules = args[args.index("--lora-modules") + 1:]
    assert "support-v1=/adapters/support-v1" in modules and "billing-v2=/adapters/billing-v2" in modules
    shm = next(v for v in vllm["spec"]["template"]["spec"]["volumes"] if v["name"] == "shm")
    assert shm["emptyDir"]["medium"] == "Memory"
    service = find(docs, "Service", "-vllm")
    assert service["spec"]["selector"] == vllm["spec"]["selector"]["matchLabels"]  # one Service, all replicas


def test_index_is_rebuilt_by_a_hook_job_on_the_shared_volume_before_the_app_starts() -> None:
    docs = render(DB)
    pvc, job = find(docs, "PersistentVolumeClaim", "-shared"), find(docs, "Job", "-index")
    hooks = {d["metadata"]["name"]: d["metadata"].get("annotations", {}) for d in (pvc, job)}
    assert all("pre-install" in a["helm.sh/hook"] for a in hooks.values())
    assert int(pvc["metadata"]["annotations"]["helm.sh/hook-weight"]) < int(job["metadata"]["annotations"]
                                                                          ["helm.sh/hook-weight"])
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]
    script = job["spec"]["template"]["spec"]["containers"][0]["args"][0]
    assert "assistant kb add" in script and "--data-dir /shared" in script and "--keep-going" in script
    cron = find(docs, "CronJob", "-reindex")
    assert cron["spec"]["suspend"] is True and cron["spec"]["concurrencyPolicy"] == "Forbid"


def test_object_store_mode_syncs_into_pods_instead_of_mounting_a_volume() -> None:
    docs = render(VARIANTS["object-store"])
    assert not [d for d in docs if d["kind"] == "PersistentVolumeClaim"]
    app = find(docs, "Deployment", "-app")["spec"]["template"]["spec"]
    assert [c["args"][:2] for c in app["initContainers"]] == [
        ["copy", "s3:acme-support/assistant/index"], ["copy", "s3:acme-support/assistant/adapters"]]
    assert not [d for d in docs if d["kind"] == "Secret"]  # secrets.existingSecret is used instead
    job = find(docs, "Job", "-index")["spec"]["template"]["spec"]
    assert job["containers"][0]["args"] == ["sync", "/shared/index", "s3:acme-support/assistant/index"]


@pytest.mark.parametrize(("values", "message"), [
    ({"vllm": {"tensorParallelSize": 0}}, "/vllm/tensorParallelSize"),
    ({"image": {"tag": "latest"}}, "/image/tag"),
    ({"vllm": {"tensorParalelSize": 2}}, "tensorParalelSize"),
    ({"secrets": {"databaseUrl": "postgres://u:p@h/db"}}, "/secrets/databaseUrl"),
    ({"settings": {"company": "x"}}, "invalid propertyName 'company'"),
])
def test_bad_values_are_refused_with_the_offending_key(values: dict, message: str) -> None:
    with pytest.raises(helm.HelmValuesError) as info:
        render(merge(DB, values))
    assert message in str(info.value)


def test_missing_database_url_fails_with_a_clear_message() -> None:
    with pytest.raises(helm.HelmRenderError) as info:
        render({})
    assert "set secrets.databaseUrl" in str(info.value)
