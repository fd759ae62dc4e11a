"""README.md is the only document a newcomer needs: everything they can type or set is in it.

The names come from the code, not from a list kept here: every command and option of
the typer app, every environment variable named in ``settings.py`` (the one place that
reads the environment), every ``envvar`` a CLI option reads, and the deployment files
(the image's own knobs).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from typer.main import get_command

from preread.cli import app as cli_app

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
ENV_RE = re.compile(r"\b((?:PREREAD|OPENAI)_[A-Z0-9_]+)\b")


def readme() -> str:
    return README.read_text(encoding="utf-8")


def walk(command: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """(name path, command) for every leaf command; typer's click Group has ``commands``."""
    subcommands = getattr(command, "commands", None)
    if subcommands is None:
        return [(path, command)]
    found = []
    for name, sub in sorted(subcommands.items()):
        if not getattr(sub, "hidden", False):
            found.extend(walk(sub, (*path, name)))
    return found


def long_options(command: Any) -> set[str]:
    return {
        opt
        for param in command.params
        for opt in (*param.opts, *param.secondary_opts)
        if opt.startswith("--") and opt != "--help"
    }


ROOT_COMMAND = get_command(cli_app)
COMMANDS = walk(ROOT_COMMAND)
COMMAND_NAMES = ["preread " + " ".join(path) for path, _ in COMMANDS]
OPTIONS = sorted(long_options(ROOT_COMMAND).union(*(long_options(cmd) for _, cmd in COMMANDS)))
ENV_SOURCES = [
    ROOT / "src" / "preread" / "settings.py",
    ROOT / "fly.toml",
    ROOT / "Dockerfile",
    *sorted((ROOT / "deploy").glob("*")),
]


def option_envvars(command: Any) -> set[str]:
    names: set[str] = set()
    for param in command.params:
        envvar = getattr(param, "envvar", None)
        names.update([envvar] if isinstance(envvar, str) else envvar or [])
    return names


ENV_NAMES = sorted(
    {name for path in ENV_SOURCES for name in ENV_RE.findall(path.read_text())}.union(
        option_envvars(ROOT_COMMAND), *(option_envvars(cmd) for _, cmd in COMMANDS)
    )
)


def test_the_names_come_from_the_code() -> None:
    assert {"preread serve", "preread cleanup"} <= set(COMMAND_NAMES)
    assert {"PREREAD_HOME", "PREREAD_MAX_BYTES", "OPENAI_API_KEY", "OPENAI_BASE_URL"} <= set(
        ENV_NAMES
    )
    assert {"--home", "--port"} <= set(OPTIONS)


@pytest.mark.parametrize("name", COMMAND_NAMES)
def test_every_command_is_in_the_readme(name: str) -> None:
    assert re.search(rf"{re.escape(name)}\b", readme()), f"README.md never shows `{name}`"


@pytest.mark.parametrize("option", OPTIONS)
def test_every_option_is_in_the_readme(option: str) -> None:
    assert re.search(rf"{re.escape(option)}(?![\w-])", readme()), (
        f"README.md never mentions {option}"
    )


@pytest.mark.parametrize("name", ENV_NAMES)
def test_every_environment_setting_is_in_the_readme(name: str) -> None:
    assert re.search(rf"\b{name}\b", readme()), f"README.md never mentions {name}"


def test_the_two_setup_commands_come_first() -> None:
    top = "\n".join(readme().splitlines()[:40])
    assert "make run" in top and "make test" in top
