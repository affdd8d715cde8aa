"""deploy/: compose file, Kubernetes manifests and Dockerfile agree with the settings and each other.

Docker cannot run here, so this reads the files: every ALPHAWATCH_* variable they set is a setting and
validates, and ports, paths and names line up between workers, probes, Prometheus and Grafana.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from stream.settings import Settings

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
GRAFANA = DEPLOY.parent / "grafana"


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def _compose() -> dict[str, Any]:
    return dict(_load(DEPLOY / "docker-compose.yml")["services"])


def _interpolate(value: object) -> str:
    """Compose's ${VAR:-default} with nothing set in the environment, and ${VAR:?message} (no
    default: compose refuses to start without it) with a value a deployer would set."""
    text = re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", str(value))
    return re.sub(r"\$\{\w+:\?[^}]*\}", "set-by-the-deployer", text)


def test_compose_has_no_default_secrets() -> None:
    text = (DEPLOY / "docker-compose.yml").read_text()
    assert "change-me" not in text
    for name in ("PASSWORD", "TOKEN", "SALT"):
        assert not re.search(rf"\$\{{\w*{name}:-", text), f"a default for a {name}"


def _env(svc: dict[str, Any]) -> dict[str, str]:
    return {k: _interpolate(v) for k, v in svc["environment"].items()}


def _workers() -> dict[str, dict[str, str]]:
    """The worker services: the alphawatch image with its default command (`worker`)."""
    return {name: _env(svc) for name, svc in _compose().items()
            if svc.get("image", "").startswith("alphawatch") and "command" not in svc}


def _k8s_env(placeholders: bool = False) -> dict[str, str]:
    """The pods' environment; the Secret's placeholders replaced as an operator's overlay does,
    unless `placeholders` (the worker refuses them)."""
    lines = (DEPLOY / "k8s" / "alphawatch.env").read_text().splitlines()
    env = dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))
    secrets = _load(DEPLOY / "k8s" / "secret.yaml")["stringData"]
    if not placeholders:
        secrets = {name: f"overlay-{i}-5d1f0c9e" for i, name in enumerate(secrets)}
    return {**env, **secrets}


def _dockerfile_env() -> dict[str, str]:
    text = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    block = re.search(r"^ENV (.+)$", text, re.M)
    assert block
    return dict(re.findall(r"(\w+)=(\S+)", block.group(1)))


def _statefulset() -> dict[str, Any]:
    return dict(_load(DEPLOY / "k8s" / "statefulset.yaml"))


def _settings_from(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return Settings()


def test_every_variable_set_is_a_setting() -> None:
    fields = {f"ALPHAWATCH_{name.upper()}" for name in Settings.model_fields}
    sources: dict[str, set[str]] = {"Dockerfile": set(_dockerfile_env()), "k8s": set(_k8s_env())}
    for name, svc in _compose().items():
        sources[f"compose {name}"] = set(svc.get("environment") or {})
    container = _statefulset()["spec"]["template"]["spec"]["containers"][0]
    sources["statefulset"] = {e["name"] for e in container.get("env", [])}
    for where, names in sources.items():
        unknown = {n for n in names if n.startswith("ALPHAWATCH_")} - fields
        assert not unknown, f"{where} sets {unknown}, which stream/settings.py does not know"


def test_compose_workers_start_with_valid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    workers = _workers()
    assert len(workers) == 2 and len({tuple(sorted(w.items())) for w in workers.values()}) == 1
    settings = _settings_from(next(iter(workers.values())), monkeypatch)
    assert settings.store_url == "rocksdb://" and settings.web_host == "0.0.0.0"
    assert settings.redis_password.get_secret_value()  # the Redis service requires one
    volumes = {svc["volumes"][0] for name, svc in _compose().items() if name in workers}
    assert len(volumes) == 2 and all(v.endswith(":/var/lib/alphawatch") for v in volumes)
    assert settings.data_dir.startswith("/var/lib/alphawatch/")


def test_k8s_workers_start_with_valid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="placeholder"):  # the Secret as shipped
        _settings_from(_k8s_env(placeholders=True), monkeypatch)
    settings = _settings_from(_k8s_env(), monkeypatch)
    assert settings.store_url == "rocksdb://" and settings.kafka_security_protocol == "SASL_SSL"
    spec = _statefulset()["spec"]
    mount = spec["template"]["spec"]["containers"][0]["volumeMounts"][0]
    assert mount["name"] == spec["volumeClaimTemplates"][0]["metadata"]["name"]
    assert settings.data_dir.startswith(mount["mountPath"] + "/")


def test_compose_ports_and_addresses_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    services, workers = _compose(), _workers()
    settings = _settings_from(next(iter(workers.values())), monkeypatch)
    for name in workers:
        assert services[name]["ports"][0].endswith(f":{settings.web_port}")
    prometheus = _load(DEPLOY / "prometheus" / "prometheus.yml")
    targets = prometheus["scrape_configs"][0]["static_configs"][0]["targets"]
    assert sorted(targets) == sorted(f"{name}:{settings.web_port}" for name in workers)
    broker = urlsplit(settings.broker_url)
    assert f"PLAINTEXT://{broker.hostname}:{broker.port}" in services["kafka"]["environment"][
        "KAFKA_ADVERTISED_LISTENERS"]
    assert urlsplit(settings.redis_url).hostname == "redis" and urlsplit(settings.redis_url).port == 6379
    alertmanager = prometheus["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"][0]
    assert f"--web.listen-address=:{alertmanager.split(':')[1]}" in services["alertmanager"]["command"]
    datasource = _load(GRAFANA / "provisioning/datasources/prometheus.yml")["datasources"][0]
    grafana_source = urlsplit(datasource["url"])
    assert f"--web.listen-address=:{grafana_source.port}" in services["prometheus"]["command"]
    assert grafana_source.hostname in services


def test_dockerfile_matches_settings_and_exposes_the_web_port() -> None:
    env = _dockerfile_env()
    text = (DEPLOY / "Dockerfile").read_text()
    assert f"EXPOSE {env['ALPHAWATCH_WEB_PORT']}" in text
    assert f"127.0.0.1:{env['ALPHAWATCH_WEB_PORT']}/healthz" in text
    values = {k.removeprefix("ALPHAWATCH_").lower(): v for k, v in env.items() if k.startswith("ALPHAWATCH_")}
    with pytest.raises(ValueError, match="ALPHAWATCH_WEB_TOKEN"):  # the image listens on 0.0.0.0
        Settings(**values)
    assert Settings(**values, web_token="from-a-secret").store_url == "rocksdb://"


def test_k8s_ports_probes_and_names_agree() -> None:
    env = _k8s_env()
    pod = _statefulset()["spec"]["template"]
    container = pod["spec"]["containers"][0]
    assert container["ports"] == [{"name": "web", "containerPort": int(env["ALPHAWATCH_WEB_PORT"])}]
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == env["ALPHAWATCH_WEB_PORT"]
    assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "web"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "web"}
    web = (DEPLOY.parent / "stream" / "web.py").read_text()
    assert '@app.page("/ready")' in web and '@app.page("/healthz")' in web
    service = _load(DEPLOY / "k8s" / "service.yaml")
    assert service["spec"]["ports"][0]["targetPort"] == "web"
    assert service["spec"]["ports"][0]["port"] == int(env["ALPHAWATCH_WEB_PORT"])
    refs = {next(iter(r.values()))["name"] for r in container["envFrom"]}
    kustomization = _load(DEPLOY / "k8s" / "kustomization.yaml")
    generated = {g["name"] for g in kustomization["configMapGenerator"]}
    assert refs == {"alphawatch-config", _load(DEPLOY / "k8s" / "secret.yaml")["metadata"]["name"]}
    assert "alphawatch-config" in generated
    for resource in kustomization["resources"]:
        assert (DEPLOY / "k8s" / resource).exists(), resource


def test_k8s_network_policy_covers_the_workers_web_port() -> None:
    kustomization = _load(DEPLOY / "k8s" / "kustomization.yaml")
    assert "networkpolicy.yaml" in kustomization["resources"]
    policy = _load(DEPLOY / "k8s" / "networkpolicy.yaml")
    pod = _statefulset()["spec"]["template"]
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    (rule,) = policy["spec"]["ingress"]
    assert rule["ports"] == [{"port": "web", "protocol": "TCP"}]
    assert pod["spec"]["containers"][0]["ports"][0]["name"] == "web"


def test_the_label_studio_bridge_runs_beside_the_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    bridge = _compose()["label-studio-bridge"]
    settings = _settings_from(_env(bridge), monkeypatch)
    assert bridge["command"][:2] == ["bridge", "label-studio"]
    assert bridge["ports"] == [f"{settings.bridge_port}:{settings.bridge_port}"]
    assert settings.bridge_secret.get_secret_value() and settings.bridge_host == "0.0.0.0"
    mapping = bridge["command"][bridge["command"].index("--mapping") + 1]
    source, target = bridge["volumes"][0].split(":")[:2]
    assert (DEPLOY / source / Path(mapping).name).is_file() and mapping.startswith(target + "/")
    assert f"127.0.0.1:{settings.bridge_port}/healthz" in " ".join(bridge["healthcheck"]["test"])
    jobs = _load(DEPLOY / "prometheus" / "prometheus.yml")["scrape_configs"]
    targets = [j["static_configs"][0]["targets"] for j in jobs]
    assert [f"label-studio-bridge:{settings.bridge_port}"] in targets


def test_k8s_bridge_ports_probes_and_mapping_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    deployment, service = yaml.safe_load_all((DEPLOY / "k8s" / "label-studio-bridge.yaml").read_text())
    pod = deployment["spec"]["template"]
    container = pod["spec"]["containers"][0]
    env = {**_k8s_env(), **{e["name"]: e["value"] for e in container["env"]}}
    settings = _settings_from(env, monkeypatch)
    assert container["ports"] == [{"name": "webhook", "containerPort": settings.bridge_port}]
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == str(settings.bridge_port)
    assert container["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "webhook"}
    assert service["spec"]["ports"][0]["targetPort"] == "webhook"
    assert deployment["spec"]["selector"]["matchLabels"] == service["spec"]["selector"]
    mapping = container["args"][container["args"].index("--mapping") + 1]
    assert f"COPY deploy/label-studio {Path(mapping).parent}" in (DEPLOY / "Dockerfile").read_text()
    assert "!deploy/label-studio" in (DEPLOY / "Dockerfile.dockerignore").read_text()
    assert settings.bridge_secret.get_secret_value()
