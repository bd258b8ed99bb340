"""Within-dyad / between-dyad decomposition of a predictor."""

import numpy as np
import xarray as xr
from mne.utils import _validate_type


def within_between(values, *, group="dyad", over="session"):
    """Split a predictor into within-group and between-group parts.

    ``P_w = P - mean_over(P)`` (the deviation of a session from its dyad's own
    mean) and ``P_b = mean_over(P) - grand mean`` (how the dyad's mean differs
    from the grand mean of all observed values). Missing values (NaN) are
    ignored in the means and stay NaN in ``P_w``.

    Parameters
    ----------
    values : xarray.DataArray
        The predictor with dims ``group`` and ``over`` (and possibly others, such
        as ``segment``, which are kept separate).
    group, over : str
        Dimension names of the grouping unit and of the repeated measures.

    Returns
    -------
    within, between : xarray.DataArray
        ``within`` has the dims of ``values``; ``between`` lacks ``over``.

    Examples
    --------
    >>> import xarray as xr
    >>> from mne_dyad.stats import within_between
    >>> p = xr.DataArray([[1.0, 3.0], [5.0, 7.0]], dims=("dyad", "session"))
    >>> w, b = within_between(p)
    >>> w.values.tolist(), b.values.tolist()
    ([[-1.0, 1.0], [-1.0, 1.0]], [-2.0, 2.0])
    """
    _validate_type(values, xr.DataArray, "values")
    for dim in (group, over):
        if dim not in values.dims:
            raise ValueError(f"values has no dimension {dim!r}; its dims are {values.dims}.")
    group_mean = values.mean(over, skipna=True)
    other = [d for d in values.dims if d not in (group, over)]
    grand = values.where(np.isfinite(values)).mean((group, over), skipna=True)
    if not other:
        grand = float(grand)
    return values - group_mean, group_mean - grand
