"""Synchrony indices for two signals, per session and per study."""

from ._api import METHODS, compute_synchrony, synchrony_cube
from ._arousal import arousal
from ._cube_io import read_cube, write_cube
from ._susy import susy
from ._wclc import peak_picking, wclc

__all__ = [
    "METHODS",
    "arousal",
    "compute_synchrony",
    "peak_picking",
    "read_cube",
    "susy",
    "synchrony_cube",
    "wclc",
    "write_cube",
]
