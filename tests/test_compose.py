"""docker-compose.yml, Dockerfile and .env.example: the compose specification's schema and the
deployment's invariants (services, healthchecks, secrets only from .env, pinned images, loopback
ports, zones mounted only where they are used). No Docker here: nothing is built or started."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import airflow
import pytest
import yaml

from foundation.lake import Lake
from foundation.settings import REPO_ROOT

COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
DOCKERFILE = REPO_ROOT / "Dockerfile"
ENV_EXAMPLE = REPO_ROOT / ".env.example"

SERVICES = {
    "postgres",
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "spark-master",
    "spark-worker-1",
    "spark-worker-2",
    "dashboard",
}
AIRFLOW_SERVICES = {name for name in SERVICES if name.startswith("airflow-")}
ONE_SHOT_SERVICES = {"airflow-init"}
PUBLISHING_SERVICES = {"airflow-apiserver", "dashboard"}
SPARK_WORKERS = {"spark-worker-1", "spark-worker-2"}
DATA_ROOT = Path("/data")
# Volumes that hold records or restricted reports, and the services that may mount them.
RESTRICTED_VOLUMES = {"landing", "staged", "quarantine", "metrics", "reports", "run-state"}
RESTRICTED_ZONE_USERS = {"airflow-scheduler"} | SPARK_WORKERS
TEAMLENS_KEYS = {"TEAMLENS_PSEUDONYM_KEY", "TEAMLENS_CHECKPOINT_KEY"}

SECRET_NAME = re.compile(r"password|secret|key|fernet", re.IGNORECASE)
# A whole value that is one required variable of .env: ${NAME:?message}.
REQUIRED_VARIABLE = re.compile(r"^\$\{(?P<name>[A-Z][A-Z0-9_]*):\?[^}]*\}$")
VARIABLE_REFERENCE = re.compile(r"(?<!\$)\$\{(?P<name>[A-Z][A-Z0-9_]*)(?::?[-?][^}]*)?\}")
PINNED_TAG = re.compile(r"^[\w./-]+:(?P<tag>\d+\.\d+(\.\d+)?[\w.-]*)$")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE_FILE.read_text())  # resolves the x-* anchors' merge keys
    assert isinstance(loaded, dict)
    return loaded


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as a mapping, whether the file writes it as a map or a list."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def literal_secrets(env: dict[str, str]) -> list[str]:
    """Names of variables that look like secrets but hold something other than one required ${VAR}.

    A *_FILE variable names where a secret lives (a path), not the secret. The database URL holds
    the database's password: it must take it from a variable.
    """
    found = []
    for name, value in env.items():
        if name.endswith("_FILE"):
            if not value.startswith("/"):
                found.append(name)
        elif SECRET_NAME.search(name) and not REQUIRED_VARIABLE.match(value):
            found.append(name)
        elif name.endswith("SQL_ALCHEMY_CONN"):
            credentials = value.split("://", 1)[1].split("@", 1)[0]
            password = credentials.split(":", 1)[1] if ":" in credentials else ""
            if not REQUIRED_VARIABLE.match(password):
                found.append(name)
    return found


def volume_mounts(service: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """The named volumes a service mounts: name -> (path in the container, mode)."""
    mounts = {}
    for entry in service.get("volumes", []):
        parts = entry.split(":")
        name, path, mode = parts[0], parts[1], parts[2] if len(parts) > 2 else "rw"
        mounts[name] = (path, mode)
    return mounts


def test_the_compose_file_validates_against_the_compose_specification(tmp_path: Path) -> None:
    def check(path: Path) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(path)]
        return subprocess.run(command, capture_output=True, text=True, timeout=120)

    result = check(COMPOSE_FILE)
    assert result.returncode == 0, result.stdout + result.stderr
    # The validator refuses what the specification forbids: a healthcheck that is a bare string.
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(COMPOSE_FILE.read_text().replace("    healthcheck:\n", "    healthcheck: curl\n    x-was:\n", 1))
    assert check(broken).returncode != 0


def test_every_service_is_present(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == SERVICES


def test_every_long_running_service_has_a_healthcheck_and_restarts(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        if name in ONE_SHOT_SERVICES:
            assert service.get("restart") == "no"
            continue
        test = service.get("healthcheck", {}).get("test")
        assert test and test[0] in {"CMD", "CMD-SHELL"}, name
        assert service.get("restart") == "unless-stopped", name
    services = compose["services"]
    assert "http://localhost:8080/api/v2/monitor/health" in services["airflow-apiserver"]["healthcheck"]["test"]
    assert "http://127.0.0.1:8974/health" in services["airflow-scheduler"]["healthcheck"]["test"]
    assert "DagProcessorJob" in services["airflow-dag-processor"]["healthcheck"]["test"][1]
    assert "TriggererJob" in services["airflow-triggerer"]["healthcheck"]["test"][1]


def test_airflow_services_wait_for_the_database_and_its_migration(compose: dict[str, Any]) -> None:
    for name in AIRFLOW_SERVICES - ONE_SHOT_SERVICES:
        depends_on = compose["services"][name]["depends_on"]
        assert depends_on["postgres"] == {"condition": "service_healthy"}, name
        assert depends_on["airflow-init"] == {"condition": "service_completed_successfully"}, name
    init = compose["services"]["airflow-init"]
    script = init["command"][-1]
    assert "airflow db migrate" in script
    # The admin user's password goes from .env into the simple auth manager's passwords file.
    assert 'os.environ["AIRFLOW_ADMIN_PASSWORD"]' in script
    passwords_file = environment(init)["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]
    assert passwords_file in script
    assert environment(init)["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] == "admin:admin"


def test_no_literal_secret_anywhere(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        assert literal_secrets(environment(service)) == [], name


def test_the_secret_check_finds_literals() -> None:
    assert literal_secrets({"POSTGRES_PASSWORD": "hunter2"}) == ["POSTGRES_PASSWORD"]
    assert literal_secrets({"AIRFLOW__CORE__FERNET_KEY": "${AIRFLOW_FERNET_KEY:-a-default}"}) != []
    assert literal_secrets({"TEAMLENS_PSEUDONYM_KEY": "prefix-${TEAMLENS_PSEUDONYM_KEY:?x}"}) != []
    assert literal_secrets({"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql+psycopg2://a:pw@db/a"}) != []
    assert literal_secrets({"X_PASSWORDS_FILE": "admin:pw"}) != []
    assert literal_secrets({"AIRFLOW__API_AUTH__JWT_SECRET": "${AIRFLOW_JWT_SECRET:?set it}"}) == []


def test_the_keys_reach_only_the_service_that_runs_the_tasks(compose: dict[str, Any]) -> None:
    holders = {name for name, service in compose["services"].items() if TEAMLENS_KEYS & set(environment(service))}
    assert holders == {"airflow-scheduler"}


def test_every_image_is_pinned(compose: dict[str, Any]) -> None:
    version = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]
    for name, service in compose["services"].items():
        image = service["image"]
        match = PINNED_TAG.match(image)
        assert match and "latest" not in image, f"{name}: {image}"
        if image.startswith("teamlens:"):
            assert image == f"teamlens:{version}", name
            assert service["build"]["dockerfile"] == "Dockerfile", name
    assert re.fullmatch(r"postgres:1[56]\.\d+(-[a-z]+)?", compose["services"]["postgres"]["image"])


def test_only_the_dashboard_and_the_api_server_publish_ports_on_loopback(compose: dict[str, Any]) -> None:
    publishing = {name for name, service in compose["services"].items() if service.get("ports")}
    assert publishing == PUBLISHING_SERVICES
    assert compose["services"]["airflow-apiserver"]["ports"] == ["127.0.0.1:8080:8080"]
    assert compose["services"]["dashboard"]["ports"] == ["127.0.0.1:8050:8050"]
    for name, service in compose["services"].items():
        assert "network_mode" not in service, name


def test_zones_are_named_volumes_at_the_lakes_paths(compose: dict[str, Any]) -> None:
    lake = Lake(DATA_ROOT)
    zone_paths = {
        "landing": lake.landing,
        "staged": lake.staged,
        "quarantine": lake.quarantine,
        "metrics": lake.metrics,
        "reports": lake.reports,
        "checkpoints": lake.checkpoints,
        "warehouse": lake.warehouse_path.parent,
        "statements": lake.statements,
        "run-state": lake.spark_connect_dir.parent,
    }
    scheduler = compose["services"]["airflow-scheduler"]
    assert environment(scheduler)["TEAMLENS_DATA_ROOT"] == str(DATA_ROOT)
    mounts = volume_mounts(scheduler)
    for volume, path in zone_paths.items():
        assert mounts[volume] == (str(path), "rw"), volume
        assert volume in compose["volumes"]
    # The executors read and write at the driver's paths.
    for worker in SPARK_WORKERS:
        worker_mounts = volume_mounts(compose["services"][worker])
        assert worker_mounts["landing"] == (str(lake.landing), "ro")
        for volume in ("staged", "quarantine", "metrics"):
            assert worker_mounts[volume] == mounts[volume], (worker, volume)
    declared = set(compose["volumes"])
    for name, service in compose["services"].items():
        assert set(volume_mounts(service)) <= declared, name


def test_restricted_zones_are_mounted_only_where_they_are_used(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        restricted = RESTRICTED_VOLUMES & set(volume_mounts(service))
        if name not in RESTRICTED_ZONE_USERS:
            assert restricted == set(), name


def test_the_dashboard_is_read_only(compose: dict[str, Any]) -> None:
    dashboard = compose["services"]["dashboard"]
    lake = Lake(DATA_ROOT)
    assert volume_mounts(dashboard) == {
        "warehouse": (str(lake.published_snapshot_path.parent), "ro"),
        "checkpoints": (str(lake.checkpoints), "ro"),
    }
    assert dashboard["read_only"] is True
    assert environment(dashboard)["TEAMLENS_DATA_ROOT"] == str(DATA_ROOT)
    assert dashboard["command"][:2] == ["teamlens", "dashboard"]


def test_airflow_runs_on_postgres_with_the_local_executor(compose: dict[str, Any]) -> None:
    for name in AIRFLOW_SERVICES:
        env = environment(compose["services"][name])
        assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor", name
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://airflow:"), name
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].endswith("@postgres:5432/airflow"), name
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/", name
        assert env["AIRFLOW__CORE__DAGS_FOLDER"] == "/app/dags", name
        assert env["TEAMLENS_SPARK_MASTER"] == "spark://spark-master:7077", name
        assert {"AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__CORE__FERNET_KEY"} <= set(env), name
        assert compose["services"][name]["user"] == "${AIRFLOW_UID:-50000}:0", name
    master = compose["services"]["spark-master"]["command"]
    assert master[:2] == ["spark-class", "org.apache.spark.deploy.master.Master"]
    assert master[master.index("--port") + 1] == "7077"
    for worker in SPARK_WORKERS:
        command = compose["services"][worker]["command"]
        assert command[:3] == ["spark-class", "org.apache.spark.deploy.worker.Worker", "spark://spark-master:7077"]
        assert command[command.index("--host") + 1] == worker


def test_every_airflow_option_exists_in_the_installed_airflow(compose: dict[str, Any]) -> None:
    """AIRFLOW__SECTION__KEY names a real option, so a typo cannot silently fall back to a default."""
    template = Path(airflow.__file__).parent / "config_templates" / "config.yml"
    options = yaml.safe_load(template.read_text())
    for name, service in compose["services"].items():
        for variable in environment(service):
            if variable.startswith("AIRFLOW__"):
                section, key = variable.removeprefix("AIRFLOW__").lower().split("__", 1)
                assert key in options[section]["options"], f"{name}: {variable}"


def test_every_teamlens_variable_is_one_the_code_reads(compose: dict[str, Any]) -> None:
    sources = "".join(p.read_text() for p in (REPO_ROOT / "foundation").glob("*.py"))
    for name, service in compose["services"].items():
        for variable in environment(service):
            if variable.startswith("TEAMLENS_"):
                assert f'"{variable}' in sources or f"'{variable}" in sources or variable in sources, name


def test_the_env_example_names_every_variable_with_placeholders_only() -> None:
    # Compose's own references, not the comments' examples nor the shell's escaped $${...}.
    text = "\n".join(line for line in COMPOSE_FILE.read_text().splitlines() if not line.lstrip().startswith("#"))
    referenced = {m["name"] for m in VARIABLE_REFERENCE.finditer(text)}
    example = dict(
        line.split("=", 1) for line in ENV_EXAMPLE.read_text().splitlines() if line and not line.startswith("#")
    )
    assert referenced == set(example)
    required = {m.group(1) for m in re.finditer(r"\$\{([A-Z0-9_]+):\?", text)}
    for name in required:
        assert example[name].startswith("replace-with-"), name
    ignored = [line.strip() for line in (REPO_ROOT / ".gitignore").read_text().splitlines()]
    assert "/.env" in ignored


def test_the_dockerfile_builds_from_the_lock_as_a_non_root_user() -> None:
    text = DOCKERFILE.read_text()
    base = re.search(r"^FROM (\S+)$", text, re.MULTILINE)
    assert base and re.fullmatch(r"python:3\.11\.\d+-slim-bookworm", base.group(1))
    assert "openjdk-17-jre-headless" in text
    assert "uv pip sync --system --no-cache requirements.lock" in text
    user = re.findall(r"^USER (\S+)$", text, re.MULTILINE)
    assert user and user[-1] not in {"root", "0"}
    for copied in re.findall(r"^COPY (\S+) \./", text, re.MULTILINE):
        assert (REPO_ROOT / copied).exists(), copied
    assert "COPY . " not in text  # never the working tree: it may hold .env
