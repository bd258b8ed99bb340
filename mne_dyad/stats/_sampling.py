"""Sampling PyMC models and diagnosing the result, shared by all mne-dyad models."""

import contextlib
import logging
import sys
import warnings

import numpy as np
import xarray as xr
from mne.utils import _check_option, logger, warn

from ..utils._checks import _is_int
from ..utils._imports import _soft_import
from ._nutpie_cache import _compile_nutpie

_SAMPLERS = ("nutpie", "pymc", "numpyro")


def _check_sampling(draws, tune, chains, sampler):
    """Validate the sampling options shared by every model."""
    _check_option("sampler", sampler, _SAMPLERS)
    for value, name in ((draws, "draws"), (tune, "tune"), (chains, "chains")):
        if not _is_int(value) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}.")


@contextlib.contextmanager
def _pymc_log_level(level):
    """Let PyMC's own logger follow mne-dyad's verbosity while sampling."""
    pymc_logger = logging.getLogger("pymc")
    old = pymc_logger.level
    pymc_logger.setLevel(max(level, logging.INFO))
    try:
        yield
    finally:
        pymc_logger.setLevel(old)


#: Largest model (unconstrained dimensions) that ``_sample(low_rank=True)`` gives
#: nutpie's low-rank mass matrix adaptation. On the 2019-sized alliance model (31
#: dyads, 123 dimensions) it raised the smallest bulk ESS of the betas from 603-699 to
#: 1,794-2,418 for 1.6 times the sampling time (0.9-1.05 s against 0.53-0.68 s); at
#: 50 dyads (180 dimensions) sampling took 20 s against 0.8 s, at 100 dyads 50 s
#: against 4 s, where the diagonal adaptation gives more ESS per second.
_LOW_RANK_MAX_DIM = 150

#: Compiled nutpie models of this process, by structure (see ``_sample(cache_key=...)``).
_NUTPIE_CACHE: dict = {}
_NUTPIE_CACHE_SIZE = 16


def _structure_key(model, name):
    """Key a compiled model by what its graph depends on besides the code building it.

    For models whose data all live in ``pm.Data``, that is the coordinate labels
    and the shapes and dtypes of the data; ``name`` tells the builders apart.
    """
    coords = tuple(
        (dim, tuple(map(str, labels))) for dim, labels in model.coords.items() if labels is not None
    )
    data = tuple(
        (var.name, var.get_value().shape, str(var.get_value().dtype)) for var in model.data_vars
    )
    return (name, coords, data)


def _model_signature(model):
    """Describe a model's variables: name, the op that makes each, and its dims.

    Part of every cache key (:func:`_sample`): two models whose data and options a
    caller's key cannot tell apart, but whose variables differ (a variance
    decomposition with and without sampling error adds deterministics), never share
    a compiled model.
    """
    signature = []
    for name, var in model.named_vars.items():
        op = type(var.owner.op).__name__ if var.owner is not None else type(var).__name__
        signature.append((name, op, tuple(model.named_vars_to_dims.get(name) or ())))
    return tuple(sorted(signature))


def _nutpie(
    model,
    *,
    draws,
    tune,
    chains,
    seed,
    target_accept,
    progress,
    cache_key,
    data,
    persistent,
    low_rank,
    keep_functions=True,
):
    """Sample with nutpie, reusing a compiled model of the same structure if cached."""
    nutpie = _soft_import("nutpie", "sampler='nutpie'")
    compiled = _NUTPIE_CACHE.get(cache_key) if cache_key is not None else None
    if compiled is None:
        logger.info("Compiling the model for nutpie (numba) ...")
        compiled = (
            _compile_nutpie(model, key=cache_key if keep_functions else None)
            if persistent
            else nutpie.compile_pymc_model(model)
        )
        if cache_key is not None:
            if len(_NUTPIE_CACHE) >= _NUTPIE_CACHE_SIZE:
                _NUTPIE_CACHE.pop(next(iter(_NUTPIE_CACHE)))
            _NUTPIE_CACHE[cache_key] = compiled
    elif data:
        logger.info("Reusing the compiled model with new data.")
        # data the graph does not use were pruned when it was compiled
        known = {var.name for var in compiled.shared_var_keys}
        compiled = compiled.with_data(**{k: v for k, v in data.items() if k in known})
    if seed is None:
        seed = int(np.random.default_rng().integers(2**31))
    kwargs = {} if target_accept is None else {"target_accept": target_accept}
    if low_rank and compiled.n_dim <= _LOW_RANK_MAX_DIM:
        kwargs["adaptation"] = "low_rank"
    tree = nutpie.sample(
        compiled,
        draws=draws,
        tune=tune,
        chains=chains,
        cores=chains,
        seed=int(seed),
        save_warmup=False,
        progress_bar=progress,
        **kwargs,
    )
    stats = tree["sample_stats"].to_dataset()
    objects = [k for k, v in stats.data_vars.items() if v.dtype == object]
    if objects:  # messages (None or text) cannot be written to netCDF
        tree["sample_stats"] = xr.DataTree(stats.drop_vars(objects))
    return tree


def _observed_data(model):
    """Collect the observed values of a model as a Dataset (nutpie does not store them)."""
    out = {}
    for rv in model.observed_RVs:
        value = model.rvs_to_values[rv]
        arr = value.get_value() if hasattr(value, "get_value") else np.asarray(value.data)
        dims = model.named_vars_to_dims.get(rv.name) or tuple(
            f"{rv.name}_dim_{i}" for i in range(arr.ndim)
        )
        out[rv.name] = (dims, arr)
    coords = {
        dim: np.asarray(list(model.coords[dim]))
        for dims, _ in out.values()
        for dim in dims
        if model.coords.get(dim) is not None
    }
    return xr.Dataset(out, coords=coords)


def _sample(
    model,
    *,
    draws,
    tune,
    chains,
    sampler,
    seed,
    target_accept=None,
    cache_key=None,
    persistent=True,
    low_rank=False,
    keep_functions=True,
):
    """Draw from a PyMC model's posterior; returns the ArviZ ``DataTree``.

    With ``sampler="nutpie"`` and a hashable ``cache_key`` describing the
    model's structure (shapes, options, coordinate labels), a compiled model is
    reused in this process: only its ``pm.Data`` values are swapped. With
    ``persistent`` (nutpie), its machine code is also kept on disk for later
    processes (:mod:`._nutpie_cache`); models whose data are constants of the
    graph pass False, as each data set would add a cache entry. ``keep_functions``
    (with ``persistent``): also keep the model's rewritten functions on disk, which
    must then hold no values of the data (pass False otherwise, and for refits). ``low_rank``
    (nutpie) adapts a low-rank modified mass matrix instead of a diagonal one when
    the model has at most ``_LOW_RANK_MAX_DIM`` dimensions: correlated parameters
    (a between-dyad beta and the dyad effects) then mix far better.
    """
    progress = logger.level <= logging.INFO and sys.stderr.isatty()
    if cache_key is not None:
        cache_key = (cache_key, _model_signature(model))
    if sampler == "nutpie":
        data = {v.name: v.get_value() for v in model.data_vars} if cache_key is not None else {}
        with warnings.catch_warnings(), _pymc_log_level(logger.level):
            warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS")
            tree = _nutpie(
                model,
                draws=draws,
                tune=tune,
                chains=chains,
                seed=seed,
                target_accept=target_accept,
                progress=progress,
                cache_key=cache_key,
                data=data,
                persistent=persistent,
                low_rank=low_rank,
                keep_functions=keep_functions,
            )
        if model.observed_RVs:
            tree["observed_data"] = xr.DataTree(_observed_data(model))
        return tree
    pm = _soft_import("pymc", "Sampling")
    with model, warnings.catch_warnings(), _pymc_log_level(logger.level):
        # PyTensor's C backend warns at compile time when pip's numpy exposes no BLAS;
        # the models are small and NUTS (nutpie: numba) does not depend on it.
        warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS")
        return pm.sample(
            draws=draws,
            tune=tune,
            chains=chains,
            # PyMC's own sampler would fork this (often multi-threaded) process, which
            # can deadlock: run its chains in turn
            cores=1,
            nuts_sampler=sampler,
            random_seed=seed,
            progressbar=progress,
            compute_convergence_checks=False,  # _diagnose() reports them, with advice
            **({} if target_accept is None else {"target_accept": target_accept}),
        )


#: A sampler passes when it has no divergences, R-hat at most this, and a bulk ESS
#: of at least ``_MIN_ESS_PER_CHAIN`` per chain (or the model's own minimum, see
#: ``_diagnose(min_ess=)``, when higher).
_MAX_RHAT = 1.01
_MIN_ESS_PER_CHAIN = 100


def _sampler_problems(diagnostics, n_chains):
    """List ``(what, advice)`` for each check a sampler's diagnostics fail (see _diagnose)."""
    n_div = diagnostics["divergences"]
    max_rhat, min_ess = diagnostics["max_rhat"], diagnostics["min_ess_bulk"]
    required = max(_MIN_ESS_PER_CHAIN * n_chains, diagnostics.get("min_ess_required", 0))
    problems = []
    if n_div:
        problems.append(
            (f"{n_div} divergent transitions", "raise tune=, or check the data for outliers")
        )
    if max_rhat > _MAX_RHAT:
        problems.append(
            (f"R-hat up to {max_rhat:.3f} > {_MAX_RHAT}", "chains disagree: raise tune= and draws=")
        )
    if min_ess < required:
        problems.append((f"bulk ESS as low as {min_ess:.0f}, below {required:.0f}", "raise draws="))
    return problems


def _diagnose(tree, var_names, what, min_ess=None):
    """Divergences, R-hat and bulk ESS of ``var_names``; warn with advice if poor.

    ``min_ess`` raises the required bulk ESS above 100 per chain (it is stored
    with the diagnostics as ``min_ess_required``, so a report checks the same).
    """
    stats = tree["sample_stats"].to_dataset()
    div_name = "diverging" if "diverging" in stats else "divergences"
    n_div = int(stats[div_name].sum()) if div_name in stats else 0
    az = _soft_import("arviz", "Model diagnostics")
    summ = az.summary(tree, var_names=list(var_names), kind="diagnostics", round_to="none")
    diagnostics = {
        "divergences": n_div,
        "max_rhat": float(summ["r_hat"].max()),
        "min_ess_bulk": float(summ["ess_bulk"].min()),
    }
    if min_ess is not None:
        diagnostics["min_ess_required"] = int(min_ess)
    problems = _sampler_problems(diagnostics, len(tree["posterior"].to_dataset().chain))
    if problems:
        warn(
            f"The {what}'s sampler reports: "
            + "; ".join(f"{what_} ({advice})" for what_, advice in problems)
            + "."
        )
    return diagnostics
