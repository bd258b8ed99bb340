"""Multilevel models: within/between centring and the Bayesian alliance model."""

from ._centering import within_between
from ._chance import fit_chance_model, test_above_chance
from ._design import design_analysis
from ._models import fit_alliance_model
from ._results import AllianceFit, read_alliance_fit
from ._variance import variance_decomposition, variance_table

__all__ = [
    "AllianceFit",
    "design_analysis",
    "fit_alliance_model",
    "fit_chance_model",
    "read_alliance_fit",
    "test_above_chance",
    "variance_decomposition",
    "variance_table",
    "within_between",
]
