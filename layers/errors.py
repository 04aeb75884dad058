"""wangge's domain errors: one hierarchy, raised by ``geo`` and ``layers``.

Each error carries a public message, safe to show a client, kept apart from
any internal cause (which is only logged). ``api.errors`` maps each class to
an HTTP status in one table.
"""

from __future__ import annotations


class WanggeError(Exception):
    """Base class; ``public`` is the message a client may see."""

    def __init__(self, public: str, **details: object) -> None:
        super().__init__(public)
        self.public = public
        self.details = details


class InvalidInput(WanggeError):
    """The client sent something wangge cannot use (422)."""


class NotFound(WanggeError):
    """The thing asked for does not exist (404)."""


class OutsideTerritory(NotFound):
    """A point lies outside every grid of the territory (404)."""


class Forbidden(WanggeError):
    """The caller's role or area does not allow this (403)."""


class Conflict(WanggeError):
    """The request clashes with the current state, e.g. a team already taken (409)."""


class PreconditionFailed(WanggeError):
    """The client's version of the data is stale (412)."""


class StoreError(WanggeError):
    """The database failed in a way the client cannot fix (503)."""
