"""The layering of ../shared/DESIGN.md, read from the imports of ``src/preread/``.

Only the rules that hold are checked (a new module joins a layer below; a rule that
breaks fails here with the importing module and what it imports). Imports inside
functions count too: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "preread"

BASE = {
    "errors", "ids", "units", "fsutil", "settings", "limits", "pages", "voice", "flights",
    "model",
}  # fmt: skip
# helpers on bytes and strings (audio durations, text tokens): only the base below them
HELPERS = {"audio", "speech.normalize"}
TEXT = {"readers", "pdf"}
ENGINES = {"tts"}
STORE = {
    "store", "blobs", "manifest", "journal", "fold", "lifecycle", "tiers", "s3tier",
    "shared", "tier_link", "speech.index", "latency", "verify",
}  # fmt: skip
LIBRARY_PARTS = {"speaking", "missing_chunks", "upkeep", "exporting"}  # ``Library`` inherits them
TOP = {"server", "cli"}
# Known breaks, to remove when they are fixed (DESIGN.md rule 7/8: voice identity).
KNOWN: set[tuple[str, str]] = set()


def _name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """Each module (``store``, ``speech.index``, ``server.app``) -> the preread modules
    it imports (``from preread.x import y`` counts as ``x`` and ``x.y``)."""
    found: dict[str, set[str]] = {}
    for path in sorted(SRC.rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            else:
                continue
            names.update(m.removeprefix("preread.") for m in modules if m.startswith("preread."))
        found[_name(path)] = names
    return found


def _in(module: str, layer: set[str]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in layer)


IMPORTS = _imports()


def _breaks(layer: set[str], allowed: set[str]) -> list[str]:
    """Imports by ``layer``'s modules of preread modules outside ``allowed``."""
    return sorted(
        f"{module} imports {target}"
        for module, targets in IMPORTS.items()
        if _in(module, layer)
        for target in targets & IMPORTS.keys()  # modules, not the names taken from them
        if not _in(target, allowed) and (module.split(".")[0], target.split(".")[0]) not in KNOWN
    )


def test_every_module_is_read() -> None:
    assert {"library", "speaking", "store", "server.app", "readers", "pdf.layout"} <= set(IMPORTS)


@pytest.mark.parametrize(
    ("layer", "allowed"),
    [
        (BASE, BASE),  # the base imports nothing above it
        (HELPERS, BASE),
        (TEXT, BASE | TEXT),  # rules 5 and 6: text knows no engine and no disk
        (ENGINES, BASE | ENGINES),  # engines know no disk and no text reader
        (STORE, BASE | HELPERS | STORE),  # rules 4 and 7: bytes and records, no engine, no making
    ],
    ids=["base", "helpers", "text", "engines", "store"],
)
def test_a_layer_imports_only_what_is_below_it(layer: set[str], allowed: set[str]) -> None:
    assert _breaks(layer, allowed) == []


def test_only_the_command_and_the_routes_import_them() -> None:
    below = {m for m in IMPORTS if not _in(m, TOP | {"__main__"})}
    assert _breaks(below, {m for m in IMPORTS if not _in(m, TOP)}) == []


def test_the_library_parts_are_reached_through_the_library() -> None:
    """The CLI and the server talk to ``Library``; its parts stay behind it."""
    users = {m for m, targets in IMPORTS.items() if any(_in(t, LIBRARY_PARTS) for t in targets)}
    assert users <= {"library"}
