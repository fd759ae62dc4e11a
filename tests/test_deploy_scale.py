"""The multi-machine deployment files agree with the CLI, the settings and each other.

``docker-compose.yml`` (PostgreSQL, an S3-compatible server, two servers, two workers)
and ``fly.multi.toml`` (``app`` and ``worker`` process groups) are never run here (no
Docker engine, no Fly account): these tests parse them (PyYAML, tomllib) and check every
``preread`` command in them against the real CLI, every variable against the real
settings loader and the README, and the services against each other.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from typer.main import get_command

from preread.cli import app as cli_app
from preread.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
# what reads the environment: the settings loader, and the image's own scripts
READERS = "".join(
    path.read_text(encoding="utf-8")
    for path in [ROOT / "src" / "preread" / "settings.py", *sorted((ROOT / "deploy").glob("*"))]
)
INTERPOLATION = re.compile(r"\$\{(\w+):-([^}]*)\}")


def interpolate(value: str) -> str:
    """Compose's ``${NAME:-default}`` with no .env file: the default."""
    return INTERPOLATION.sub(lambda m: m.group(2), value)


def cli_command(argv: list[str]) -> tuple[Any, list[str]]:
    """The click command ``preread ARGV`` runs, and the options given to it."""
    assert argv[0] == "preread", argv
    command = get_command(cli_app)
    words = argv[1:]
    while words and hasattr(command, "commands"):
        name = words[0]
        assert name in command.commands, f"preread has no command {' '.join(argv[:2])!r}"
        command, words = command.commands[name], words[1:]
    assert not hasattr(command, "commands"), f"{argv}: names a group, not a command"
    return command, [w.split("=", 1)[0] for w in words if w.startswith("--")]


def check_command(argv: list[str]) -> str:
    """Every word of a ``preread`` command line is real and documented; its name."""
    command, options = cli_command(argv)
    known = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
    for option in options:
        assert option in known, f"{' '.join(argv)}: no option {option}"
    name = " ".join(w for w in argv[:3] if not w.startswith("-"))
    name = name if cli_has(name) else " ".join(argv[:2])
    assert f"`{name}" in README, f"README does not document {name}"
    for option in options:
        assert option in README, f"README does not document {option}"
    return name


def cli_has(name: str) -> bool:
    try:
        cli_command(name.split())
    except AssertionError:
        return False
    return True


def check_env(env: dict[str, str], home: Path) -> Settings:
    """Names the settings read and the README documents; values the loader accepts."""
    for name in env:
        assert name in READERS, f"{name} is read neither by preread.settings nor the image"
        assert name in README, f"README does not document {name}"
    return Settings.load({**env, "PREREAD_HOME": str(home)})


# the job queue (``preread worker``, PREREAD_QUEUE_URL) lands separately: until this
# build has it, the checks of the worker commands and of the queue's URL wait for it
HAS_QUEUE = "PREREAD_QUEUE_URL" in READERS and cli_has("preread worker")
needs_queue = pytest.mark.skipif(
    not HAS_QUEUE, reason="this build has no job queue yet (preread worker, PREREAD_QUEUE_URL)"
)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


@pytest.fixture(scope="module")
def fly() -> dict[str, Any]:
    with (ROOT / "fly.multi.toml").open("rb") as f:
        return tomllib.load(f)


def preread_services(compose: dict[str, Any], command: str) -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in compose["services"].items()
        if service.get("command", [])[:2] == ["preread", command]
    }


def test_compose_starts_postgres_s3_two_servers_and_two_workers(compose: dict[str, Any]) -> None:
    services = compose["services"]
    images = {name: str(s.get("image", "")) for name, s in services.items()}
    assert any(i.startswith("postgres:") for i in images.values())
    assert any(i.startswith(("minio/minio", "motoserver/moto")) for i in images.values())
    servers, workers = preread_services(compose, "serve"), preread_services(compose, "worker")
    assert len(servers) == 2 and len(workers) == 2
    for name, service in services.items():
        for needed in service.get("depends_on", {}):
            assert needed in services, f"{name} depends on unknown service {needed}"
        for volume in service.get("volumes", []):
            assert volume.split(":")[0] in compose["volumes"], f"{name}: volume {volume}"
    # each server or worker is its own machine: its own disk (the first tier)
    disks = [s["volumes"][0].split(":")[0] for s in (*servers.values(), *workers.values())]
    assert len(set(disks)) == len(disks)
    host_ports = [s["ports"][0].split(":")[0] for s in servers.values()]
    assert len(set(host_ports)) == 2


@needs_queue
def test_compose_commands_are_real_documented_cli_commands(compose: dict[str, Any]) -> None:
    names = set()
    for service in compose["services"].values():
        command = service.get("command")
        if isinstance(command, list) and command[:1] == ["preread"]:
            names.add(check_command(command))
            if command[1] == "serve":
                port = command[command.index("--port") + 1]
                assert all(p.split(":")[1] == port for p in service["ports"])
                assert "--host" in command and command[command.index("--host") + 1] == "0.0.0.0"
    assert {"preread serve", "preread worker"} <= names


@needs_queue
def test_compose_environment_reaches_its_own_postgres_and_bucket(
    compose: dict[str, Any], tmp_path: Path
) -> None:
    services = compose["services"]
    runners = {**preread_services(compose, "serve"), **preread_services(compose, "worker")}
    for name, service in runners.items():
        env = {k: interpolate(str(v)) for k, v in service["environment"].items()}
        settings = check_env(env, tmp_path)
        assert settings.s3_url and settings.s3_endpoint and settings.aws_secret_access_key
        # the S3 endpoint is the compose S3 service, with its credentials and bucket
        endpoint = urlsplit(settings.s3_endpoint)
        s3 = services[str(endpoint.hostname)]
        s3_env = {k: interpolate(str(v)) for k, v in s3["environment"].items()}
        assert settings.aws_access_key_id == s3_env["MINIO_ROOT_USER"]
        assert settings.aws_secret_access_key == s3_env["MINIO_ROOT_PASSWORD"]
        bucket = urlsplit(settings.s3_url).netloc
        made = " ".join(services["bucket"]["entrypoint"])
        assert f"mc mb --ignore-existing s3/{bucket}" in made
        assert f"http://{endpoint.hostname}:{endpoint.port}" in made
        # the queue is the compose PostgreSQL, as its user, password and database
        queue = urlsplit(env["PREREAD_QUEUE_URL"])
        assert queue.scheme in ("postgresql", "postgres")
        pg_env = {
            k: interpolate(str(v)) for k, v in services[str(queue.hostname)]["environment"].items()
        }
        assert (queue.username, queue.password) == (
            pg_env["POSTGRES_USER"],
            pg_env["POSTGRES_PASSWORD"],
        )
        assert queue.path.lstrip("/") == pg_env["POSTGRES_DB"]
        assert {"postgres", "bucket"} <= set(service["depends_on"]), name


@needs_queue
def test_fly_multi_has_app_and_worker_groups_of_real_commands(fly: dict[str, Any]) -> None:
    processes = fly["processes"]
    assert set(processes) == {"app", "worker"}
    app, worker = shlex.split(processes["app"]), shlex.split(processes["worker"])
    assert check_command(app) == "preread serve" and check_command(worker) == "preread worker"
    service = fly["http_service"]
    assert service["processes"] == ["app"]  # only servers take HTTP traffic
    assert app[app.index("--port") + 1] == str(service["internal_port"])
    assert app[app.index("--host") + 1] == "0.0.0.0"
    assert service["checks"][0]["path"] == "/healthz"
    # each app machine has its volume where PREREAD_HOME points; workers have none
    (mount,) = fly["mounts"]
    assert mount["processes"] == ["app"] and mount["destination"] == fly["env"]["PREREAD_HOME"]
    assert {p for vm in fly["vm"] for p in vm["processes"]} == {"app", "worker"}


def test_fly_multi_env_is_real_settings_and_keeps_secrets_out(
    fly: dict[str, Any], tmp_path: Path
) -> None:
    env = {k: str(v) for k, v in fly["env"].items()}
    settings = check_env(env, tmp_path)
    assert settings.s3_url and settings.s3_url.startswith("s3://")
    for secret in ("PREREAD_QUEUE_URL", "AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID",
                   "PREREAD_API_TOKEN", "OPENAI_API_KEY"):  # fmt: skip
        assert secret not in env, f"{secret} belongs in fly secrets, not fly.multi.toml"
    for step in (
        "fly storage create",
        "fly secrets set PREREAD_QUEUE_URL",
        "--config fly.multi.toml",
    ):
        assert step in README, f"README does not say {step!r}"
