"""Synchrony indices for two signals, per session and per study."""

from .api import compute_synchrony, synchrony_cube
from .cube_io import read_cube, write_cube
from .wclc import wclc

__all__ = ["compute_synchrony", "read_cube", "synchrony_cube", "wclc", "write_cube"]
