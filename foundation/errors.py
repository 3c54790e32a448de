"""Errors every layer may raise, declared once."""

from __future__ import annotations


class ReconciliationError(RuntimeError):
    """Rows read are not all accounted for as staged (or passed), quarantined or true duplicates.

    Raised by ingestion (landing -> staged) and by validation (staged -> passed + quarantined):
    nothing may be lost between zones, so a count that does not add up stops the run.
    """
