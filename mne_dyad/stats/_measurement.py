"""Standard errors of per-cell values as a model of measurement error.

A cell's standard error is itself an estimate from a few dozen windows. Treated
as known, the noisy ones mislead a random-effects model: a cell whose SE came out
small by chance and whose value lies far from its dyad's mean can only be
explained by a larger session variance. See docs/methods.rst, section
methods-variance.
"""

import numpy as np
from mne.utils import logger

#: Cube variables that measure how much data a cell's value rests on, by preference.
_SIZE_VARIABLES = ("n_windows", "n_segments", "segment_duration")


def _cell_size(cube, segments):
    """Return the cube variable that sizes each cell (``dyad x session x segment``)."""
    for name in _SIZE_VARIABLES:
        if name in cube.data_vars and set(cube[name].dims) == {"dyad", "session", "segment"}:
            size = cube[name].sel(segment=list(segments))
            return name, size.transpose("dyad", "session", "segment").values
    return None, None


def _pooled_se(se, size, groups):
    """Predict standard errors from each cell's size, pooled within each group.

    Per group (segment type), ``se^2 = c * size^b``: ``b`` is the slope of ``log
    se^2`` on ``log size`` (0 when the sizes do not vary), and ``c`` makes the mean
    predicted ``se^2`` equal to the mean observed ``se^2``, so the total error
    variance is kept and only its noise between cells is removed.

    Parameters
    ----------
    se, size : ndarray, shape (n,)
        Each cell's standard error and size (windows, segments or seconds).
    groups : ndarray of int, shape (n,)
        Each cell's group.

    Returns
    -------
    pooled : ndarray, shape (n,)
    slopes : dict
        ``{group: b}``.
    """
    se = np.asarray(se, float)
    size = np.asarray(size, float)
    out = np.array(se, float)
    slopes = {}
    for g in np.unique(groups):
        m = groups == g
        s2, n = se[m] ** 2, size[m]
        ok = (s2 > 0) & np.isfinite(n) & (n > 0)
        b = 0.0
        if ok.sum() >= 3 and np.ptp(np.log(n[ok])) > 0:
            b = float(np.polyfit(np.log(n[ok]), np.log(s2[ok]), 1)[0])
        shape = np.where(np.isfinite(n) & (n > 0), n, np.nanmedian(n[ok]) if ok.any() else 1.0)
        pred = shape**b
        out[m] = np.sqrt(pred * s2.mean() / pred.mean())
        slopes[int(g)] = b
    return out, slopes


def _error_se(cube, se, segments, gi, di, si, se_model, variable):
    """Return the standard errors a measurement-error model uses (``se_model``)."""
    if se is None or se_model == "cell":
        return se
    name, size = _cell_size(cube, segments)
    if size is None:
        logger.info(
            f"No cell size ({', '.join(_SIZE_VARIABLES)}) in the cube: the per-cell "
            f"standard errors of {variable} are used as they are."
        )
        return se
    pooled, slopes = _pooled_se(se, size[di, si, gi], gi)
    logger.info(
        f"Standard errors of {variable} pooled per segment as c * {name}^b, b = "
        + ", ".join(f"{segments[g]} {b:+.2f}" for g, b in slopes.items())
        + "."
    )
    return pooled
