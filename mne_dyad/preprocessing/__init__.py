"""EDA preprocessing: cleaning, tonic/phasic decomposition, artifact marking."""

from ._artifacts import annotate_artifacts
from ._eda import clean_eda, decompose_eda
from ._session import preprocess_session

__all__ = ["annotate_artifacts", "clean_eda", "decompose_eda", "preprocess_session"]
