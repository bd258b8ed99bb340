"""mne-dyad: dyadic physiological synchrony and therapeutic alliance for MNE-Python."""

from . import (
    alliance,
    io,
    pipeline,
    preprocessing,
    report,
    simulation,
    stats,
    surrogates,
    synchrony,
    viz,
)
from ._version import __version__
from .synchrony import read_cube, synchrony_cube, write_cube

__all__ = [
    "__version__",
    "alliance",
    "io",
    "pipeline",
    "preprocessing",
    "read_cube",
    "report",
    "simulation",
    "stats",
    "surrogates",
    "synchrony",
    "synchrony_cube",
    "viz",
    "write_cube",
]
