"""Reading requests safely: bounded integers, checked ids, size-limited bodies.

Every value from a client passes through here before it reaches the store; a bad
one is ``BadInput`` (400) or ``PayloadTooLarge`` (413), never a 500.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.requests import Request

from preread.errors import BadInput, PayloadTooLarge
from preread.ids import check_id_or_prefix
from preread.library import Library

MAX_PAGE = 100_000
MAX_INDEX = 10_000_000
_INTEGER = re.compile(r"-?[0-9]{1,12}")  # ASCII only: str.isdigit() also takes "²", "١"


def int_value(value: object, name: str, low: int, high: int) -> int:
    if isinstance(value, bool):
        raise BadInput(f"bad {name}: expected an integer")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        number = int(value)
    else:
        raise BadInput(f"bad {name} {str(value)[:40]!r}: expected an integer")
    if not low <= number <= high:
        raise BadInput(f"bad {name} {number}: must be between {low} and {high}")
    return number


def int_param(request: Request, name: str, low: int, high: int) -> int | None:
    value = request.query_params.get(name)
    if value is None or value == "":
        return None
    return int_value(value, name, low, high)


def float_value(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise BadInput(f"bad {name}: expected a number")
    try:
        number = float(value)
    except ValueError:
        raise BadInput(f"bad {name} {str(value)[:40]!r}: expected a number") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise BadInput(f"bad {name}: expected a finite number")
    return number


def document_id(library: Library, value: str | None) -> str:
    """A full, known document id from a query value (id or prefix ≥ 8 hex chars)."""
    if not value:
        raise BadInput("documentId is required")
    checked = check_id_or_prefix(value)
    if len(checked) == 64:
        return checked
    return library.resolve(checked)


def document_id_param(request: Request, library: Library, name: str = "documentId") -> str:
    return document_id(library, request.query_params.get(name))


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing (413) anything over ``limit`` bytes, early if declared."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not re.fullmatch(r"[0-9]{1,20}", declared.strip()):
            raise BadInput("bad Content-Length")
        if int(declared.strip()) > limit:
            raise PayloadTooLarge(f"request body of {declared} bytes is over the {limit} limit")
    pieces: list[bytes] = []
    size = 0
    async for piece in request.stream():
        size += len(piece)
        if size > limit:
            raise PayloadTooLarge(f"request body is over the {limit} byte limit")
        pieces.append(piece)
    return b"".join(pieces)


async def json_body(request: Request, limit: int = 1 << 20) -> dict[str, Any]:
    raw = await read_body(request, limit)
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BadInput("request body is not valid JSON") from None
    except RecursionError:
        raise BadInput("request body is nested too deeply") from None
    if not isinstance(data, dict):
        raise BadInput("request body must be a JSON object")
    try:  # "\ud800" is valid JSON but no text: it cannot be encoded, hashed or spoken
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise BadInput("request body has a lone surrogate escape (\\ud800-\\udfff)") from None
    except RecursionError:
        raise BadInput("request body is nested too deeply") from None
    return data


def optional_str(data: dict[str, Any], name: str, max_len: int = 200) -> str | None:
    value = data.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > max_len:
        raise BadInput(f"bad {name}: expected a string of at most {max_len} characters")
    return value
