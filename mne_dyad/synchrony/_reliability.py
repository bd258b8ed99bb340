"""Split-half reliability of window-mean summaries, per cell and pooled per segment.

See docs/methods.rst, section methods-reliability.
"""

import numpy as np
import xarray as xr

_CELL = ("dyad", "session")

#: Suffixes of the variables that describe a summary rather than being one.
_AUXILIARY_SUFFIXES = ("_se", "_split", "_reliability", "_reliability_pooled")


def _is_summary(name):
    """Whether a cube variable is a synchrony summary (not its SE, split or reliability)."""
    return name not in ("segment_duration", "n_windows") and not name.endswith(_AUXILIARY_SUFFIXES)


def _split_half_core(value, split, n_windows):
    """Per-cell and pooled split-half reliability of the cells of one segment (numpy).

    The windows of a cell are split into alternating blocks (see
    ``_wclc._split_block``) and ``split`` is the difference of the two halves'
    means. Across the cells of a segment, ``E[(split - mean split)**2] / 4`` is
    the error variance of a cell's mean (the halves' errors are independent and
    the mean has twice a half's windows). Scaled by each cell's number of windows,
    ``err_c = k / n_c`` with ``k = sum(n_c * (split_c - mean split)**2) / (C - 1) / 4``
    over the ``C`` cells; the true-score variance is ``tau2 = var(value) -
    mean(err_c)`` (clipped at 0); a cell's reliability is ``tau2 / (tau2 + err_c)``
    and the pooled reliability of the segment ``tau2 / var(value)``. With equal
    windows per cell this is the Flanagan-Rulon split-half coefficient, which
    equals the Spearman-Brown step-up ``2 r / (1 + r)`` of the halves'
    correlation when the halves have equal variances.

    Parameters
    ----------
    value, split, n_windows : ndarray
        Same shape: the cells' values, split-half differences and window counts.

    Returns
    -------
    per_cell : ndarray
        Same shape; NaN where a cell has no value or fewer than 3 cells do.
    pooled : float
    """
    value, split, n = (np.asarray(a, float) for a in (value, split, n_windows))
    ok = np.isfinite(value) & np.isfinite(split) & (n > 0)
    per_cell = np.full(value.shape, np.nan)
    if ok.sum() < 3:
        return per_cell, np.nan
    v, d, m = value[ok], split[ok], n[ok]
    var_value = np.var(v, ddof=1)
    err = np.sum(m * (d - d.mean()) ** 2) / (v.size - 1) / 4 / m
    tau2 = max(var_value - err.mean(), 0.0)
    per_cell[ok] = tau2 / (tau2 + err) if tau2 + err.max() > 0 else np.nan
    return per_cell, (tau2 / var_value if var_value > 0 else np.nan)


def _reliability_of(value, split, n_windows):
    """Per-cell and pooled split-half reliability of one summary (see ``_split_half_core``).

    Parameters
    ----------
    value, split, n_windows : xarray.DataArray
        With dims ``dyad`` and ``session`` (and any others, e.g. ``segment``);
        dask-backed arrays stay lazy.

    Returns
    -------
    per_cell, pooled : xarray.DataArray
        ``per_cell`` has the dims of ``value``; ``pooled`` lacks dyad and session.
    """
    per_cell, pooled = xr.apply_ufunc(
        _split_half_core,
        value,
        split,
        n_windows,
        input_core_dims=[list(_CELL)] * 3,
        output_core_dims=[list(_CELL), []],
        vectorize=True,
        dask="parallelized",
        output_dtypes=[float, float],
        # a segment's cells are pooled: one segment's values are small (one float per cell)
        dask_gufunc_kwargs={"allow_rechunk": True},
    )
    return per_cell.transpose(*value.dims), pooled


def _add_reliability(cube):
    """Add ``<S>_reliability`` (per cell) and ``<S>_reliability_pooled`` for each ``<S>_split``.

    Works on eager and dask-backed cubes (the reductions stay lazy).
    """
    if "n_windows" not in cube:
        return cube
    new = {}
    for name in cube.data_vars:
        base = name[: -len("_split")]
        if not name.endswith("_split") or base not in cube:
            continue
        per_cell, pooled = _reliability_of(cube[base], cube[name], cube["n_windows"])
        long_name = cube[base].attrs.get("long_name", base)
        new[f"{base}_reliability"] = per_cell.assign_attrs(
            long_name=f"split-half reliability of: {long_name}", units="1"
        )
        new[f"{base}_reliability_pooled"] = pooled.assign_attrs(
            long_name=f"split-half reliability pooled over the segment's cells of: {long_name}",
            units="1",
        )
    return cube.assign(new) if new else cube


def _pooled_reliability(cube, summary):
    """Return the pooled reliability of ``summary`` per segment (DataArray), or None."""
    name = f"{summary}_reliability_pooled"
    if name in cube:
        return cube[name]
    if f"{summary}_split" in cube and "n_windows" in cube:
        return _reliability_of(cube[summary], cube[f"{summary}_split"], cube["n_windows"])[1]
    return None
