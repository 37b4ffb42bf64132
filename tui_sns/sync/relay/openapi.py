"""The OpenAPI 3.0.3 description of HTTP API v1, generated for one relay's config."""

from __future__ import annotations

from typing import Any

from .config import RelayConfig

MAX_SEQ = 2**63 - 1
MAX_CURSOR_AT = 2**40  # unix s accepted by /v1/cursor (far beyond any real date)
MAX_BATCH_ITEMS = 256

_ERROR_REF = {"$ref": "#/components/schemas/Error"}


def _error(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": _ERROR_REF}},
    }
    if headers:
        response["headers"] = headers
    return response


def _json(description: str, ref: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": ref}}}}


_RETRY_AFTER = {
    "Retry-After": {
        "description": "Whole seconds to wait before retrying.",
        "required": True,
        "schema": {"type": "integer", "minimum": 1},
    }
}
_UNAVAILABLE = _error("The database is not available.")
_RATE_LIMITED = _error("Rate limit exceeded.", _RETRY_AFTER)
_TIMEOUT = _error("The body did not arrive within body_timeout; the connection is closed.")
_AFTER = {
    "name": "after",
    "in": "query",
    "required": False,
    "description": "Return only envelopes with a seq greater than this.",
    "schema": {"type": "integer", "minimum": 0, "maximum": MAX_SEQ, "default": 0},
}


def _shard_param(shards: int) -> dict[str, Any]:
    return {
        "name": "n",
        "in": "path",
        "required": True,
        "description": f"The shard, 0..{shards - 1} (400 otherwise).",
        "schema": {"type": "integer", "minimum": 0, "maximum": shards - 1},
    }


def openapi_document(config: RelayConfig) -> dict[str, Any]:
    """The document served at ``/openapi.json``; read endpoints need a credential in ``members`` mode."""
    members = config.read == "members"
    max_items = min(MAX_BATCH_ITEMS, config.write_burst)
    read_security: list[dict[str, list[str]]] = [{"credential": []}] if members else []
    read_errors: dict[str, Any] = {
        "400": _error("A query parameter is malformed or out of range."),
        "429": _RATE_LIMITED,
        "503": _UNAVAILABLE,
    }
    if members:
        read_errors["401"] = _error("A valid credential is required to read this relay.")
    # /metrics exists on the public listener only with an admin token (else it is 404).
    metrics: dict[str, Any] = {}
    if config.metrics_token is not None:
        metrics["/metrics"] = {
            "get": {
                "operationId": "metrics",
                "summary": "Prometheus metrics (needs the operator's metrics_token).",
                "security": [{"credential": []}],
                "responses": {
                    "200": {
                        "description": "Prometheus text exposition format.",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    },
                    "401": _error("The admin token is missing or wrong."),
                },
            }
        }
    plain_ok = {
        "description": "OK",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Status"}}},
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "tui-sns relay",
            "version": "1",
            "description": "Stores and serves opaque sealed envelopes. See docs/relay.md.",
        },
        "paths": {
            "/v1/invites/redeem": {
                "post": {
                    "operationId": "redeemInvite",
                    "summary": "Trade an invite code for a credential.",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Redeem"}}},
                    },
                    "responses": {
                        "201": _json("A new credential.", "#/components/schemas/Credential"),
                        "400": _error('The body is not JSON {"code": string}.'),
                        "404": _error("No such invite code."),
                        "408": _TIMEOUT,
                        "410": _error("The invite is used up, expired or revoked."),
                        "429": _error("Too many attempts from this address.", _RETRY_AFTER),
                        "503": _UNAVAILABLE,
                    },
                }
            },
            "/v1/envelopes": {
                "post": {
                    "operationId": "storeEnvelope",
                    "summary": "Store one envelope (idempotent by content).",
                    "security": [{"credential": []}],
                    "parameters": [
                        {
                            "name": "expires",
                            "in": "query",
                            "required": False,
                            "description": "Unix time after which the relay drops the envelope (rounded up to the hour).",
                            "schema": {"type": "integer", "minimum": 0},
                        },
                        {
                            "name": "shards",
                            "in": "query",
                            "required": False,
                            "description": (
                                "The shards the envelope is for: `all` (the default) or distinct comma-separated "
                                f"numbers 0..{config.shards - 1}, at most {config.max_tags}. Ignored when the "
                                "relay has one shard. The first tag set of these bytes sticks."
                            ),
                            "schema": {"type": "string"},
                        },
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/octet-stream": {
                                "schema": {"type": "string", "format": "binary"},
                            }
                        },
                    },
                    "responses": {
                        "200": _json("These bytes were already stored.", "#/components/schemas/Stored"),
                        "201": _json("Stored.", "#/components/schemas/Stored"),
                        "400": _error("Empty body, bad expires or bad shards."),
                        "401": _error("Missing, unknown or revoked credential."),
                        "413": _error(f"The envelope is larger than {config.max_envelope_bytes} bytes."),
                        "408": _TIMEOUT,
                        "429": _RATE_LIMITED,
                        "503": _UNAVAILABLE,
                    },
                },
                "get": {
                    "operationId": "listEnvelopes",
                    "summary": "List envelopes in arrival order.",
                    "security": read_security,
                    "parameters": [
                        _AFTER,
                        {
                            "name": "limit",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 500},
                        },
                    ],
                    "responses": {
                        "200": _json("A page of envelopes.", "#/components/schemas/Page"),
                        **read_errors,
                    },
                },
            },
            "/v1/envelopes/batch": {
                "post": {
                    "operationId": "storeEnvelopes",
                    "summary": "Store several envelopes in one request and one commit (each idempotent).",
                    "description": (
                        "The body is a sequence of items, each a 4-byte big-endian length followed by "
                        "that many envelope bytes; with `expiring=1`, an 8-byte big-endian expiry (unix "
                        "seconds, 0 for none) comes between the length and the bytes. At most "
                        f"{max_items} items, each at most {config.max_envelope_bytes} bytes, body at "
                        f"most {config.max_batch_bytes} bytes. All or nothing: an error stores none "
                        "of them. Each item costs one write token."
                    ),
                    "security": [{"credential": []}],
                    "parameters": [
                        {
                            "name": "expiring",
                            "in": "query",
                            "required": False,
                            "description": "1 when every item carries an 8-byte expiry.",
                            "schema": {"type": "integer", "enum": [0, 1], "default": 0},
                        },
                        {
                            "name": "tagged",
                            "in": "query",
                            "required": False,
                            "description": (
                                "1 when every item carries its shard tags after its length: a 2-byte "
                                "count k, then k 2-byte shard numbers (k = 65535: all shards, no list)."
                            ),
                            "schema": {"type": "integer", "enum": [0, 1], "default": 0},
                        },
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/octet-stream": {
                                "schema": {"type": "string", "format": "binary"},
                            }
                        },
                    },
                    "responses": {
                        "200": _json(
                            "Every envelope is stored; one result per item, in request order.",
                            "#/components/schemas/BatchStored",
                        ),
                        "400": _error(
                            "Malformed body, an empty envelope, a bad expiry or bad tags; nothing stored."
                        ),
                        "401": _error("Missing, unknown or revoked credential."),
                        "413": _error("The body, an envelope or the number of items is over the limit."),
                        "408": _TIMEOUT,
                        "429": _RATE_LIMITED,
                        "503": _UNAVAILABLE,
                    },
                }
            },
            "/v1/stream": {
                "get": {
                    "operationId": "streamEnvelopes",
                    "summary": "Server-Sent Events: every envelope after `after`, then new ones live.",
                    "description": (
                        "Events are named `envelope`, their `id` is the seq and their `data` an Envelope "
                        "object as JSON. A `: ping` comment is sent about every 15 s."
                    ),
                    "security": read_security,
                    "parameters": [_AFTER],
                    "responses": {
                        "200": {
                            "description": "An event stream.",
                            "content": {
                                "text/event-stream": {"schema": {"$ref": "#/components/schemas/Event"}}
                            },
                        },
                        **read_errors,
                        "503": _error(
                            "The database is not available, or too many streams are open "
                            "(`too_many_streams`, with Retry-After)."
                        ),
                    },
                }
            },
            "/v1/shards/{n}/envelopes": {
                "get": {
                    "operationId": "listShardEnvelopes",
                    "summary": "List the envelopes of one shard (tagged with it, or broadcast) in arrival order.",
                    "security": read_security,
                    "parameters": [
                        _shard_param(config.shards),
                        _AFTER,
                        {
                            "name": "limit",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 500},
                        },
                    ],
                    "responses": {
                        "200": _json("A page of envelopes.", "#/components/schemas/Page"),
                        **read_errors,
                    },
                }
            },
            "/v1/shards/{n}/stream": {
                "get": {
                    "operationId": "streamShardEnvelopes",
                    "summary": "As /v1/stream, for the envelopes of one shard.",
                    "security": read_security,
                    "parameters": [_shard_param(config.shards), _AFTER],
                    "responses": {
                        "200": {
                            "description": "An event stream.",
                            "content": {
                                "text/event-stream": {"schema": {"$ref": "#/components/schemas/Event"}}
                            },
                        },
                        **read_errors,
                        "503": _error(
                            "The database is not available, or too many streams are open "
                            "(`too_many_streams`, with Retry-After)."
                        ),
                    },
                }
            },
            "/v1/cursor": {
                "get": {
                    "operationId": "cursorAt",
                    "summary": "A cursor to start reading at a moment: every envelope that arrived at or after it has a larger seq.",
                    "description": (
                        "`after` is a seq such that every envelope that arrived at or after the start of "
                        "the hour containing `at` has `seq > after` (a new reader starts there instead of "
                        "at 0). The relay learns the moment asked about; clients round it to a day."
                    ),
                    "security": read_security,
                    "parameters": [
                        {
                            "name": "at",
                            "in": "query",
                            "required": True,
                            "description": "A unix time in seconds.",
                            "schema": {"type": "integer", "minimum": 0, "maximum": MAX_CURSOR_AT},
                        }
                    ],
                    "responses": {
                        "200": _json("The cursor.", "#/components/schemas/Cursor"),
                        **read_errors,
                    },
                }
            },
            "/v1/info": {
                "get": {
                    "operationId": "info",
                    "summary": "What this relay accepts.",
                    "responses": {"200": _json("Relay parameters.", "#/components/schemas/Info")},
                }
            },
            "/healthz": {
                "get": {"operationId": "healthz", "summary": "Liveness.", "responses": {"200": plain_ok}}
            },
            "/readyz": {
                "get": {
                    "operationId": "readyz",
                    "summary": "Readiness: the database answers.",
                    "responses": {"200": plain_ok, "503": _error("The database does not answer.")},
                }
            },
            **metrics,
            "/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document.",
                    "responses": {
                        "200": {
                            "description": "OpenAPI 3.0.3 document.",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        }
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {"credential": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error", "detail"],
                    "properties": {"error": {"type": "string"}, "detail": {"type": "string"}},
                },
                "Status": {
                    "type": "object",
                    "required": ["status"],
                    "properties": {"status": {"type": "string", "enum": ["ok"]}},
                },
                "Redeem": {
                    "type": "object",
                    "required": ["code"],
                    "properties": {"code": {"type": "string", "minLength": 1, "maxLength": 256}},
                },
                "Credential": {
                    "type": "object",
                    "required": ["credential"],
                    "properties": {"credential": {"type": "string"}},
                },
                "Stored": {
                    "type": "object",
                    "required": ["id", "seq"],
                    "properties": {
                        "id": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                        "seq": {"type": "integer", "minimum": 1},
                    },
                },
                "BatchStored": {
                    "type": "object",
                    "required": ["results"],
                    "properties": {
                        "results": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["id", "seq", "stored"],
                                "properties": {
                                    "id": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                                    "seq": {"type": "integer", "minimum": 1},
                                    "stored": {
                                        "type": "boolean",
                                        "description": "False when these bytes were already stored.",
                                    },
                                },
                            },
                        }
                    },
                },
                "Envelope": {
                    "type": "object",
                    "required": ["seq", "id", "data"],
                    "properties": {
                        "seq": {"type": "integer", "minimum": 1},
                        "id": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                        "data": {"type": "string", "format": "byte", "description": "Standard base64."},
                    },
                },
                "Event": {
                    "type": "object",
                    "description": "One Server-Sent Event; `data` is an Envelope object as JSON text.",
                    "required": ["event", "id", "data"],
                    "properties": {
                        "event": {"type": "string", "enum": ["envelope"]},
                        "id": {"type": "string", "pattern": "^[0-9]+$"},
                        "data": {"type": "string", "contentMediaType": "application/json"},
                    },
                },
                "Page": {
                    "type": "object",
                    "required": ["envelopes", "next", "more"],
                    "properties": {
                        "envelopes": {"type": "array", "items": {"$ref": "#/components/schemas/Envelope"}},
                        "next": {"type": "integer", "minimum": 0},
                        "more": {"type": "boolean"},
                    },
                },
                "Cursor": {
                    "type": "object",
                    "required": ["after"],
                    "properties": {"after": {"type": "integer", "minimum": 0, "maximum": MAX_SEQ}},
                },
                "Info": {
                    "type": "object",
                    "required": [
                        "version",
                        "read",
                        "max_envelope_bytes",
                        "shards",
                        "retention",
                        "first_seq",
                        "latest_seq",
                    ],
                    "properties": {
                        "version": {"type": "integer", "enum": [1]},
                        "read": {"type": "string", "enum": ["anyone", "members"]},
                        "max_envelope_bytes": {"type": "integer", "minimum": 1},
                        "shards": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": 4096,
                            "description": "The shard count S (a power of two); 1: every reader reads everything.",
                        },
                        "retention": {
                            "type": "integer",
                            "minimum": 1,
                            "nullable": True,
                            "description": (
                                "Seconds an envelope is kept after it arrives (null: until it expires). "
                                "A member who does not read for longer loses what arrived meanwhile."
                            ),
                        },
                        "first_seq": {
                            "type": "integer",
                            "minimum": 0,
                            "maximum": MAX_SEQ,
                            "nullable": True,
                            "description": (
                                "1 + the highest seq deleted for age, or 0 when none was: a reader whose "
                                "cursor is below first_seq - 1 missed envelopes. Null in members mode "
                                "without a valid credential."
                            ),
                        },
                        "latest_seq": {
                            "type": "integer",
                            "minimum": 0,
                            "maximum": MAX_SEQ,
                            "nullable": True,
                            "description": "The highest committed seq (null as for first_seq).",
                        },
                    },
                },
            },
        },
    }
