"""EDA preprocessing: cleaning, tonic/phasic decomposition, artifact marking."""

from ._artifacts import annotate_artifacts
from ._eda import clean_eda, decompose_eda

__all__ = ["annotate_artifacts", "clean_eda", "decompose_eda"]
