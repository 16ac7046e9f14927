"""The domain's refusals: a stable code and its parameters, never a sentence.

Every command of the service layer (``tickets.services``) refuses with one of
these. Callers decide how to say it: the API maps the class to an HTTP status
and the code to a message in the caller's language (``dashboard/api/errors.py``
and the message catalogue), the command line prints the English message.
``params`` hold plain values only (str, int, float, bool, None, lists of
them), so they can go into a JSON error body as they are.
"""
from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every refusal. ``code`` names the rule (``illegal_step``, ``stale_version`` …)."""

    code = "domain_error"

    def __init__(self, code: str | None = None, /, **params: Any) -> None:
        self.code = code or type(self).code
        self.params: dict[str, Any] = params
        details = ", ".join(f"{k}={v!r}" for k, v in params.items())
        super().__init__(f"{self.code}({details})" if details else self.code)


class Invalid(DomainError, ValueError):
    """A value the rules do not accept (an empty reason, hours out of range, a naive time)."""

    code = "invalid"


class NotFound(DomainError):
    """No such thing, or none the caller may see (scope never reveals what exists outside it)."""

    code = "not_found"


class NotAllowed(DomainError):
    """The caller's role or unit does not allow this step."""

    code = "not_allowed"


class IllegalStep(DomainError):
    """The current state does not allow this step (the ticket, order or alert has moved on)."""

    code = "illegal_step"


class Conflict(DomainError):
    """The caller acted on a version that is no longer current, or the thing already exists."""

    code = "conflict"


class Busy(DomainError):
    """A lock or statement timeout: nothing was changed; the caller may try again."""

    code = "busy"


__all__ = ["Busy", "Conflict", "DomainError", "IllegalStep", "Invalid", "NotAllowed", "NotFound"]
