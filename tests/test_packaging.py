"""What a new user meets first: the Makefile, ``python -m preread``, the license, completion."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from preread import __version__
from preread.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def pyproject() -> dict[str, object]:
    with (ROOT / "pyproject.toml").open("rb") as handle:
        data: dict[str, object] = tomllib.load(handle)["project"]
    return data


def make_dry_run(target: str) -> str:
    """The commands ``make TARGET`` would run from scratch (``-B``: as on a clean clone)."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    done = subprocess.run(
        ["make", "-n", "-B", target], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return done.stdout


def test_make_run_installs_only_what_running_needs() -> None:
    run = make_dry_run("run")
    assert "pip install --quiet -e .\n" in run
    assert "[test]" not in run
    assert "preread preprocess examples/sample.pdf" in run
    assert "--home" not in run  # the default store: the one the README's tour uses


def test_make_test_installs_the_test_extra() -> None:
    test = make_dry_run("test")
    assert "pip install --quiet -e '.[test]'" in test
    assert "pytest" in test


def test_the_default_store_is_the_one_the_readme_names() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    default = Settings.load({}).home
    assert default == Path("~/.local/share/preread").expanduser()
    assert "~/.local/share/preread" in readme
    assert "./.preread" not in readme


def test_python_dash_m_preread() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREREAD_")}
    done = subprocess.run(
        [sys.executable, "-m", "preread", "--version"], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0 and done.stdout.strip() == f"preread {__version__}"
    usage = subprocess.run(
        [sys.executable, "-m", "preread", "nope"], capture_output=True, text=True
    )
    assert usage.returncode == 2 and usage.stderr.startswith("preread: error:")


def test_license_classifiers_and_urls() -> None:
    project = pyproject()
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License") and "WITHOUT WARRANTY OF ANY KIND" in text
    classifiers = project["classifiers"]
    assert isinstance(classifiers, list)
    assert "Programming Language :: Python :: 3.11" in classifiers
    assert any(c.startswith("Topic :: Multimedia :: Sound/Audio") for c in classifiers)
    urls = project["urls"]
    assert isinstance(urls, dict) and {"Homepage", "Changelog", "Issues"} <= set(urls)
    assert all(str(u).startswith("https://") for u in urls.values())


def test_shell_completion_is_on() -> None:
    """Typer's completion protocol: the shell sets _PREREAD_COMPLETE and the words typed."""
    env = {
        **os.environ,
        "_PREREAD_COMPLETE": "complete_bash",
        "COMP_WORDS": "preread pre",
        "COMP_CWORD": "1",
    }
    script = Path(sys.executable).parent / "preread"
    done = subprocess.run([str(script)], capture_output=True, text=True, env=env)
    assert done.returncode == 0 and done.stdout.split() == ["preprocess"]
    # the shell named, not detected from the parent processes (`make test` runs under sh,
    # which Typer's completion does not support)
    named = {**os.environ, "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    shown = subprocess.run(
        [str(script), "--show-completion", "bash"], capture_output=True, text=True, env=named
    )
    assert shown.returncode == 0 and "_PREREAD_COMPLETE=complete_bash" in shown.stdout
