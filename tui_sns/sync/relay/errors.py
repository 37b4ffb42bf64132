"""Exception hierarchy of the relay.

Everything the relay raises on purpose derives from :class:`RelayError`:

* :class:`ConfigError` -- a bad option, config file, duration or database URL.
  The CLI turns it into a one-line message and exit status 2.
* :class:`StorageError` -- the database cannot be reached or refused an
  operation.  The CLI reports it with exit status 2; the HTTP app answers 503.
* :class:`ApiError` -- a request that the relay refuses.  It carries the HTTP
  status, a short machine ``code`` and a human ``detail`` sentence, and is
  rendered as ``{"error": code, "detail": detail}``.  Its subclasses name the
  cases the storage layer can detect itself (unknown or spent invites).
"""

from __future__ import annotations


class RelayError(Exception):
    """Base class of every error the relay raises deliberately."""


class ConfigError(RelayError):
    """Invalid configuration: option value, config file, duration or DB URL."""


class StorageError(RelayError):
    """The database is unreachable or failed an operation."""


class ApiError(RelayError):
    """A refused HTTP request, rendered as a JSON error body."""

    status: int = 400
    code: str = "bad_request"

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        self.headers = headers or {}


class InviteUnknownError(ApiError):
    """No invite with that code exists (HTTP 404)."""

    status = 404
    code = "invite_unknown"


class InviteGoneError(ApiError):
    """The invite exists but is used up, expired or revoked (HTTP 410)."""

    status = 410
    code = "invite_gone"
