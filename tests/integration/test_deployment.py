"""Deployment assets (issue 12): the Kustomize overlays rendered and checked against the Kubernetes schemas,
docker-compose.yml against the compose spec, the Prometheus scrape config and the Grafana dashboard.
Offline: `kubectl kustomize` needs no cluster, both validators ship their schemas."""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from bootstrap.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE = ROOT / "docker-compose.yml"
K8S_VERSION = "1.32"
LAYERS = ["base", "overlays/dev", "overlays/prod"]
API_PORT, METRICS_PORT = 8000, 9100
# the names the dashboard may query: those of issue 12 (histograms by their _bucket series)
METRICS = {
    "supplytrace_outbox_pending", "supplytrace_outbox_oldest_pending_age_seconds", "supplytrace_outbox_failed",
    "supplytrace_outbox_parked", "supplytrace_events_handled_total", "supplytrace_handler_duration_seconds_bucket",
    "supplytrace_commit_to_handled_seconds_bucket", "supplytrace_kafka_consumer_lag",
    "supplytrace_http_requests_total", "supplytrace_http_request_duration_seconds_bucket",
}
# read by the CLI (`db grant --password-env`) or by the metrics servers of `worker`, `relay`, `consume`
NOT_SETTINGS = {"SUPPLYTRACE_DB_RUNTIME_PASSWORD", "SUPPLYTRACE_METRICS_PORT"}
SETTINGS = {f"SUPPLYTRACE_{name.upper()}" for name in Settings.model_fields} | NOT_SETTINGS


@functools.cache
def rendered(layer: str) -> tuple[dict[str, Any], ...]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl is not installed: tests/integration/test_deployment.py renders deploy/k8s with "
                    "`kubectl kustomize` (no cluster needed); install kubectl >= 1.27", pytrace=False)
    done = subprocess.run([kubectl, "kustomize", str(DEPLOY / "k8s" / layer)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, f"kubectl kustomize {layer} failed:\n{done.stderr}"
    return tuple(doc for doc in yaml.safe_load_all(done.stdout) if doc)


def objects(layer: str, kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in rendered(layer) if o["kind"] == kind}


def pod_specs(layer: str) -> dict[str, dict[str, Any]]:
    specs = {}
    for o in rendered(layer):
        if o["kind"] in ("Deployment", "Job"):
            specs[o["metadata"]["name"]] = o["spec"]["template"]["spec"]
        elif o["kind"] == "CronJob":
            specs[o["metadata"]["name"]] = o["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return specs


def container(layer: str, deployment: str) -> dict[str, Any]:
    return objects(layer, "Deployment")[deployment]["spec"]["template"]["spec"]["containers"][0]


def settings(layer: str) -> dict[str, str]:
    (config,) = objects(layer, "ConfigMap").values()
    return config["data"]


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.mark.parametrize("layer", LAYERS)
def test_every_rendered_object_matches_the_kubernetes_schemas(layer: str) -> None:
    kinds = []
    for o in rendered(layer):
        kubernetes_validate.validate(o, K8S_VERSION, strict=True)  # strict: no unknown field either
        kinds.append(o["kind"])
    assert {"ConfigMap", "Service", "Deployment", "Job"} <= set(kinds)
    print(f"{layer}: {len(kinds)} objects valid against Kubernetes {K8S_VERSION}: {', '.join(sorted(kinds))}")


def test_the_schema_check_refuses_an_unknown_field() -> None:
    api = json.loads(json.dumps(objects("base", "Deployment")["supplytrace-api"]))
    api["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(api, K8S_VERSION, strict=True)


@pytest.mark.parametrize("layer", LAYERS)
def test_every_workload_runs_non_root_on_a_read_only_root_within_limits(layer: str) -> None:
    specs = pod_specs(layer)
    assert specs
    for name, spec in specs.items():
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["runAsUser"] == 10001, name  # the Dockerfile's user
        assert spec["automountServiceAccountToken"] is False, name
        for c in spec["containers"]:
            assert c["securityContext"]["readOnlyRootFilesystem"] is True, name
            assert c["securityContext"]["allowPrivilegeEscalation"] is False, name
            assert c["securityContext"]["capabilities"]["drop"] == ["ALL"], name
            for bound in ("requests", "limits"):
                assert set(c["resources"][bound]) == {"cpu", "memory"}, (name, bound)


@pytest.mark.parametrize("layer", LAYERS)
def test_secrets_are_referenced_never_committed(layer: str) -> None:
    assert not objects(layer, "Secret")
    for name, spec in pod_specs(layer).items():
        refs = [s["secretRef"]["name"] for c in spec["containers"] for s in c["envFrom"] if "secretRef" in s]
        # the owner's database URL reaches the migration only; everyone else connects as the runtime role
        assert refs == (["supplytrace", "supplytrace-owner"] if name == "supplytrace-migrate" else ["supplytrace"])
        assert not any("secret" in e["name"].lower() or "url" in e["name"].lower()
                       for c in spec["containers"] for e in c.get("env", [])), name


@pytest.mark.parametrize("layer", LAYERS)
def test_the_configmap_holds_real_settings(layer: str) -> None:
    assert set(settings(layer)) <= SETTINGS
    for spec in pod_specs(layer).values():
        for c in spec["containers"]:
            assert {e["name"] for e in c.get("env", [])} <= SETTINGS


@pytest.mark.parametrize("layer", LAYERS)
def test_the_api_has_probes_and_a_service(layer: str) -> None:
    api = container(layer, "supplytrace-api")
    assert api["args"] == ["serve", "--host", "0.0.0.0", "--port", str(API_PORT), "--no-worker"]
    assert api["ports"] == [{"name": "http", "containerPort": API_PORT}]
    assert api["livenessProbe"]["httpGet"] == {"path": "/live", "port": "http"}
    assert api["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
    service = objects(layer, "Service")["supplytrace-api"]
    labels = objects(layer, "Deployment")["supplytrace-api"]["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == "http"


@pytest.mark.parametrize("layer", LAYERS)
def test_the_delivery_processes_expose_their_metrics_port(layer: str) -> None:
    deployments = set(objects(layer, "Deployment")) - {"supplytrace-api"}
    assert deployments
    for name in deployments:
        c = container(layer, name)
        assert {"name": "metrics", "containerPort": METRICS_PORT} in c["ports"], name
        assert {"name": "SUPPLYTRACE_METRICS_PORT", "value": str(METRICS_PORT)} in c["env"], name
        assert c["livenessProbe"]["httpGet"]["port"] == "metrics", name


@pytest.mark.parametrize("layer", LAYERS)
def test_the_migrate_job_upgrades_then_grants_the_runtime_role(layer: str) -> None:
    job = objects(layer, "Job")["supplytrace-migrate"]["spec"]["template"]["spec"]
    script = " ".join(job["containers"][0]["command"] + job["containers"][0]["args"])
    assert re.search(r"supplytrace db upgrade && supplytrace db grant --runtime-role supplytrace_app "
                     r"--password-env SUPPLYTRACE_DB_RUNTIME_PASSWORD$", script)
    assert job["restartPolicy"] == "Never"


def test_dev_polls_with_one_replica_each() -> None:
    assert settings("overlays/dev")["SUPPLYTRACE_EVENT_MODE"] == "polling"
    deployments = objects("overlays/dev", "Deployment")
    assert set(deployments) == {"supplytrace-api", "supplytrace-relay"}  # `consume` refuses polling mode
    assert container("overlays/dev", "supplytrace-relay")["args"] == ["worker"]
    assert {d["spec"]["replicas"] for d in deployments.values()} == {1}
    assert not objects("overlays/dev", "CronJob")  # `worker` purges by itself


def test_prod_runs_kafka_mode_with_replicas_and_disruption_budgets() -> None:
    config = settings("overlays/prod")
    assert config["SUPPLYTRACE_EVENT_MODE"] == "kafka"
    assert config["SUPPLYTRACE_ENV"] == "production" and config["SUPPLYTRACE_DEMO_USERS"] == "false"
    deployments = objects("overlays/prod", "Deployment")
    assert set(deployments) == {"supplytrace-api", "supplytrace-relay", "supplytrace-consumer"}
    budgets = objects("overlays/prod", "PodDisruptionBudget")
    for name, deployment in deployments.items():
        replicas = deployment["spec"]["replicas"]
        assert replicas >= 2, name
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        (budget,) = [b for b in budgets.values() if b["spec"]["selector"]["matchLabels"].items() <= labels.items()]
        assert budget["spec"].get("minAvailable", 0) < replicas, name  # a node can still be drained
    assert "supplytrace-retention" in objects("overlays/prod", "CronJob")


def _check_compose_spec(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
                           str(path)], capture_output=True, text=True, timeout=120)


def test_the_compose_file_matches_the_compose_spec(tmp_path: Path) -> None:
    done = _check_compose_spec(COMPOSE)
    assert done.returncode == 0, done.stdout + done.stderr
    print(f"docker-compose.yml: {done.stdout.strip()}")
    broken = tmp_path / "docker-compose.yml"  # and the check does refuse what Compose would
    broken.write_text(COMPOSE.read_text().replace("    restart: unless-stopped", "    restarts: unless-stopped", 1))
    assert _check_compose_spec(broken).returncode != 0


def test_every_compose_service_has_a_healthcheck_and_kafka_a_volume() -> None:
    services = compose()["services"]
    assert {"postgres", "kafka", "migrate", "api", "relay", "consumer", "prometheus", "grafana"} <= set(services)
    for name, service in services.items():
        if name != "migrate":  # one-shot: the others wait for it to complete successfully
            assert service["healthcheck"]["test"], name
    assert "/ready" in " ".join(services["api"]["healthcheck"]["test"])
    for name in ("relay", "consumer"):
        assert f":{METRICS_PORT}/metrics" in " ".join(services[name]["healthcheck"]["test"]), name
    log_dirs = services["kafka"]["environment"]["KAFKA_LOG_DIRS"]
    assert f"kafkadata:{log_dirs}" in services["kafka"]["volumes"]
    assert "kafkadata" in compose()["volumes"]


def test_compose_keeps_the_broker_mode_stack_and_adds_monitoring_as_a_profile() -> None:
    services = compose()["services"]
    assert services["api"]["command"] == ["serve", "--host", "0.0.0.0", "--port", str(API_PORT), "--no-worker"]
    assert services["relay"]["command"] == ["relay"] and services["consumer"]["command"] == ["consume"]
    assert "supplytrace db upgrade" in services["migrate"]["command"][0]
    assert [n for n, s in services.items() if "profiles" in s] == ["rabbitmq", "api-rabbitmq", "relay-rabbitmq",
                                                                   "consumer-rabbitmq", "prometheus", "grafana"]
    assert services["prometheus"]["profiles"] == services["grafana"]["profiles"] == ["monitoring"]
    for name in ("relay", "consumer"):
        assert services[name]["environment"]["SUPPLYTRACE_METRICS_PORT"] == str(METRICS_PORT)
    for name in ("migrate", "api", "relay", "consumer"):
        assert {k for k in services[name]["environment"] if k.startswith("SUPPLYTRACE_")} <= SETTINGS, name
    for name in ("prometheus", "grafana"):
        for volume in services[name]["volumes"]:
            if volume.startswith("./"):
                assert (ROOT / volume.split(":")[0]).exists(), volume


def test_compose_runs_rabbitmq_mode_as_a_profile_on_a_durable_broker() -> None:
    services, volumes = compose()["services"], compose()["volumes"]
    assert "rabbitmqdata:/var/lib/rabbitmq" in services["rabbitmq"]["volumes"] and "rabbitmqdata" in volumes
    for name in ("rabbitmq", "api-rabbitmq", "relay-rabbitmq", "consumer-rabbitmq"):
        assert services[name]["profiles"] == ["rabbitmq"], name
    for name, command in (("api-rabbitmq", "serve"), ("relay-rabbitmq", "relay"), ("consumer-rabbitmq", "consume")):
        service = services[name]
        assert service["command"][0] == command
        environment = service["environment"]
        assert environment["SUPPLYTRACE_EVENT_MODE"] == "rabbitmq"
        assert environment["SUPPLYTRACE_RABBITMQ_URL"].startswith("amqp://supplytrace:")
        assert environment["SUPPLYTRACE_RABBITMQ_URL"].endswith("@rabbitmq:5672/supplytrace")
        assert {k for k in environment if k.startswith("SUPPLYTRACE_")} <= SETTINGS, name
        assert service["depends_on"]["rabbitmq"] == {"condition": "service_healthy"}
        assert "kafka" not in service["depends_on"]


def test_prometheus_scrapes_the_api_relay_and_consumer() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == {"api", "relay", "consumer"}
    expected = {"api": API_PORT, "relay": METRICS_PORT, "consumer": METRICS_PORT}
    for name, job in jobs.items():
        assert job["metrics_path"] == "/metrics"
        assert job["dns_sd_configs"] == [{"names": [name], "type": "A", "port": expected[name]}]
        assert name in compose()["services"]
    mount = compose()["services"]["prometheus"]["volumes"][0]
    assert mount == "./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro"


def test_grafana_provisions_the_datasource_and_the_dashboard() -> None:
    provisioning = DEPLOY / "grafana" / "provisioning"
    (source,) = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())["datasources"]
    assert source["type"] == "prometheus" and source["url"] == "http://prometheus:9090"
    (provider,) = yaml.safe_load((provisioning / "dashboards" / "supplytrace.yml").read_text())["providers"]
    mounts = compose()["services"]["grafana"]["volumes"]
    assert f"./deploy/grafana/dashboards:{provider['options']['path']}:ro" in mounts
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "supplytrace.json").read_text())
    queried = set()
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == source["uid"], panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            queried |= set(re.findall(r"\bsupplytrace_[a-z0-9_]+", target["expr"]))
    assert queried == METRICS, f"unknown: {queried - METRICS}, not shown: {METRICS - queried}"
    print(f"dashboard: {len(dashboard['panels'])} panels over {len(queried)} metrics")
