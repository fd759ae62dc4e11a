"""``preread serve`` from an operator's shell: unusable addresses fail in one line."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from preread.cli import main


def test_a_busy_port_is_one_clear_line_and_exit_1(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(["serve", "--home", str(home), "--port", str(port)])
    err = capsys.readouterr().err
    assert code == 1
    assert err.strip().splitlines() == [
        f"preread: error: cannot listen on 127.0.0.1:{port}: Address already in use"
    ]


def test_an_address_this_machine_lacks_is_one_clear_line(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["serve", "--home", str(home), "--host", "192.0.2.1"])  # TEST-NET-1: nobody's
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("preread: error: cannot listen on 192.0.2.1:8000: ")
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
