"""``GET /openapi.json``: the HTTP API as OpenAPI 3.1, written as data, next to the routes.

``SPEC`` describes every route of ``preread.server.app`` (the test suite checks that each
route and method the app declares is here, and fuzzes a running server from this
document with schemathesis). Errors share one shape (``Error``); every operation lists
the statuses it answers. Response schemas say what a client may rely on and allow more
fields (readers ignore unknown ones).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from preread import __version__
from preread.server.export_api import PATHS as EXPORT_PATHS

Schema = dict[str, Any]

ID_PATTERN = "^[0-9a-fA-F]{8,64}$"
ERROR_REF = {"$ref": "#/components/schemas/Error"}
JSON_ERROR = {"application/json": {"schema": ERROR_REF}}


def _error(description: str) -> Schema:
    return {"description": description, "content": JSON_ERROR}


ERRORS: dict[str, Schema] = {
    "400": _error("bad input (a bad id, parameter or body)"),
    "401": _error("a POST or DELETE without the bearer token (when PREREAD_API_TOKEN is set)"),
    "404": _error("unknown document, block or route"),
    "405": _error("method not allowed"),
    "409": _error("a conflicting job, or audio made for another provider"),
    "413": _error("body too large"),
    "416": _error("range not satisfiable, or no text on the selected pages"),
    "429": _error("live generation rate limit (Retry-After)"),
    "502": _error("the voice engine failed"),
    "503": _error("live queue full (Retry-After)"),
}


def _errors(*codes: str) -> dict[str, Schema]:
    return {code: ERRORS[code] for code in codes}


def _json(description: str, schema: Schema) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _obj(required: dict[str, Schema], optional: dict[str, Schema] | None = None) -> Schema:
    return {
        "type": "object",
        "required": list(required),
        "properties": {**required, **(optional or {})},
    }


def _query(name: str, schema: Schema, description: str, required: bool = False) -> Schema:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": schema,
    }


STR = {"type": "string"}
INT = {"type": "integer"}
NUM = {"type": "number"}
BOOL = {"type": "boolean"}
NULLABLE_NUM = {"type": ["number", "null"]}
DOC_ID = {"type": "string", "pattern": ID_PATTERN}
DOC_QUERY = _query("documentId", DOC_ID, "a documentId or a unique prefix (≥ 8 hex)", True)
DOC_PATH = {
    "name": "document_id",
    "in": "path",
    "required": True,
    "description": "a documentId or a unique prefix (≥ 8 hex)",
    "schema": DOC_ID,
}
VOICE_QUERY = [
    _query("provider", STR, "the voice's provider (default: the server's)"),
    _query("voice", STR, "voice name"),
    _query("model", STR, "model"),
    _query("speed", {"type": "number", "minimum": 0.25, "maximum": 4.0}, "speaking speed"),
    _query("format", {"type": "string", "enum": ["mp3", "opus"]}, "audio format"),
]
AUDIO = {"description": "audio", "content": {"audio/mpeg": {}, "audio/ogg": {}}}

STATUS = _obj(
    {
        "documentId": STR,
        "exists": BOOL,
        "settingsMatch": BOOL,
        "state": {
            "enum": ["none", "queued", "running", "complete", "partial", "failed", "cancelled"]
        },
        "total": INT,
        "done": INT,
        "failed": INT,
        "bytes": INT,
        "duration": NUM,
        "eta": NULLABLE_NUM,
    },
    {
        "jobId": {"type": ["string", "null"]},
        "error": STR,
        "fallback": {"type": "integer", "description": "done chunks a fallback voice spoke"},
    },
)
HEALTH = {
    "providers": {
        "type": "object",
        "additionalProperties": _obj(
            {"breaker": {"enum": ["closed", "open", "half-open"]}},
            {
                "reason": STR,
                "sentencesByThreads": {
                    "type": "object",
                    "description": "Piper: sentences synthesized, by ONNX threads",
                    "additionalProperties": INT,
                },
            },
        ),
    }
}
SUMMARY = _obj({"documentId": STR, "title": STR, "pages": INT, "blocks": INT}, {"sourceName": STR})
DOC_BRIEF = {"type": ["object", "null"], "properties": {"documentId": STR, "lastUsed": NUM}}
STATS = _obj(
    {
        "totalSize": INT,
        "limit": INT,
        "documentsCount": INT,
        "oldestDocument": DOC_BRIEF,
        "newestDocument": DOC_BRIEF,
    },
    {
        "synthesis": {
            "type": "object",
            "description": "per provider: count, p50 and p95 seconds per chunk (recent)",
            "additionalProperties": _obj({"count": INT, "p50": NUM, "p95": NUM}),
        }
    },
)
PREPROCESS_BODY = _obj(
    {"documentId": DOC_ID},
    {
        "pages": {
            "anyOf": [{"type": "string"}, {"type": "array", "items": INT}],
            "description": "pages to generate: '3-7,10', '8-', '-4', or a list",
        },
        "provider": STR,
        "voice": STR,
        "model": STR,
        "speed": {"type": "number", "minimum": 0.25, "maximum": 4.0},
        "format": {"enum": ["mp3", "opus"]},
        "instructions": STR,
        "force": BOOL,
        "upgrade": {
            "type": "boolean",
            "description": "regenerate the chunks a fallback voice spoke with the primary",
        },
    },
)
SPEECH_BODY = _obj(
    {"input": {"type": "string", "minLength": 1}},
    {
        "model": STR,
        "voice": STR,
        "response_format": {"enum": ["mp3", "opus"]},
        "speed": {"type": "number", "minimum": 0.25, "maximum": 4.0},
        "instructions": STR,
        "language": STR,
    },
)
HTML = {"description": "the web reader's page", "content": {"text/html": {}}}


def _op(summary: str, responses: dict[str, Schema], **extra: Any) -> Schema:
    return {"summary": summary, "responses": responses, **extra}


PATHS: dict[str, dict[str, Schema]] = {
    "/api/tts/chunk": {
        "get": _op(
            "A chunk's audio: from disk (Range, ETag, immutable), or made live when missing",
            {
                "200": AUDIO,
                "206": {"description": "part of the chunk (Range)"},
                "304": {"description": "not modified (If-None-Match)"},
                **_errors("400", "404", "409", "416", "429", "502", "503"),
            },
            parameters=[
                DOC_QUERY,
                _query("page", {"type": "integer", "minimum": 1}, "1-based page"),
                _query("blockIndex", {"type": "integer", "minimum": 0}, "block on the page"),
                _query("index", {"type": "integer", "minimum": 0}, "or: the manifest index"),
            ],
        ),
    },
    "/api/tts/preprocess": {
        "post": _op(
            "Start pre-generating a registered document (a job)",
            {
                "202": _json("job queued", _obj({"documentId": STR, "total": INT})),
                "200": _json("already complete with those settings", _obj({"documentId": STR})),
                **_errors("400", "401", "404", "409", "413", "416"),
            },
            requestBody={
                "required": True,
                "content": {"application/json": {"schema": PREPROCESS_BODY}},
            },
        ),
        "delete": _op(
            "Cancel the document's job and remove its audio",
            {"204": {"description": "removed"}, **_errors("400", "401", "404", "409")},
            parameters=[DOC_QUERY],
        ),
    },
    "/api/tts/preprocess/status": {
        "get": _op(
            "How far a document's audio is",
            {"200": _json("status", STATUS), **_errors("400", "404")},
            parameters=[DOC_QUERY, *VOICE_QUERY],
        ),
    },
    "/api/tts/preprocess/events": {
        "get": _op(
            "The status as Server-Sent Events until the job ends",
            {
                "200": {"description": "events", "content": {"text/event-stream": {}}},
                "204": {"description": "no job to follow (a reconnect after the end)"},
                **_errors("400", "404"),
            },
            parameters=[DOC_QUERY],
        ),
    },
    "/api/tts/preprocess/stats": {
        "get": _op("The store's size against its limit", {"200": _json("stats", STATS)}),
    },
    "/api/tts/preprocess/cancel": {
        "post": _op(
            "Stop the document's job (its chunks stay)",
            {"200": _json("status", STATUS), **_errors("400", "401", "404")},
            parameters=[DOC_QUERY],
        ),
    },
    "/api/documents": {
        "post": _op(
            "Register a document (the file as the body, or multipart 'file'; ≤ 100 MiB)",
            {
                "201": _json("registered", SUMMARY),
                "200": _json("already registered", SUMMARY),
                **_errors("400", "401", "413"),
            },
            parameters=[_query("name", STR, "the file's name (raw body)")],
            requestBody={
                "required": True,
                "content": {
                    "application/pdf": {"schema": {"type": "string", "format": "binary"}},
                    "multipart/form-data": {
                        "schema": _obj({"file": {"type": "string", "format": "binary"}})
                    },
                },
            },
        ),
        "get": _op(
            "Every document the store knows",
            {"200": _json("documents", _obj({"documents": {"type": "array"}}))},
        ),
    },
    "/api/documents/{document_id}": {
        "get": _op(
            "The document's manifest (tts.meta.json), or its blocks when it has no audio",
            {"200": _json("manifest", {"type": "object"}), **_errors("400", "404")},
            parameters=[DOC_PATH],
        ),
    },
    "/api/documents/{document_id}/estimate": {
        "get": _op(
            "What pre-generating would take (characters, seconds, bytes)",
            {
                "200": _json("estimate", _obj({"documentId": STR, "blocks": INT})),
                **_errors("400", "404", "416", "502"),
            },
            parameters=[DOC_PATH, _query("pages", STR, "pages, as for a job"), *VOICE_QUERY],
        ),
    },
    "/api/documents/{document_id}/export": {
        "get": _op(
            "A download of the stored audio (m4b, mp3) or its captions (vtt, srt)",
            {
                "200": {
                    "description": "the file",
                    "content": {
                        "audio/mp4": {},
                        "audio/mpeg": {},
                        "text/vtt": {},
                        "application/x-subrip": {},
                    },
                },
                **_errors("400", "404", "503"),
                "409": _error(
                    "some pages have no stored audio: error.missingPages lists them"
                    " (the pages syntax of POST /api/tts/preprocess)"
                ),
            },
            parameters=[
                DOC_PATH,
                _query("format", {"enum": ["m4b", "mp3", "vtt", "srt"]}, "what to download"),
                _query("chapter", {"type": "integer", "minimum": 1}, "one chapter only"),
            ],
        ),
    },
    "/v1/audio/speech": {
        "post": _op(
            "OpenAI-compatible speech, answered from the same stored audio",
            {"200": AUDIO, **_errors("400", "401", "413", "429", "502", "503")},
            requestBody={
                "required": True,
                "content": {"application/json": {"schema": SPEECH_BODY}},
            },
        ),
    },
    "/v1/models": {
        "get": _op("Models (OpenAI's list shape)", {"200": _json("models", _obj({"data": {}}))}),
    },
    "/v1/audio/voices": {
        "get": _op(
            "Voices of the server's provider", {"200": _json("voices", _obj({"voices": {}}))}
        ),
    },
    "/healthz": {
        "get": _op(
            "Liveness, and each provider's circuit breaker",
            {
                "200": _json("ok: a provider may speak", _obj({"status": {"const": "ok"}}, HEALTH)),
                "503": _json(
                    "every provider's breaker is open",
                    _obj({"status": {"const": "degraded"}}, HEALTH),
                ),
            },
        ),
    },
    "/metrics": {
        "get": _op(
            "Prometheus metrics", {"200": {"description": "metrics", "content": {"text/plain": {}}}}
        ),
    },
    "/openapi.json": {
        "get": _op("This document", {"200": _json("OpenAPI 3.1", {"type": "object"})}),
    },
    "/": {"get": _op("The web reader: the library page", {"200": HTML})},
    "/read/{document_id}": {
        "get": _op(
            "The web reader: one document", {"200": HTML, **_errors("400")}, parameters=[DOC_PATH]
        ),
    },
    "/sw.js": {
        "get": _op(
            "The web reader's service worker",
            {"200": {"description": "script", "content": {"text/javascript": {}}}},
        ),
    },
    "/favicon.ico": {
        "get": _op("The icon", {"200": {"description": "icon", "content": {"image/svg+xml": {}}}}),
    },
    "/static/{path}": {
        "get": _op(
            "The web reader's static files",
            {"200": {"description": "a file"}, **_errors("404", "405")},
            parameters=[
                {"name": "path", "in": "path", "required": True, "schema": STR},
            ],
        ),
    },
}

# GET routes answer HEAD too; those a reader uses with HEAD are declared.
for _path in ("/api/tts/chunk", "/", "/read/{document_id}", "/sw.js", "/favicon.ico"):
    _get = PATHS[_path]["get"]
    PATHS[_path]["head"] = {**_get, "summary": "Headers of: " + _get["summary"]}

SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "preread",
        "version": __version__,
        "description": "Pre-generated text-to-speech audio, streamed from disk.",
        "license": {"name": "MIT", "identifier": "MIT"},
    },
    "paths": {**PATHS, **EXPORT_PATHS},
    "components": {
        "schemas": {
            "Error": _obj({"error": _obj({"code": STR, "message": STR})}),
        },
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
    },
}


async def openapi(request: Request) -> Response:
    return JSONResponse(SPEC)
