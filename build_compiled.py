"""Compile preread's EPUB walk with mypyc (``make`` runs this; optional).

    .venv/bin/python build_compiled.py

Builds ``preread.readers.compiled.MODULES`` into extension modules beside their sources
(build files in ``build/compiled``), then records the sources' digest so that
``preread.readers`` uses them only while the sources are unchanged. When mypyc or a C
compiler is missing or fails, says so in one line, removes any old extensions and exits
0: preread then runs the same code from the ``.py`` files.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import sysconfig
import time
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent
SRC = ROOT / "src"
BUILD = ROOT / "build" / "compiled"


def _compiled_module() -> ModuleType:
    # loaded from its file: importing preread.readers would map the extensions being replaced
    spec = importlib.util.spec_from_file_location(
        "_preread_compiled", SRC / "preread" / "readers" / "compiled.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build() -> list[Path]:
    """Compile into BUILD; return the built extension files."""
    from mypyc.build import mypycify
    from setuptools import setup  # type: ignore[import-untyped]

    compiled = _compiled_module()
    paths = [f"preread/readers/{name}.py" for name in compiled.MODULES]
    os.chdir(SRC)  # mypyc names modules by their path from here
    extensions = mypycify(
        [*paths, f"--config-file={ROOT / 'pyproject.toml'}", f"--cache-dir={BUILD / 'mypy'}"],
        group_name="preread.readers._compiled",
        target_dir=str(BUILD / "c"),
    )
    lib = BUILD / "lib"
    setup(
        name="preread-compiled",
        ext_modules=extensions,
        script_args=[
            "--quiet",
            "build_ext",
            "--build-lib",
            str(lib),
            "--build-temp",
            str(BUILD / "temp"),
        ],
    )
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    built = sorted((lib / "preread" / "readers").glob(f"*{suffix}"))
    if len(built) != len(compiled.MODULES) + 1:  # + the group's shared library
        raise RuntimeError(f"expected {len(compiled.MODULES) + 1} extensions, got {built}")
    return built


def install(built: list[Path], digest: str) -> None:
    """Beside the sources, each by rename: running processes keep their mapped copy."""
    target = SRC / "preread" / "readers"
    for path in built:
        temporary = target / f".{path.name}.tmp"
        shutil.copyfile(path, temporary)
        os.replace(temporary, target / path.name)
    (target / "_compiled.sha256").write_text(digest + "\n")


def remove_old() -> None:
    target = SRC / "preread" / "readers"
    for path in [*_compiled_module().extensions(target), target / "_compiled.sha256"]:
        path.unlink(missing_ok=True)
    for path in target.glob("_compiled__mypyc*"):
        path.unlink()


def main() -> int:
    started = time.monotonic()
    digest = _compiled_module().source_digest(SRC / "preread" / "readers")
    try:
        built = build()
    except SystemExit:  # mypyc and setuptools report failures (printed above) by exiting
        remove_old()
        reason = ["mypyc or the C compiler failed, see above"]
    except Exception as error:  # mypyc missing, or anything else: say it in one line
        remove_old()
        reason = str(error).strip().splitlines()[-1:] or [type(error).__name__]
    else:
        install(built, digest)
        print(
            f"build_compiled: EPUB walk compiled with mypyc in {time.monotonic() - started:.0f} s"
        )
        return 0
    print(
        f"build_compiled: not compiled ({reason[0]}): the EPUB walk runs from its .py files",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
