"""The one place for the notifier's exceptions. Messages name a field or an id, never a value."""

from __future__ import annotations

from signpost.errors import SignpostError

__all__ = ["NotAddressedError", "NotifierError"]


class NotifierError(SignpostError):
    """Base of every error the notifier raises on purpose."""


class NotAddressedError(NotifierError):
    """The alert is unknown, or not addressed to this recipient (the API answers 403)."""
