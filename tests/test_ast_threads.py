"""The test process's guard against CPython's shared AST recursion counter (conftest.py).

Before 3.13, two threads in ``ast.parse`` at once can raise ``SystemError: AST
constructor recursion depth mismatch`` (gh-106905): the GIL changes hands when a
collection inside one runs a finalizer. Without the guard, this pattern raises it
within a few dozen parses here (Python 3.11.2 and 3.11.7).
"""

from __future__ import annotations

import ast
import itertools
import threading

SOURCE = (
    "[" * 50
    + "1"
    + "]" * 50
    + "\n"
    + "\n".join(f"x{i} = {{'a': [1, 2, {{'b': ({i}, 'c')}}]}}" for i in range(150))
)


class Churn:
    def __del__(self) -> None:  # a finalizer: the collector runs Python code
        pass


def test_threads_parsing_at_once_never_see_a_recursion_mismatch() -> None:
    errors: list[str] = []

    def parse_and_churn() -> None:
        for _ in range(20):
            try:
                ast.parse(SOURCE)
            except SystemError as exc:
                errors.append(str(exc))
                return
            cycle = [Churn() for _ in range(50)]
            for a, b in itertools.pairwise(cycle):
                a.next, b.previous = b, a  # type: ignore[attr-defined]

    threads = [threading.Thread(target=parse_and_churn) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
