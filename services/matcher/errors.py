"""The one place for the matcher's operator-facing errors; messages name ids, never values."""

from __future__ import annotations

from signpost.errors import SignpostError

__all__ = ["OperatorError", "ReviewNotOpen", "SplitRefused", "ThresholdConflict"]


class OperatorError(SignpostError):
    """An operator's request cannot be done as asked (the state moved, or it makes no sense)."""


class ThresholdConflict(OperatorError):
    """Someone changed the thresholds since the caller read them."""


class ReviewNotOpen(OperatorError):
    """The review item is unknown or already decided."""


class SplitRefused(OperatorError):
    """The records are not all on the child, or the split would leave nothing to move."""
