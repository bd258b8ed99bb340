"""Figures: dyad traces with segments, cube grids and alliance effects."""

import mne
import numpy as np
import xarray as xr
from mne.utils import _validate_type
from mne.viz.utils import plt_show

from ..io._session import _describe, _segment_spans, _session_roles
from ..utils._checks import _renamed

_SEGMENT_COLORS = {"IM": "tab:orange", "CB": "tab:blue"}
_FALLBACK = ["tab:green", "tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan"]


def _figure(axes, n, what, **subplots):
    """Return ``(fig, [n axes])``: new ones, or the caller's after a check."""
    import matplotlib.pyplot as plt
    from matplotlib.axes import Axes

    if axes is None:
        fig, grid = plt.subplots(squeeze=False, layout="constrained", **subplots)
        return fig, list(grid.ravel())
    if isinstance(axes, Axes):
        axes = [axes]
    _validate_type(axes, (list, tuple, np.ndarray), "axes")
    axes = list(np.ravel(np.asarray(axes, dtype=object)))
    if len(axes) != n or not all(isinstance(ax, Axes) for ax in axes):
        raise ValueError(
            f"axes must be {n} matplotlib Axes (one per {what}), got {len(axes)} item(s)."
        )
    return axes[0].figure, axes


def _segment_color(label, seen):
    if label in _SEGMENT_COLORS:
        return _SEGMENT_COLORS[label]
    return _FALLBACK[sorted(seen).index(label) % len(_FALLBACK)]


def plot_dyad(raw, *, roles=None, axes=None, show=True):
    """Plot both roles' EDA with segments shaded and BAD spans greyed.

    Parameters
    ----------
    raw : mne.io.Raw
        A session Raw (see :func:`mne_dyad.io.combine_dyad`).
    roles : None | tuple of str
        The two role channels; by default those stored by ``combine_dyad``.
    axes : None | list of matplotlib.axes.Axes
        Two axes to draw in, one per role; ``None`` makes a new figure.
    show : bool
        Show the figure.

    Returns
    -------
    fig : matplotlib.figure.Figure
        One axis per role, EDA in microsiemens against time in minutes.
    """
    _validate_type(raw, mne.io.BaseRaw, "raw")
    roles = _session_roles(raw, roles)
    data = raw.get_data(picks=list(roles)) * 1e6
    minutes = raw.times / 60.0
    labels = sorted({d for d in raw.annotations.description if not d.upper().startswith("BAD")})
    fig, axes = _figure(axes, 2, "role", nrows=2, sharex=True, figsize=(10, 4.5))
    for ax, trace, role in zip(axes, data, roles, strict=True):
        ax.plot(minutes, trace, lw=0.7, color="k")
        ax.set_ylabel(f"{role} EDA (µS)")
        for desc in set(raw.annotations.description):
            bad = desc.upper().startswith("BAD")
            color = "0.6" if bad else _segment_color(desc, labels)
            for i, (start, stop) in enumerate(_segment_spans(raw, desc)):
                ax.axvspan(
                    start / raw.info["sfreq"] / 60,
                    stop / raw.info["sfreq"] / 60,
                    color=color,
                    alpha=0.5 if bad else 0.2,
                    lw=0,
                    label=desc if (i == 0 and ax is axes[0]) else None,
                )
    axes[-1].set_xlabel("Time (min)")
    axes[0].set_title(_describe(raw, file=False))
    if raw.annotations:
        axes[0].legend(loc="upper right", fontsize="small", ncols=4, title="segments")
    plt_show(show)
    return fig


def plot_cube(
    cube,
    summary="all_lags",
    *,
    min_windows=3,
    show_windows=False,
    axes=None,
    show=True,
    variable=None,
):
    """Plot a cube variable as a dyad x session grid, one panel per segment.

    Parameters
    ----------
    cube : xarray.Dataset
        A synchrony cube.
    summary : str
        The cube variable to show.
    min_windows : None | int
        Cells whose value rests on fewer windows than this (the cube's
        ``n_windows``) are marked with a red cross and left out of the colour
        scale, so one noisy cell does not set it for all. ``None`` marks none.
    show_windows : bool
        Write each cell's number of windows in it.
    axes : None | list of matplotlib.axes.Axes
        One axes per segment to draw in; ``None`` makes a new figure.
    show : bool
        Show the figure.
    variable : None | str
        Deprecated old name of ``summary``; it will be removed in 0.3.

    Returns
    -------
    fig : matplotlib.figure.Figure
        One heat map per segment (missing cells blank) with a shared colour bar.
    """
    _validate_type(cube, xr.Dataset, "cube")
    variable = _renamed(
        summary, variable, old="variable", new="summary", func="plot_cube", default="all_lags"
    )
    if variable not in cube.data_vars:
        raise ValueError(f"The cube has no variable {variable!r}; it has {sorted(cube.data_vars)}.")
    _validate_type(min_windows, (None, "int-like"), "min_windows")
    _validate_type(show_windows, bool, "show_windows")
    da = cube[variable]
    segments = list(cube.segment.values)
    size = (3 + 2.5 * len(segments), max(2.5, 0.8 + 0.18 * cube.sizes["dyad"]))
    fig, axes = _figure(
        axes, len(segments), "segment", ncols=len(segments), sharey=True, figsize=size
    )
    windows = cube["n_windows"] if "n_windows" in cube else None
    if show_windows and windows is None:
        raise ValueError("show_windows=True needs the cube's n_windows (a windowed method).")
    few = xr.zeros_like(da, dtype=bool)
    if windows is not None and min_windows is not None:
        few = np.isfinite(da) & (windows < min_windows)
    vals = da.values[np.isfinite(da.values) & ~few.values]
    vmin, vmax = np.percentile(vals, [2, 98]) if vals.size else (0, 1)
    for ax, seg in zip(axes, segments, strict=True):
        im = ax.imshow(
            da.sel(segment=seg).values,
            aspect="auto",
            cmap="viridis",
            vmin=vmin,
            vmax=vmax,
            interpolation="nearest",
        )
        rows, cols = np.nonzero(few.sel(segment=seg).values)
        if rows.size:
            ax.scatter(cols, rows, marker="x", color="red", s=25, linewidths=1.2)
        if show_windows:
            counts = windows.sel(segment=seg).values
            for i, j in zip(*np.nonzero(np.isfinite(counts)), strict=True):
                ax.text(
                    j,
                    i,
                    f"{counts[i, j]:.0f}",
                    ha="center",
                    va="center",
                    fontsize="xx-small",
                    color="white",
                )
        ax.set_title(str(seg))
        ax.set_xticks(range(cube.sizes["session"]), [str(s) for s in cube.session.values])
        ax.set_xlabel("Session")
    axes[0].set_yticks(
        range(cube.sizes["dyad"]), [str(d) for d in cube.dyad.values], fontsize="x-small"
    )
    axes[0].set_ylabel("Dyad")
    units = da.attrs.get("units", "")
    fig.colorbar(im, ax=axes[-1], label=f"{variable} ({units})" if units else variable)
    title = da.attrs.get("long_name", variable)
    if few.values.any():
        title += (
            f"\n(x: {int(few.values.sum())} cell(s) on fewer than {min_windows} windows, "
            "not in the colour scale)"
        )
    fig.suptitle(title)
    plt_show(show)
    return fig


def plot_alliance_effects(fit, *, ci_prob=0.89, axes=None, show=True):
    """Forest plot of the within/between x segment x outcome effects.

    Parameters
    ----------
    fit : AllianceFit
        A fitted alliance model.
    ci_prob : float
        Probability of the equal-tailed interval drawn.
    axes : None | list of matplotlib.axes.Axes
        One axes per outcome to draw in; ``None`` makes a new figure.
    show : bool
        Show the figure.

    Returns
    -------
    fig : matplotlib.figure.Figure
        One panel per outcome; each row a (level, segment) coefficient with its
        posterior mean and interval, in SD units when the model standardised.
    """
    table = fit.summary(("beta",), ci_prob=ci_prob)
    outcomes = [str(o) for o in fit.data.outcome.values]
    rows = [(str(lv), str(sg)) for lv in fit.data.level.values for sg in fit.data.segment.values]
    fig, axes = _figure(
        axes,
        len(outcomes),
        "outcome",
        ncols=len(outcomes),
        sharey=True,
        figsize=(3 * len(outcomes) + 1, 3),
    )
    for ax, outcome in zip(axes, outcomes, strict=True):
        for k, (level, seg) in enumerate(rows):
            row = table.loc[f"beta[{level}, {seg}, {outcome}]"]
            color = _SEGMENT_COLORS.get(seg, "k")
            ax.plot([row["ci_lower"], row["ci_upper"]], [k, k], color=color, lw=2)
            ax.plot(row["mean"], k, "o", color=color, mfc="w" if level == "between" else color)
        ax.axvline(0, color="0.5", lw=0.8, ls="--")
        ax.set_title(outcome)
        unit = "SD per SD" if fit.params.get("standardize", True) else "units"
        ax.set_xlabel(f"beta ({unit})")
    for ax in axes:
        ax.set_yticks(range(len(rows)), [f"{lv} {sg}" for lv, sg in rows])
        ax.set_ylim(len(rows) - 0.5, -0.5)  # first row on top
    fig.suptitle(
        f"Synchrony ({fit.params.get('summary')}) -> alliance, {int(ci_prob * 100)}% intervals"
    )
    plt_show(show)
    return fig


def plot_lag_map(sync, *, roles=("client", "therapist"), peak_path=True, axes=None, show=True):
    """Heat map of windowed cross-lagged synchrony over window start and lag.

    Parameters
    ----------
    sync : xarray.DataArray
        The output of :func:`mne_dyad.synchrony.wclc` (dims ``window``, ``lag``).
    roles : tuple of str
        The first and second role, for the lag axis label.
    peak_path : bool
        Draw the lag of each window's maximum.
    axes : None | matplotlib.axes.Axes
        Axes to draw in (the colour bar takes room beside it); ``None`` makes a
        new figure.
    show : bool
        Show the figure.

    Returns
    -------
    fig : matplotlib.figure.Figure
        Lag (s) on the y axis, window start (min) on the x axis.
    """
    _validate_type(sync, xr.DataArray, "sync")
    if set(sync.dims) != {"window", "lag"}:
        raise ValueError(f"sync must have dims (window, lag), got {sync.dims}.")
    sync = sync.transpose("window", "lag")
    minutes = sync.window.values / 60.0
    lags = sync.lag.values
    fig, (ax,) = _figure(axes, 1, "lag map", figsize=(10, 3.5))
    mesh = ax.pcolormesh(minutes, lags, sync.values.T, shading="nearest", cmap="magma")
    fig.colorbar(mesh, ax=ax, label=sync.attrs.get("long_name", "synchrony"))
    if peak_path:
        values = np.where(np.isfinite(sync.values), sync.values, -np.inf)
        best = lags[np.argmax(values, axis=1)]
        best[~np.isfinite(sync.values).any(axis=1)] = np.nan
        ax.plot(minutes, best, color="c", lw=1.2, label="lag of the maximum")
        ax.legend(loc="upper right", fontsize="small")
    ax.axhline(0, color="w", lw=0.6, ls=":")
    ax.set_xlabel("Window start (min)")
    ax.set_ylabel(f"Lag (s): > 0 {roles[1]} follows {roles[0]}")
    plt_show(show)
    return fig


def plot_surrogates(result, *, axes=None, show=True):
    """Real dyads' synchrony against the surrogate distribution, per segment type.

    Parameters
    ----------
    result : xarray.Dataset
        The output of :func:`mne_dyad.stats.test_above_chance` or of
        :func:`mne_dyad.surrogates.compare_with_surrogates`.
    axes : None | list of matplotlib.axes.Axes
        One axes per segment type to draw in; ``None`` makes a new figure.
    show : bool
        Show the figure.

    Returns
    -------
    fig : matplotlib.figure.Figure
        One panel per segment type: histograms of all surrogate values and of
        the observed values, with the group-level excess over chance (delta)
        when the result has it.
    """
    _validate_type(result, xr.Dataset, "result")
    for var in ("observed", "surrogates"):
        if var not in result:
            raise ValueError(f"result has no {var!r}: pass test_above_chance's output.")
    segments = list(result.segment.values)
    fig, axes = _figure(
        axes,
        len(segments),
        "segment",
        ncols=len(segments),
        figsize=(4.5 * len(segments), 3.2),
        sharey=True,
    )
    summary = result.attrs.get("summary", "synchrony")
    for ax, seg in zip(axes, segments, strict=True):
        sur = result.surrogates.sel(segment=seg).values.ravel()
        obs = result["observed"].sel(segment=seg).values.ravel()
        sur, obs = sur[np.isfinite(sur)], obs[np.isfinite(obs)]
        bins = np.histogram_bin_edges(np.r_[sur, obs], bins=30)
        ax.hist(sur, bins=bins, density=True, color="0.6", label=f"surrogates (n={sur.size})")
        ax.hist(
            obs,
            bins=bins,
            density=True,
            histtype="step",
            lw=2,
            color=_SEGMENT_COLORS.get(seg, "k"),
            label=f"real dyads (n={obs.size})",
        )
        row = result.sel(segment=seg)
        title = str(seg)
        if "delta_mean" in result:
            title += (
                f": delta {float(row.delta_mean):+.3f} "
                f"[{float(row.delta_lower):+.3f}, {float(row.delta_upper):+.3f}], "
                f"P>0={float(row.p_delta_gt_0):.2f}"
            )
        ax.set_title(title, fontsize="small")
        ax.set_xlabel(f"{summary} ({result.attrs.get('kind', 'surrogates')})")
        ax.legend(fontsize="x-small")
    axes[0].set_ylabel("Density")
    plt_show(show)
    return fig


def plot_variance(result, *, axes=None, show=True):
    """Posterior distributions of the variance shares, per segment type.

    Parameters
    ----------
    result : xarray.DataTree
        The output of :func:`mne_dyad.stats.variance_decomposition`.
    axes : None | list of matplotlib.axes.Axes
        One axes per segment type to draw in; ``None`` makes a new figure.
    show : bool
        Show the figure.

    Returns
    -------
    fig : matplotlib.figure.Figure
        One panel per segment type with the posterior of each share (dyad,
        session, and therapist when modelled) between 0 and 1.
    """
    _validate_type(result, xr.DataTree, "result")
    post = result["posterior"].to_dataset()
    shares = [s for s in ("icc_therapist", "icc_dyad", "session_share") if s in post]
    if not shares:
        raise ValueError("result has no variance shares: pass variance_decomposition's output.")
    segments = [str(s) for s in post.segment.values]
    labels = {"icc_therapist": "therapist", "icc_dyad": "dyad", "session_share": "session"}
    colors = {"icc_therapist": "tab:purple", "icc_dyad": "tab:green", "session_share": "tab:red"}
    fig, axes = _figure(
        axes,
        len(segments),
        "segment",
        ncols=len(segments),
        figsize=(4.5 * len(segments), 3),
        sharey=True,
    )
    bins = np.linspace(0, 1, 51)
    for ax, seg in zip(axes, segments, strict=True):
        for share in shares:
            draws = post[share].sel(segment=seg).values.ravel()
            ax.hist(
                draws,
                bins=bins,
                density=True,
                alpha=0.6,
                color=colors[share],
                label=f"{labels[share]} (mean {draws.mean():.2f})",
            )
        ax.set_title(seg)
        ax.set_xlabel("Share of synchrony variance")
        ax.legend(fontsize="x-small")
    axes[0].set_ylabel("Posterior density")
    plt_show(show)
    return fig
