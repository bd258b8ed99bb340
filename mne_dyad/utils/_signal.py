"""Small signal helpers shared by resampling, filtering and neurokit2 calls."""

import numpy as np


def _bridge_gaps(x):
    """Return ``x`` with NaN gaps linearly interpolated, and the mask of the gaps.

    Filters and resamplers cannot pass NaN; callers restore the gaps afterwards.
    ``x`` must hold at least one finite value.
    """
    missing = ~np.isfinite(x)
    if not missing.any():
        return x, missing
    idx = np.arange(x.size)
    return np.interp(idx, idx[~missing], x[~missing]), missing
