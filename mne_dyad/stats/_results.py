"""AllianceFit: the result of an alliance model, with tables and I/O."""

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from mne.utils import _check_option, _validate_type, logger, verbose, warn

from ..utils._docs import fill_doc
from ..utils._files import _atomic_write
from ..utils._imports import _soft_import
from ._alliance_graph import _build_alliance_model, _check_priors, _sample_alliance
from ._centering import _levels
from ._sampling import _pymc_log_level

_DATA_GROUP = "mne_dyad_data"
_SAMPLE_DIMS = ("chain", "draw")


def _interval(draws, ci_prob):
    """Equal-tailed interval over the sample dims."""
    tail = (1 - ci_prob) / 2
    q = draws.quantile([tail, 1 - tail], dim=_SAMPLE_DIMS)
    return q.isel(quantile=0).drop_vars("quantile"), q.isel(quantile=1).drop_vars("quantile")


#: Values of AllianceFit.summary's units=.
_UNITS = ("standardized", "raw", "within_sd")


def _unit_description(units, summary):
    """Describe the unit of a summary table's coefficients in words."""
    return {
        "standardized": f"SDs of the scale per SD of {summary} (both over all sessions)",
        "raw": f"scale points per unit of {summary}",
        "within_sd": f"scale points per within-dyad SD of {summary}",
    }[units]


def _by_label(name, values):
    """``{"name[label, ...]": value}`` for each element of a DataArray."""
    out = {}
    for idx in np.ndindex(values.shape):
        labels = [str(values[d].values[i]) for d, i in zip(values.dims, idx, strict=True)]
        key = f"{name}[{', '.join(labels)}]" if labels else name
        out[key] = float(values.values[idx])
    return out


def _within_residuals(w, Z, dyad):
    """Residuals of ``w`` after dyad means and a least-squares fit on ``Z`` within dyads."""
    n_dyads = int(dyad.max()) + 1
    w = _levels(w[:, None], dyad, n_dyads)[0][:, 0]  # the within-dyad parts
    if Z.shape[1] == 0:
        return w
    Z = _levels(Z, dyad, n_dyads)[0]
    coef, *_ = np.linalg.lstsq(Z, w, rcond=None)
    return w - Z @ coef


def _pooled_within_sd(within, dyad_idx):
    """Pooled within-dyad SD of each column of ``within`` (obs, ...), in its units.

    ``sqrt(sum(w^2) / (n - n_dyads))`` over the finite values of the within-dyad
    parts ``w``. Returns a DataArray without the ``obs`` dim.
    """
    w = within.values
    dyad = dyad_idx.values
    out = np.full(w.shape[1:], np.nan)
    for idx in np.ndindex(w.shape[1:]):
        col = w[(slice(None), *idx)]
        ok = np.isfinite(col)
        dof = ok.sum() - np.unique(dyad[ok]).size
        if dof > 0:
            out[idx] = np.sqrt(np.sum(col[ok] ** 2) / dof)
    return xr.DataArray(out, dims=within.dims[1:], coords={k: within[k] for k in within.dims[1:]})


def _ppc_statistics(values, dyad_idx, session, ceiling):
    """Check statistics of outcome sets ``values`` (set, obs, outcome); each (set, outcome).

    See :meth:`AllianceFit.posterior_predictive`. ``session`` numbers the
    observations' sessions, ``ceiling`` (outcome) is the value counted as the top.
    Missing values (NaN: a scale a session was not rated on) are left out.
    """
    labels, dyad = np.unique(dyad_idx, return_inverse=True)
    member = np.zeros((labels.size, dyad.size))
    member[dyad, np.arange(dyad.size)] = 1.0
    ok = np.isfinite(values)
    filled = np.where(ok, values, 0.0)
    count = np.einsum("do,sok->sdk", member, ok.astype(float))
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices give NaN
        dyad_means = np.einsum("do,sok->sdk", member, filled) / count
        dev = np.where(ok, values - dyad_means[:, dyad], np.nan)
        n_ok = ok.sum(1)
        out = {
            "mean": np.nanmean(values, 1),
            "sd": np.nanstd(values, 1, ddof=1),
            "min": np.nanmin(values, 1),
            "max": np.nanmax(values, 1),
            "sd_dyad_means": np.nanstd(dyad_means, 1, ddof=1),
            "within_dyad_sd": np.sqrt(
                np.nansum(dev**2, 1) / np.maximum(n_ok - (count > 0).sum(1), 1)
            ),
            "share_at_ceiling": (ok & (values >= ceiling[None, None] - 1e-9)).sum(1) / n_ok,
        }
        for k in np.unique(session):
            out[f"mean_session_{k:g}"] = np.nanmean(values[:, session == k], 1)
        # neighbouring sessions of the same dyad, in session order
        order = np.lexsort((session, dyad))
        first, second = order[:-1], order[1:]
        same = dyad[first] == dyad[second]
        first, second = first[same], second[same]
        denom = np.nansum(dev**2, 1)
        num = np.nansum(dev[:, first] * dev[:, second], 1)
        out["lag1_autocorr"] = np.where(denom > 0, num / np.where(denom > 0, denom, 1.0), np.nan)
    return out


def _dyad_subset(data, rows):
    """Subset the model data to the observations ``rows`` (bool), renumbering dyads."""
    sub = data.isel(obs=np.flatnonzero(rows))
    kept = np.unique(sub["dyad_idx"].values)
    remap = np.full(data.sizes["dyad"], -1)
    remap[kept] = np.arange(kept.size)
    sub = sub.assign(dyad_idx=("obs", remap[sub["dyad_idx"].values]))
    return sub.isel(dyad=kept)


def _new_dyad_posterior(posterior, model, n_effects, rng):
    """Make a posterior for ``model`` whose dyads are new (effects from the population).

    Each draw of ``posterior`` is repeated ``n_effects`` times (along ``draw``); the
    model's dyad-indexed free variables, all standard normal in the non-centred
    parametrisation, get fresh N(0, 1) values, and everything else keeps its
    draws.
    """
    out = {}
    n_chain, n_draw = posterior.sizes["chain"], posterior.sizes["draw"]
    for rv in model.free_RVs:
        dims = model.named_vars_to_dims.get(rv.name) or ()
        if "dyad" in dims:
            if not rv.name.startswith("z_"):
                raise ValueError(f"Cannot draw {rv.name!r} for a new dyad.")
            shape = [len(model.coords[dim]) for dim in dims]
            values = rng.standard_normal((n_chain, n_draw * n_effects, *shape))
            out[rv.name] = (("chain", "draw", *dims), values)
        else:
            values = posterior[rv.name].transpose("chain", "draw", ...)
            repeated = np.repeat(values.values, n_effects, axis=1)
            out[rv.name] = (("chain", "draw", *values.dims[2:]), repeated)
    coords = {}
    for dims, _ in out.values():
        for dim in dims[2:]:  # the model's named dims, or ArviZ's default ones (LKJCorr)
            if dim in model.coords:
                coords[dim] = list(model.coords[dim])
            elif dim in posterior.coords:
                coords[dim] = posterior[dim].values
    coords.update(chain=np.arange(n_chain), draw=np.arange(n_draw * n_effects))
    return xr.Dataset(out, coords=coords)


def _held_out_loglik(posterior, data, options, n_effects, rng):
    """Log-likelihood of each session of ``data``'s dyads, taken as new dyads.

    Returns a DataArray (chain, draw, obs): the posterior's draws, each repeated
    ``n_effects`` times with fresh dyad effects (:func:`_new_dyad_posterior`).
    """
    pm = _soft_import("pymc", "Cross-validation")
    model = _build_alliance_model(data, **options)
    post = _new_dyad_posterior(posterior, model, n_effects, rng)
    with _pymc_log_level(logger.level), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ll = pm.compute_log_likelihood(
            xr.DataTree.from_dict({"posterior": post}),
            var_names=["y"],
            model=model,
            extend_inferencedata=False,
            progressbar=False,
        )
    if isinstance(ll, xr.DataTree):  # the group, or a tree holding it
        ll = ll["log_likelihood"] if "log_likelihood" in ll.children else ll
    ll = ll["y"]
    return ll.sum([dim for dim in ll.dims if dim not in (*_SAMPLE_DIMS, "obs")])


def _kfold_table(scores):
    """Compare models by their per-dyad K-fold elpd (``{name: Series}``)."""
    frame = pd.DataFrame(scores)
    n = len(frame)
    elpd = frame.sum()
    best = elpd.idxmax()
    diff = frame[best].to_numpy()[:, None] - frame.to_numpy()
    table = pd.DataFrame(
        {
            "elpd": elpd,
            "se": np.sqrt(n * frame.var(ddof=1)),
            "elpd_diff": elpd[best] - elpd,
            "dse": np.sqrt(n * diff.var(axis=0, ddof=1)),
        }
    ).sort_values("elpd", ascending=False)
    table.insert(0, "rank", np.arange(len(table)))
    table.attrs["method"] = "kfold"
    return table


class AllianceFit:
    """A fitted alliance model.

    Parameters
    ----------
    tree : xarray.DataTree
        The ArviZ 1.x tree from sampling (``posterior``, ``sample_stats``,
        ``observed_data``, ``constant_data`` groups).
    data : xarray.Dataset
        The model data (complete cases, predictors split within/between, and the
        standardisation ``x_mean``, ``x_sd``, ``y_mean``, ``y_sd``).
    params : dict
        Every option of the fit (stored as JSON when saved).
    diagnostics : dict
        Divergences, maximal R-hat and minimal bulk ESS.

    Attributes
    ----------
    datatree : xarray.DataTree
        The whole ArviZ tree (pass it to ArviZ functions); its ``posterior``
        group holds the draws: ``fit.datatree["posterior"]["beta"]``.
    """

    def __init__(self, tree, data, *, params, diagnostics):
        _validate_type(tree, xr.DataTree, "tree")
        _validate_type(data, xr.Dataset, "data")
        self.datatree = tree
        self.data = data
        self.params = dict(params)
        self.diagnostics = dict(diagnostics)

    def __repr__(self):
        d = self.data
        return (
            f"<AllianceFit | {d.sizes['obs']} sessions, {d.sizes['dyad']} dyads, "
            f"outcomes {[str(o) for o in d.outcome.values]}, "
            f"segments {[str(s) for s in d.segment.values]}, "
            f"summary {self.params.get('summary')!r}>"
        )

    @property
    def posterior(self):
        """The whole ArviZ tree; deprecated name of :attr:`datatree`.

        ``fit.posterior["posterior"]`` read as the posterior of the posterior; the
        tree is now ``fit.datatree``. This name will be removed in 0.3.
        """
        warn(
            "AllianceFit.posterior is the whole ArviZ tree, not its posterior group; it "
            "was renamed AllianceFit.datatree in 0.2 (the draws are "
            'fit.datatree["posterior"]) and will be removed in 0.3.',
            FutureWarning,
        )
        return self.datatree

    def _draws(self, name):
        return self.datatree["posterior"][name]

    def summary(self, var_names=None, *, ci_prob=0.89, units=None):
        """Posterior summary table.

        Parameters
        ----------
        var_names : None | sequence of str
            Model variables to summarise (``"beta"``, ``"delta"``, ``"alpha"``,
            ``"gamma"``...). Default: ``beta``, the contextual effects
            ``contextual[segment, outcome] = beta[between] - beta[within]``, and
            the covariates' ``delta`` when the model has covariates.
        ci_prob : float
            Probability mass of the equal-tailed credible interval (default 0.89).
        units : None | str
            The unit of ``beta``, ``contextual`` and ``delta`` (see
            :ref:`the methods page <methods-units>`); None (default) is ``"standardized"`` for a
            fit with ``standardize=True`` and ``"raw"`` otherwise.

            ``"standardized"``
                SDs of the scale per SD of the synchrony summary, both SDs taken
                over all sessions (needs a fit with ``standardize=True``).
            ``"raw"``
                Scale points per unit of the synchrony summary (per unit of the
                covariate for ``delta``), the unit of a regression on the raw
                values such as the 2019 paper's.
            ``"within_sd"``
                Scale points per within-dyad SD of the synchrony summary (of the
                covariate for ``delta``): how much a session's alliance moves
                when its synchrony is one typical session-to-session step above
                the dyad's own mean.

            Other variables are always in the model's (standardised) units.

        Returns
        -------
        table : pandas.DataFrame
            One row per coefficient, named like ``beta[within, IM, bond]``, with
            ``mean``, ``sd``, ``ci_lower``, ``ci_upper``, ``p_gt_0`` (posterior
            probability that the coefficient is positive), ``partial_r``,
            ``r_hat``, ``ess_bulk`` and ``ess_tail``. ``partial_r`` is the
            posterior mean of the partial within-dyad correlation of a
            ``beta[within, ...]`` (NaN on other rows): the correlation between
            the session's synchrony and its alliance within dyads, both freed
            of the model's other within-dyad terms (:ref:`the methods page <methods-units>`); it
            does not depend on ``units``. ``table.attrs`` holds ``ci_prob``,
            ``units`` and ``unit_description``, which also names the columns
            (``table.columns.name``).
        """
        az = _soft_import("arviz", "AllianceFit.summary")
        if units is None:
            units = "standardized" if self.params.get("standardize", True) else "raw"
        _check_option("units", units, _UNITS)
        if var_names is None:
            var_names = [
                v for v in ("beta", "contextual", "delta") if v in self.datatree["posterior"]
            ]
        var_names = [var_names] if isinstance(var_names, str) else list(var_names)
        tree = self.datatree
        if units != "standardized" or not self.params.get("standardize", True):
            tree = xr.DataTree.from_dict(
                {"posterior": xr.Dataset({n: self._draws_in(n, units) for n in var_names})}
            )
        table = az.summary(
            tree,
            var_names=var_names,
            ci_prob=ci_prob,
            ci_kind="eti",
            round_to="none",
        )
        lower = next(c for c in table.columns if c.endswith("_lb"))
        upper = next(c for c in table.columns if c.endswith("_ub"))
        table = table.rename(columns={lower: "ci_lower", upper: "ci_upper"})
        p_pos, partial = {}, {}
        for name in var_names:
            share = (tree["posterior"][name] > 0).mean(_SAMPLE_DIMS)
            p_pos.update(_by_label(name, share))
            if name == "beta":
                r = self.partial_within_r().mean(_SAMPLE_DIMS).expand_dims(level=["within"])
                partial.update(_by_label(name, r))
        table.insert(4, "p_gt_0", pd.Series(p_pos))
        table.insert(5, "partial_r", pd.Series(partial, dtype=float))
        cols = [
            "mean",
            "sd",
            "ci_lower",
            "ci_upper",
            "p_gt_0",
            "partial_r",
            "r_hat",
            "ess_bulk",
            "ess_tail",
        ]
        table = table[cols].astype(float)
        description = _unit_description(units, self.params.get("summary", "synchrony"))
        table.columns.name = f"units: {description}"
        table.attrs.update(ci_prob=ci_prob, units=units, unit_description=description)
        return table

    def _draws_in(self, name, units):
        """Draws of ``name`` in ``units`` (``beta``, ``contextual`` and ``delta`` convert)."""
        draws = self._draws(name)
        standardized = bool(self.params.get("standardize", True))
        if name not in ("beta", "contextual", "delta"):
            if units != ("standardized" if standardized else "raw"):
                raise ValueError(
                    f"units={units!r} applies to beta, contextual and delta; {name!r} is in "
                    "the model's own units. Summarise it with units=None."
                )
            return draws
        if units == "standardized":
            if not standardized:
                raise ValueError(
                    "This model was fitted with standardize=False, so its coefficients are "
                    "in raw units: use units='raw' (or 'within_sd'), or refit with "
                    "standardize=True for standardized units."
                )
            return draws
        d = self.data
        if name == "delta":
            x_sd = d["c_sd"]
            within = d["C"].sel(level="within")
        else:
            x_sd = d["x_sd"]
            within = d["X"].sel(level="within")
        if units == "raw":
            factor = d["y_sd"] / x_sd
        else:  # within_sd: the pooled within-dyad SD of the predictor, in its raw unit
            factor = d["y_sd"] * _pooled_within_sd(within, d["dyad_idx"])
        return draws * factor

    def partial_within_r(self):
        """Posterior of the partial within-dyad correlations of ``beta[within]``.

        For segment ``g`` and outcome ``o`` and each draw::

            r = b s / sqrt((b^2 + tau^2) s^2 + sigma^2)

        where ``b`` is ``beta[within, g, o]``, ``s`` the SD of the within-dyad
        part of ``g``'s synchrony left after the model's other within-dyad
        predictors (the other segments, the covariates' within parts, the session
        term), ``tau`` the SD of the dyads' own slopes (0 without
        ``random_slopes``) and ``sigma`` the residual SD of ``o``. This is the
        correlation of synchrony and alliance between sessions of the same dyad
        once the other terms are held fixed; it is free of units.

        Returns
        -------
        r : xarray.DataArray
            Draws with dims ``chain, draw, segment, outcome``.
        """
        b = self._draws("beta").sel(level="within", drop=True)
        s = self._within_residual_sd()
        post = self.datatree["posterior"]
        slope_var = post["sigma_slope"] ** 2 if "sigma_slope" in post else 0.0
        explained = (b**2 + slope_var) * s**2
        return (b * s / np.sqrt(explained + self._resid_var())).rename("partial_within_r")

    def _resid_var(self):
        """Residual variance of each outcome (chain, draw, outcome), on the model's scale."""
        post = self.datatree["posterior"]
        outcome = self.data.outcome
        if "chol_resid_stds" in post:
            sd = post["chol_resid_stds"]
            sd = sd.rename({sd.dims[-1]: "outcome"}).assign_coords(outcome=outcome)
        else:
            sd = post["sigma_resid"]
        var = sd**2
        if "nu" in post:  # Student-t residuals: the variance of a t with nu > 2
            nu = post["nu"]
            var = var * xr.where(nu > 2, nu / (nu - 2), np.inf)
        return var

    def _within_residual_sd(self):
        """SD of each segment's within part after the other within-dyad terms.

        Returns a DataArray on (segment, outcome): the terms are the same for every
        outcome except the lagged outcome of a ``lag=1`` model, which is its own.
        """
        d = self.data
        W = d["X"].sel(level="within").values  # obs, segment
        dyad = d["dyad_idx"].values
        others = []
        if "C" in d:
            cw = d["C"].sel(level="within").values
            others.append(cw.reshape(cw.shape[0], -1))
        if "S" in d:
            others.append(d["S"].values)
        elif self.params.get("session_covariate"):
            others.append(d["session_c"].values[:, None])
        out = np.full((W.shape[1], d.sizes["outcome"]), np.nan)
        for o in range(d.sizes["outcome"]):
            # a lagged model's own lagged outcome (its within-dyad part: Z is demeaned)
            own = [d["y_lag"].values[:, o : o + 1]] if "y_lag" in d else []
            for g in range(W.shape[1]):
                Z = np.column_stack([np.delete(W, g, axis=1), *others, *own])
                rows = np.isfinite(W[:, g]) & np.isfinite(Z).all(axis=1)
                resid = _within_residuals(W[rows, g], Z[rows], dyad[rows])
                dof = rows.sum() - np.unique(dyad[rows]).size - Z.shape[1]
                out[g, o] = np.sqrt(np.sum(resid**2) / dof) if dof > 0 else np.nan
        coords = {"segment": d.segment.values, "outcome": d.outcome.values}
        return xr.DataArray(out, dims=("segment", "outcome"), coords=coords)

    def contrast(self, expr="IM - CB", *, level="within", ci_prob=0.89):
        """Posterior of the difference between two segments' betas, per outcome.

        Parameters
        ----------
        expr : str
            ``"A - B"`` with two segment labels.
        level : str
            ``"within"`` or ``"between"``.
        ci_prob : float
            Probability mass of the equal-tailed interval.

        Returns
        -------
        table : pandas.DataFrame
            Indexed by outcome: ``mean``, ``sd``, ``ci_lower``, ``ci_upper``, ``p_gt_0``.
        """
        parts = [p.strip() for p in expr.split("-")]
        segments = list(self.data.segment.values)
        if len(parts) != 2 or any(p not in segments for p in parts):
            raise ValueError(f"expr must be 'A - B' with segments from {segments}, got {expr!r}.")
        if level not in ("within", "between"):
            raise ValueError(f"level must be 'within' or 'between', got {level!r}.")
        beta = self._draws("beta").sel(level=level)
        diff = beta.sel(segment=parts[0]) - beta.sel(segment=parts[1])
        lo, hi = _interval(diff, ci_prob)
        table = pd.DataFrame(
            {
                "mean": diff.mean(_SAMPLE_DIMS).values,
                "sd": diff.std(_SAMPLE_DIMS, ddof=1).values,
                "ci_lower": lo.values,
                "ci_upper": hi.values,
                "p_gt_0": (diff > 0).mean(_SAMPLE_DIMS).values,
            },
            index=pd.Index([str(o) for o in diff.outcome.values], name="outcome"),
        )
        table.attrs.update(ci_prob=ci_prob, contrast=f"beta[{level}, {expr}]")
        return table

    def effects_table(self, *, ci_prob=0.89):
        """Compact text table of the betas: one row per level and segment.

        Parameters
        ----------
        ci_prob : float
            Probability mass of the equal-tailed interval.

        Returns
        -------
        table : pandas.DataFrame
            Rows ``"within IM"``, ``"within CB"``, ``"between IM"``...; one column per
            outcome holding ``"mean [lower, upper] P>0=p"``.
        """
        table = self.summary(("beta",), ci_prob=ci_prob)
        rows = {}
        for label, row in table.iterrows():
            level, segment, outcome = label[label.index("[") + 1 : -1].split(", ")
            rows.setdefault(f"{level} {segment}", {})[outcome] = (
                f"{row['mean']:+.2f} [{row['ci_lower']:+.2f}, {row['ci_upper']:+.2f}] "
                f"P>0={row['p_gt_0']:.2f}"
            )
        out = pd.DataFrame(rows).T
        out.index.name = "effect"
        return out

    def _options(self, priors=None):
        """Return the graph options of this fit (:func:`_build_alliance_model`'s keywords)."""
        p = self.params
        return {
            "multivariate": p.get("multivariate", True),
            "random_slopes": p.get("random_slopes", False),
            "session_covariate": p.get("session_covariate", True),
            "dyad_trends": p.get("dyad_trends", False),
            "likelihood": p.get("likelihood", "normal"),
            "priors": _check_priors(p.get("priors") if priors is None else priors),
        }

    def _model(self):
        """Rebuild the PyMC model from the stored data and options."""
        return _build_alliance_model(self.data, **self._options())

    def _sampling(self, seed):
        p = self.params
        return {
            "draws": p.get("draws", 1000),
            "tune": p.get("tune", 1000),
            "chains": p.get("chains", 2),
            "sampler": p.get("sampler", "nutpie"),
            "seed": p.get("seed") if seed is None else seed,
        }

    @verbose
    @fill_doc
    def prior_sensitivity(
        self, *, factors=(0.5, 2.0), var_names=("beta",), ci_prob=0.89, seed=None, verbose=None
    ):
        """Refit under tighter and wider priors and tabulate what moves.

        Every prior scale of the fit (``alpha``, ``beta``, ``gamma`` and the
        half-normal ``sigma`` of the variance components; the LKJ shape stays)
        is multiplied by each factor in turn, the same data are refitted with the
        same sampling options, and each coefficient's posterior is compared with
        this fit's.

        Parameters
        ----------
        factors : sequence of float
            Multipliers of the prior scales (default 0.5 and 2: half and twice as
            wide).
        var_names : sequence of str
            Coefficients to compare (see :meth:`summary`).
        ci_prob : float
            Probability of the equal-tailed intervals.
        seed : None | int
            Seed of the refits (default: this fit's seed).
        %(verbose)s

        Returns
        -------
        table : pandas.DataFrame
            One row per coefficient: this fit's ``mean``, ``ci_lower`` and
            ``ci_upper``, then for each factor ``f`` the refit's ``mean_x<f>``,
            ``ci_lower_x<f>``, ``ci_upper_x<f>`` and ``shift_x<f>``, the change of
            the mean in this fit's posterior SDs; ``max_shift`` is the largest
            absolute shift. A shift above about 0.5 says the data do not
            dominate the prior for that coefficient. ``table.attrs`` holds the
            priors of each refit.
        """
        _validate_type(factors, (list, tuple), "factors")
        for f in factors:
            if not (isinstance(f, (int, float)) and np.isfinite(f) and f > 0):
                raise ValueError(f"factors must be positive numbers, got {f!r}.")
        base = self.summary(var_names, ci_prob=ci_prob)
        table = base[["mean", "ci_lower", "ci_upper"]].copy()
        options = self._options()
        priors_used = {"x1": options["priors"]}
        shifts = []
        for f in factors:
            priors = {
                k: v if k == "lkj_eta" else v * float(f) for k, v in options["priors"].items()
            }
            logger.info(f"Prior sensitivity: refitting with prior scales x{f:g} ...")
            tree = _sample_alliance(
                self.data, {**options, "priors": priors}, **self._sampling(seed), refit=True
            )
            other = AllianceFit(
                tree, self.data, params={**self.params, "priors": priors}, diagnostics={}
            )
            refit = other.summary(var_names, ci_prob=ci_prob)
            tag = f"x{f:g}"
            for col in ("mean", "ci_lower", "ci_upper"):
                table[f"{col}_{tag}"] = refit[col]
            table[f"shift_{tag}"] = (refit["mean"] - base["mean"]) / base["sd"]
            shifts.append(table[f"shift_{tag}"].abs())
            priors_used[tag] = priors
        table["max_shift"] = pd.concat(shifts, axis=1).max(axis=1) if shifts else np.nan
        table.attrs.update(priors=priors_used, ci_prob=ci_prob)
        return table

    @verbose
    @fill_doc
    def kfold(self, *, k=10, seed=0, n_effects=20, verbose=None):
        """Cross-validate by leaving out whole dyads (grouped K-fold).

        The dyads are split at random into ``k`` folds. For each fold the model
        is refitted to the other dyads with this fit's options, and the held-out
        dyads' sessions are predicted as those of new dyads: their dyad effects
        are drawn from the fitted population (``n_effects`` draws per posterior
        draw), so the score asks how well the model predicts a dyad it has never
        seen. A dyad's ``elpd`` is the log of the mean, over posterior draws and
        dyad-effect draws, of the joint density of all its sessions.

        Parameters
        ----------
        k : None | int
            Number of folds, 2 to the number of dyads; None leaves one dyad out
            at a time.
        seed : int
            Seed of the split into folds (use the same seed for fits you compare)
            and of the refits.
        n_effects : int
            Dyad-effect draws per posterior draw for the held-out dyads.
        %(verbose)s

        Returns
        -------
        table : pandas.DataFrame
            One row per dyad: ``elpd``, ``fold`` and ``n_sessions``.
            ``table.attrs`` holds ``elpd`` (the sum), its standard error ``se``
            (``sqrt(n_dyads * var(elpd))``) and ``k``.

        Notes
        -----
        The standardisation and the grand mean of the between-dyad split come
        from all dyads, as in the fit; they are not refitted per fold. Models with
        latent synchrony (``measurement_error``, ``missing="impute"``) are not
        supported: their held-out synchrony would have to be predicted too. With
        ``centering="latent"`` a held-out dyad's within and between parts are
        their expectations given its own synchrony under each draw of the
        training fit's synchrony hyperparameters (``mu_P``, ``tau_P``,
        ``sigma_P_within``), as in the fit; the elpd is of alliance given
        synchrony, so it compares with observed centring's. The result is kept
        on the fit: a second call, or :meth:`compare` with ``method="kfold"`` and
        the same ``k`` and ``seed``, refits nothing.
        """
        memo = getattr(self, "_kfold_memo", {})
        if (k, seed, n_effects) in memo:  # compare() after kfold(): the same refits
            return memo[(k, seed, n_effects)].copy()
        d = self.data
        if "P_se" in d or bool(np.isnan(d["P"].values).any()):
            raise ValueError(
                "kfold() needs a model whose synchrony is data; this fit has latent "
                "synchrony (measurement_error or missing='impute')."
            )
        n_dyads = d.sizes["dyad"]
        k = n_dyads if k is None else k
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 2 <= k <= n_dyads:
            raise ValueError(f"k must be an integer from 2 to {n_dyads} (the dyads), got {k!r}.")
        if isinstance(n_effects, bool) or not isinstance(n_effects, int) or n_effects < 1:
            raise ValueError(f"n_effects must be a positive integer, got {n_effects!r}.")
        rng = np.random.default_rng(seed)
        folds = np.array_split(rng.permutation(n_dyads), k)
        dyad_idx = d["dyad_idx"].values
        elpd = np.full(n_dyads, np.nan)
        fold_of = np.zeros(n_dyads, int)
        options = self._options()
        for f, held in enumerate(folds):
            fold_of[held] = f
            test = np.isin(dyad_idx, held)
            logger.info(f"K-fold: fold {f + 1} of {k} ({held.size} dyad(s) held out) ...")
            tree = _sample_alliance(
                _dyad_subset(d, ~test), options, **self._sampling(seed), refit=True
            )
            test_data = _dyad_subset(d, test)
            per_obs = _held_out_loglik(
                tree["posterior"].to_dataset(), test_data, options, n_effects, rng
            )
            test_idx = test_data["dyad_idx"].values
            per_dyad = np.stack(
                [
                    per_obs.isel(obs=np.flatnonzero(test_idx == j)).sum("obs").values.ravel()
                    for j in range(test_data.sizes["dyad"])
                ]
            )  # test dyad, draw
            top = per_dyad.max(axis=1, keepdims=True)
            lse = top[:, 0] + np.log(np.exp(per_dyad - top).mean(axis=1))
            labels = list(d.dyad.values)
            for j, label in enumerate(test_data.dyad.values):
                elpd[labels.index(label)] = lse[j]
        table = pd.DataFrame(
            {
                "elpd": elpd,
                "fold": fold_of,
                "n_sessions": np.bincount(dyad_idx, minlength=n_dyads),
            },
            index=pd.Index([str(v) for v in d.dyad.values], name="dyad"),
        )
        table.attrs.update(
            elpd=float(elpd.sum()), se=float(np.sqrt(n_dyads * elpd.var(ddof=1))), k=int(k)
        )
        self._kfold_memo = {**memo, (k, seed, n_effects): table}
        return table.copy()

    def plot_effects(self, *, ci_prob=0.89, show=True):
        """Forest plot of the betas; see :func:`mne_dyad.viz.plot_alliance_effects`.

        Parameters
        ----------
        ci_prob : float
            Probability of the equal-tailed interval drawn.
        show : bool
            Show the figure.

        Returns
        -------
        fig : matplotlib.figure.Figure
            The figure.
        """
        from ..viz import plot_alliance_effects

        return plot_alliance_effects(self, ci_prob=ci_prob, show=show)

    def posterior_predictive(self, *, seed=None, ci_prob=0.89):
        """Posterior predictive checks aimed at the model's likely failures.

        Replicated outcomes are drawn from the posterior (and stored in
        ``fit.datatree["posterior_predictive"]``), and each statistic below is
        computed on the observed outcomes and on every replication:

        ``mean``, ``sd``, ``min``, ``max``
            Location, spread and range of the scale.
        ``sd_dyad_means``
            The spread of the dyads' mean alliance (the dyad level).
        ``within_dyad_sd``
            The pooled SD of sessions around their dyad's mean (the session
            level; too small a replicated value means the model spreads the
            sessions more than the data do).
        ``share_at_ceiling``
            The share of sessions at the scale's ceiling (the fit's ``ceiling``,
            or else the observed maximum): alliance scales bunch at the top, and a
            normal model that does not know it puts too few sessions there.
        ``mean_session_<k>``
            The mean at each session number ``k``: a course over sessions that the
            session term misses shows here.
        ``lag1_autocorr``
            The lag-1 autocorrelation of a dyad's sessions around its own mean,
            over pairs of neighbouring sessions: residuals that carry over from one
            session to the next show as an observed value above the replicated
            ones.

        Parameters
        ----------
        seed : None | int
            Random seed of the replications.
        ci_prob : float
            Probability of the equal-tailed interval of the replicated statistics.

        Returns
        -------
        checks : pandas.DataFrame
            One row per (outcome, statistic) in the outcomes' own units:
            ``observed``, ``replicated_mean``, ``lower``, ``upper`` and ``p_value``
            = P(replicated >= observed); values near 0 or 1 flag misfit.
        """
        pm = _soft_import("pymc", "AllianceFit.posterior_predictive")
        with self._model(), _pymc_log_level(logger.level):  # no "Sampling: [y]" when quiet
            pp = pm.sample_posterior_predictive(self.datatree, random_seed=seed, progressbar=False)
        rep = pp["posterior_predictive"]["y"]
        self.datatree["posterior_predictive"] = xr.DataTree(rep.to_dataset(name="y"))
        d = self.data
        scale, shift = d.y_sd.values, d.y_mean.values
        observed = d.y.values * scale + shift  # obs, outcome
        replicated = rep.transpose(*_SAMPLE_DIMS, "obs", "outcome").values * scale + shift
        replicated = replicated.reshape(-1, *observed.shape)
        # a scale a session was not rated on is compared nowhere
        replicated = np.where(np.isfinite(observed)[None], replicated, np.nan)
        if "y_ceiling" in d:
            ceiling = d.y_ceiling.values * scale + shift
            ceiling = np.where(np.isfinite(ceiling), ceiling, np.nanmax(observed, 0))
        else:
            ceiling = np.nanmax(observed, 0)
        session = np.asarray(d.obs_session.values, float)
        obs_stats = _ppc_statistics(observed[None], d.dyad_idx.values, session, ceiling)
        rep_stats = _ppc_statistics(replicated, d.dyad_idx.values, session, ceiling)
        tail = (1 - ci_prob) / 2
        rows = []
        for k, outcome in enumerate(str(o) for o in d.outcome.values):
            for name, values in obs_stats.items():
                o, r = values[0, k], rep_stats[name][:, k]
                r = r[np.isfinite(r)]
                rows.append(
                    {
                        "outcome": outcome,
                        "statistic": name,
                        "observed": o,
                        "replicated_mean": float(r.mean()) if r.size else np.nan,
                        "lower": float(np.quantile(r, tail)) if r.size else np.nan,
                        "upper": float(np.quantile(r, 1 - tail)) if r.size else np.nan,
                        "p_value": float((r >= o).mean()) if r.size else np.nan,
                    }
                )
        table = pd.DataFrame(rows).set_index(["outcome", "statistic"])
        table.attrs["ci_prob"] = ci_prob
        return table

    def compare(self, others, *, names=None, method="loo", k=10, seed=0):
        """Compare this fit with others by PSIS-LOO or by leaving out whole dyads.

        Parameters
        ----------
        others : AllianceFit | sequence of AllianceFit
            Fits of other models to the same sessions (same dyads and sessions in
            the same order: fit them with the same ``complete_on``).
        names : None | sequence of str
            Names of the models, this one first; default ``model0``, ``model1``...
        method : str
            ``"loo"`` (default): PSIS-LOO over sessions (ArviZ ``compare``), which
            asks how well a model predicts a left-out session of a dyad it knows.
            ``"kfold"``: grouped K-fold cross-validation over dyads
            (:meth:`kfold`, the same folds for every model), which asks how well
            it predicts a dyad it has never seen; it refits each model ``k``
            times.
        k : None | int
            With ``method="kfold"``, the number of folds (None: one dyad at a
            time).
        seed : int
            With ``method="kfold"``, the seed of the folds and the refits.

        Returns
        -------
        table : pandas.DataFrame
            With ``"kfold"``: ``rank``, ``elpd``, its ``se``, ``elpd_diff`` (to
            the best model) and its SE ``dse`` from the per-dyad differences,
            best model first. With ``"loo"``, ArviZ's comparison: rank, ``elpd``,
            ``elpd_diff``, its SE (``dse``),
            ``p`` (effective parameters) and stacking ``weight`` per model, plus
            ``n_high_k``: the sessions whose Pareto k exceeds ArviZ's threshold
            (``good_k``, 0.7 for large samples). LOO is unreliable for those
            sessions; with more than a few, read the ranking as indicative and
            prefer cross-validation that leaves out whole dyads.
        """
        az = _soft_import("arviz", "AllianceFit.compare")
        _check_option("method", method, ("loo", "kfold"))
        others = [others] if isinstance(others, AllianceFit) else list(others)
        fits = [self, *others]
        names = [f"model{k}" for k in range(len(fits))] if names is None else list(names)
        if len(names) != len(fits) or len(set(names)) != len(names):
            raise ValueError(f"names must be {len(fits)} distinct strings, got {names!r}.")
        for name, fit in zip(names[1:], others, strict=True):
            _validate_type(fit, AllianceFit, name)
            same = np.array_equal(
                fit.data.obs_dyad.values, self.data.obs_dyad.values
            ) and np.array_equal(fit.data.obs_session.values, self.data.obs_session.values)
            if not same:
                raise ValueError(
                    f"Model {name!r} was fitted to other sessions ({fit.data.sizes['obs']} vs "
                    f"{self.data.sizes['obs']}); LOO compares models of the same data. Fit "
                    "them with the same complete_on= (for example ('IM', 'CB'))."
                )
            if method == "loo" and "log_likelihood" not in fit.datatree.children:
                raise ValueError(f"Model {name!r} has no log-likelihood: refit it.")
        if method == "kfold":
            scores = {
                name: fit.kfold(k=k, seed=seed)["elpd"]
                for name, fit in zip(names, fits, strict=True)
            }
            return _kfold_table(scores)
        with warnings.catch_warnings():  # summarised in n_high_k and one warning below
            warnings.simplefilter("ignore")
            loos = {
                name: az.loo(f.datatree, pointwise=True)
                for name, f in zip(names, fits, strict=True)
            }
            table = az.compare(loos)
        table["n_high_k"] = pd.Series(
            {name: int((np.asarray(loo.pareto_k) > loo.good_k).sum()) for name, loo in loos.items()}
        )
        flagged = table["n_high_k"][table["n_high_k"] > 0]
        if len(flagged):
            warn(
                "PSIS-LOO is unreliable for some sessions (Pareto k above "
                f"{min(loo.good_k for loo in loos.values()):.2f}): "
                + ", ".join(f"{n}: {k} of {self.data.sizes['obs']}" for n, k in flagged.items())
                + ". Read the ranking as indicative; leave-one-dyad-out cross-validation "
                "is the robust check."
            )
        return table

    @verbose
    @fill_doc
    def to_netcdf(self, fname, *, overwrite=False, verbose=None):
        """Save the posterior tree, the model data and the options to netCDF.

        Parameters
        ----------
        fname : path-like
            Output file (``.nc``).
        %(overwrite)s
        %(verbose)s

        Returns
        -------
        fname : pathlib.Path
            The file written. Read it back with :func:`read_alliance_fit`.
        """
        tree = self.datatree.copy()
        data = self.data.copy()
        data.attrs["mne_dyad_params"] = json.dumps(self.params, sort_keys=True, default=str)
        data.attrs["mne_dyad_diagnostics"] = json.dumps(self.diagnostics, sort_keys=True)
        tree[_DATA_GROUP] = xr.DataTree(data)
        out = _atomic_write(lambda tmp: tree.to_netcdf(tmp, engine="h5netcdf"), fname, overwrite)
        logger.info(f"Wrote the alliance fit to {out}")
        return out


@verbose
@fill_doc
def read_alliance_fit(fname, *, verbose=None):
    """Read an :class:`AllianceFit` written by :meth:`AllianceFit.to_netcdf`.

    Parameters
    ----------
    fname : path-like
        The netCDF file.
    %(verbose)s

    Returns
    -------
    fit : AllianceFit
        The fit, loaded into memory.
    """
    fname = Path(fname)
    if not fname.is_file():
        raise FileNotFoundError(f"No alliance fit file at {fname}.")
    tree = xr.open_datatree(fname, engine="h5netcdf").load()
    if _DATA_GROUP not in tree.children:
        raise ValueError(
            f"{fname} holds no {_DATA_GROUP!r} group: it was not written by AllianceFit.to_netcdf."
        )
    data = tree[_DATA_GROUP].to_dataset()
    params = json.loads(data.attrs.pop("mne_dyad_params"))
    diagnostics = json.loads(data.attrs.pop("mne_dyad_diagnostics"))
    tree = tree.copy()
    del tree[_DATA_GROUP]
    return AllianceFit(tree, data, params=params, diagnostics=diagnostics)
