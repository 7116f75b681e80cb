"""The one place logging is configured: one line per record, never a field value of an event."""

from __future__ import annotations

import logging

__all__ = ["configure_logging"]

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(level=level.upper(), format=FORMAT)
    # kafka-python logs connection churn at INFO; keep it to warnings.
    logging.getLogger("kafka").setLevel(logging.WARNING)
