"""``python -m preread``: the ``preread`` command, for when the script is not on PATH."""

from __future__ import annotations

import sys

from preread.cli import main

if __name__ == "__main__":
    sys.exit(main())
