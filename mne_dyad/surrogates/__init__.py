"""Chance levels: surrogate signals, pseudo-dyads and above-chance tests."""

from .iaaft import iaaft
from .pseudo_dyads import pseudo_dyads
from .shuffle import circular_shift, segment_shuffle
from .testing import KINDS, test_above_chance

__all__ = [
    "KINDS",
    "circular_shift",
    "iaaft",
    "pseudo_dyads",
    "segment_shuffle",
    "test_above_chance",
]
