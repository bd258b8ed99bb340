"""Figures of dyadic sessions, synchrony cubes and alliance models."""

from ._plots import plot_alliance_effects, plot_cube, plot_dyad

__all__ = ["plot_alliance_effects", "plot_cube", "plot_dyad"]
