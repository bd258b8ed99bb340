"""Alliance questionnaires: scoring items into scales per dyad and session."""

from .sai import PRESETS, read_sai

__all__ = ["PRESETS", "read_sai"]
