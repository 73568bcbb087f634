"""The deployment files agree with the code they deploy: every environment variable they set is
a setting the platform reads (and parses), the probes hit health routes the app serves, the
ports line up, the containers run as a non-root user, and only one replica trades."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from neural_trader.api.app import create_app
from neural_trader.config import load_settings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"


def _docs() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted(K8S.glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def _kind(kind: str) -> list[dict[str, Any]]:
    return [d for d in _docs() if d["kind"] == kind]


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container


def _env_of(deployment: dict[str, Any]) -> dict[str, str]:
    (config,) = _kind("ConfigMap")
    (secret,) = _kind("Secret")
    env = {**config["data"], **secret["stringData"]}
    env.update({e["name"]: e["value"] for e in _container(deployment).get("env", [])})
    return env


@pytest.fixture(scope="module")
def health(tmp_path_factory: pytest.TempPathFactory) -> dict[str, int]:
    """What the app answers on the probe paths."""
    db = tmp_path_factory.mktemp("deploy") / "nt.db"
    overrides = {"database.url": f"sqlite:///{db}", "api.trading": False}
    with TestClient(create_app(load_settings(None, overrides, env={}))) as client:
        return {path: client.get(path).status_code for path in ("/health/live", "/health/ready")}


def test_every_variable_the_manifests_set_is_a_setting_that_parses() -> None:
    for deployment in _kind("Deployment"):
        env = _env_of(deployment)
        settings = load_settings(None, None, env=env)  # an unknown NT_ key is a ConfigError
        assert settings.api.rest.host == "0.0.0.0"
        assert settings.api.rest.port == 8080 and settings.log.json_ is True
        assert settings.redis.url == "redis://redis:6379/0"
        assert settings.database.url.startswith("postgresql+psycopg://")
        assert settings.api.jwt_secret is not None
        assert len(settings.api.jwt_secret.get_secret_value()) >= 32


def test_probes_hit_health_routes_the_app_serves_on_the_container_port(
    health: dict[str, int],
) -> None:
    port = int(_kind("ConfigMap")[0]["data"]["NT_API__REST__PORT"])
    for deployment in _kind("Deployment"):
        container = _container(deployment)
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports == {"http": port}
        assert container["livenessProbe"]["httpGet"] == {"path": "/health/live", "port": "http"}
        assert container["readinessProbe"]["httpGet"] == {"path": "/health/ready", "port": "http"}
        assert health == {"/health/live": 200, "/health/ready": 200}
        assert container["args"] == ["serve"]
        assert set(container["resources"]) == {"requests", "limits"}


def test_three_api_replicas_and_exactly_one_that_trades() -> None:
    by_component = {
        d["metadata"]["labels"]["app.kubernetes.io/component"]: d for d in _kind("Deployment")
    }
    api, trader = by_component["api"], by_component["trader"]
    assert api["spec"]["replicas"] == 3
    assert load_settings(None, None, env=_env_of(api)).api.trading is False
    assert trader["spec"]["replicas"] == 1 and trader["spec"]["strategy"]["type"] == "Recreate"
    assert load_settings(None, None, env=_env_of(trader)).api.trading is True
    selectors = {s["metadata"]["name"]: s["spec"]["selector"] for s in _kind("Service")}
    assert selectors["neural-trader"] == api["spec"]["selector"]["matchLabels"]
    assert selectors["neural-trader-orders"] == trader["spec"]["selector"]["matchLabels"]


def test_containers_run_as_an_unprivileged_user() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    users = re.findall(r"^USER\s+(\S+)", dockerfile, re.MULTILINE)
    assert users == ["trader"]
    assert re.search(r"useradd .*--uid 10001", dockerfile)
    assert 'CMD ["serve"]' in dockerfile and 'ENTRYPOINT ["neural-trader"]' in dockerfile
    for deployment in _kind("Deployment"):
        context = deployment["spec"]["template"]["spec"]["securityContext"]
        assert context["runAsNonRoot"] is True and context["runAsUser"] == 10001


def test_compose_wires_the_app_to_postgres_and_redis() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    app = compose["services"]["app"]
    assert set(app["depends_on"]) == {"postgres", "redis"}
    env = {k: re.sub(r"\$\{[^}]+\}", "x" * 32, v) for k, v in app["environment"].items()}
    settings = load_settings(None, None, env=env)
    assert settings.database.url.startswith("postgresql+psycopg://trader:")
    assert settings.database.url.endswith("@postgres:5432/neural_trader")
    assert settings.redis.url == "redis://redis:6379/0"
