"""Multilevel models: within/between centring and the Bayesian alliance model."""

from .centering import within_between
from .models import fit_alliance_model
from .results import AllianceFit, read_alliance_fit

__all__ = ["AllianceFit", "fit_alliance_model", "read_alliance_fit", "within_between"]
