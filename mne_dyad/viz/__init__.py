"""Figures of dyadic sessions, synchrony cubes, chance tests and models."""

from ._plots import (
    plot_alliance_effects,
    plot_cube,
    plot_dyad,
    plot_lag_map,
    plot_surrogates,
    plot_variance,
)

__all__ = [
    "plot_alliance_effects",
    "plot_cube",
    "plot_dyad",
    "plot_lag_map",
    "plot_surrogates",
    "plot_variance",
]
