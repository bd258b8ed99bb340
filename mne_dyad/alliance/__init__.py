"""Alliance questionnaires: scoring items into scales per dyad and session."""

from ._sai import PRESETS, read_sai

__all__ = ["PRESETS", "read_sai"]
