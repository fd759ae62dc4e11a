"""``GET /openapi.json``: every route of the app is described, and a running server holds
to the description under fuzzing (schemathesis, from the served document)."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from liveserver import running_server
from preread.server.openapi import SPEC

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sample.pdf"


def app_operations(app: Any) -> set[tuple[str, str]]:
    """(path template, method) for every route the app declares, from the app itself."""
    found: set[tuple[str, str]] = set()
    for route in app.routes:
        if isinstance(route, Route):
            methods = set(route.methods or ())
            if "GET" in methods and "HEAD" in methods and route.path not in _HEAD_DECLARED:
                methods.discard("HEAD")  # Starlette adds HEAD to every GET route
            found.update((route.path, m.lower()) for m in methods)
        elif isinstance(route, Mount):
            found.add((route.path + "/{path}", "get"))
        else:  # a new kind of route: describe it, then teach this test about it
            raise AssertionError(f"unknown route type {type(route).__name__}")
    return found


_HEAD_DECLARED = {p for p, item in SPEC["paths"].items() if "head" in item}


def test_every_route_of_the_app_is_in_the_spec(client: TestClient) -> None:
    served = client.get("/openapi.json")
    assert served.status_code == 200 and served.json() == SPEC
    spec_operations = {(path, method) for path, item in SPEC["paths"].items() for method in item}
    missing = app_operations(client.app) - spec_operations
    assert not missing, f"routes missing from /openapi.json: {sorted(missing)}"
    extra = spec_operations - app_operations(client.app)
    assert not extra, f"/openapi.json describes routes the app does not have: {sorted(extra)}"


def test_every_operation_lists_its_errors_and_every_parameter_is_typed() -> None:
    assert SPEC["openapi"].startswith("3.1")
    for path, item in SPEC["paths"].items():
        declared = set(re.findall(r"{(\w+)}", path))
        for method, operation in item.items():
            assert operation["responses"], (path, method)
            params = operation.get("parameters", [])
            assert {p["name"] for p in params if p["in"] == "path"} == declared, path
            assert all("schema" in p for p in params), (path, method)
            if method in ("post", "delete") or declared or params:
                assert any(code.startswith("4") for code in operation["responses"]), path


@pytest.fixture(scope="module")
def live_base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("fuzz") / "home"
    home.mkdir()
    with running_server(home, stdout=subprocess.DEVNULL) as (base, _):
        uploaded = httpx.post(f"{base}/api/documents", content=SAMPLE.read_bytes(), timeout=30)
        assert uploaded.status_code == 201
        yield base


def _schema(raw: dict[str, Any]) -> Any:
    return schemathesis.openapi.from_dict(raw)


FUZZ_SECONDS = 45.0  # the whole fuzz, every operation, stays under a minute
EXAMPLES = 40  # per operation (≈ 10 s for all of them here)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def run_operation(
    operation: Any, base: str, deadline: float, checks: list[Any], failures: list[str]
) -> None:
    """Up to ``EXAMPLES`` generated requests for one operation, until ``deadline``."""
    label = f"{operation.method.upper()} {operation.path}"

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(operation.as_strategy())
    def one(case: Any) -> None:
        if time.monotonic() > deadline:
            return
        try:
            response = case.call(base_url=base, timeout=20)
            case.validate_response(response, checks=checks)
        except (Exception, BaseExceptionGroup) as exc:  # collect them all, then report
            failures.append(f"{label}: {type(exc).__name__}: {exc}"[:800])

    try:
        one()
    except (Exception, BaseExceptionGroup) as exc:  # re-raised through hypothesis
        failures.append(f"{label}: {type(exc).__name__}: {exc}"[:800])


@pytest.mark.slow
def test_a_running_server_holds_to_its_spec_under_fuzzing(live_base: str) -> None:
    """0 server errors, 0 schema violations, from the document the server serves."""
    schema = _schema(httpx.get(f"{live_base}/openapi.json", timeout=10).json())
    failures: list[str] = []
    operations = [op.ok() for op in schema.get_all_operations()]
    assert len(operations) >= 20
    budget = FUZZ_SECONDS / len(operations)
    for operation in operations:
        run_operation(operation, live_base, time.monotonic() + budget, CHECKS, failures)
    assert not failures, "\n".join(failures[:20])


@pytest.mark.slow
def test_the_fuzzer_reports_an_undocumented_answer(live_base: str) -> None:
    """The same checks fail on a spec that forgets a status the server answers."""
    raw = json.loads(json.dumps(SPEC))
    del raw["paths"]["/api/documents/{document_id}"]["get"]["responses"]["404"]
    operation = _schema(raw)["/api/documents/{document_id}"]["GET"]
    failures: list[str] = []
    run_operation(operation, live_base, time.monotonic() + 10, CHECKS, failures)
    assert failures and "404" in failures[0]
