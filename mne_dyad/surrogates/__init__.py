"""Chance levels: surrogate signals, pseudo-dyads and each session's surrogate distribution.

The group-level test of synchrony above chance is a PyMC model:
:func:`mne_dyad.stats.test_above_chance`. ``mne_dyad.surrogates.test_above_chance``
is the same function, loaded when first used (surrogates sit below ``stats``).
"""

from ._compare import KINDS, compare_with_surrogates
from ._correct import chance_corrected
from ._iaaft import iaaft
from ._pseudo_dyads import pseudo_dyads
from ._shuffle import circular_shift, segment_shuffle

__all__ = [
    "KINDS",
    "chance_corrected",
    "circular_shift",
    "compare_with_surrogates",
    "iaaft",
    "pseudo_dyads",
    "segment_shuffle",
    "test_above_chance",
]

#: Names this package offers from a higher layer, loaded when first used.
_LAZY = {"test_above_chance": "mne_dyad.stats"}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
