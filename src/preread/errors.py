"""One exception hierarchy for the whole project.

Every error a user can cause or meet is a ``PrereadError``. Each class carries,
in this one place, its CLI exit code, its HTTP status and its JSON error code::

    PrereadError                 exit 1  500 internal
    ├── BadInput                 exit 2  400 bad_request
    │   ├── BadDocument          exit 2  400 bad_document   (not a PDF, corrupt, encrypted)
    │   ├── BadSettings          exit 2  400 bad_settings   (speed 0, unknown voice, no key)
    │   ├── BadRange             exit 2  416 range_not_satisfiable
    │   └── PayloadTooLarge      exit 2  413 payload_too_large
    ├── NotFound                 exit 2  404 not_found
    ├── Unauthorized             exit 2  401 unauthorized
    ├── Conflict                 exit 1  409 conflict       (a job or lock already holds it)
    ├── RateLimited              exit 1  429 rate_limited   (retry_after seconds)
    ├── Busy                     exit 1  503 busy           (retry_after seconds)
    └── SynthesisFailed          exit 1  502 synthesis_failed (the provider failed after retries)

The CLI maps an error to ``exit_code`` (preread.cli), the server to
``status_code`` and ``{"error": {"code", "message"}}`` (preread.server.errors).
Messages are one line and never contain secrets.
"""

from __future__ import annotations


class PrereadError(Exception):
    """Base of every error preread reports to a user."""

    exit_code = 1
    status_code = 500
    code = "internal"

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = " ".join(message.split())
        self.retry_after = retry_after

    def __str__(self) -> str:
        return self.message


class BadInput(PrereadError):
    exit_code = 2
    status_code = 400
    code = "bad_request"


class BadDocument(BadInput):
    code = "bad_document"


class BadSettings(BadInput):
    code = "bad_settings"


class BadRange(BadInput):
    status_code = 416
    code = "range_not_satisfiable"


class PayloadTooLarge(BadInput):
    status_code = 413
    code = "payload_too_large"


class NotFound(PrereadError):
    exit_code = 2
    status_code = 404
    code = "not_found"


class Unauthorized(PrereadError):
    exit_code = 2
    status_code = 401
    code = "unauthorized"


class Conflict(PrereadError):
    status_code = 409
    code = "conflict"


class RateLimited(PrereadError):
    status_code = 429
    code = "rate_limited"


class Busy(PrereadError):
    status_code = 503
    code = "busy"


class SynthesisFailed(PrereadError):
    status_code = 502
    code = "synthesis_failed"


class Refused(SynthesisFailed):
    """A refusal retrying cannot fix (bad key, forbidden, unknown model or voice)."""
