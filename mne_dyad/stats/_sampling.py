"""Sampling PyMC models and diagnosing the result, shared by all mne-dyad models."""

import contextlib
import logging
import sys
import warnings

from mne.utils import _check_option, logger, warn

from ..utils._checks import _is_int
from ..utils._imports import _soft_import

SAMPLERS = ("nutpie", "pymc")


def check_sampling(draws, tune, chains, sampler):
    """Validate the sampling options shared by every model."""
    _check_option("sampler", sampler, SAMPLERS)
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


def sample(model, *, draws, tune, chains, sampler, seed, target_accept=None):
    """Draw from a PyMC model's posterior; returns the ArviZ ``DataTree``."""
    pm = _soft_import("pymc", "Sampling")
    progress = logger.level <= logging.INFO and sys.stderr.isatty()
    with model, warnings.catch_warnings(), _pymc_log_level(logger.level):
        # PyTensor's C backend warns at compile time when pip's numpy exposes no BLAS;
        # the models are small and NUTS (nutpie: numba) does not depend on it.
        warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS")
        return pm.sample(
            draws=draws,
            tune=tune,
            chains=chains,
            # nutpie samples chains in threads; PyMC's own sampler would fork this
            # (often multi-threaded) process, which can deadlock: run its chains in turn
            cores=1 if sampler == "pymc" else chains,
            nuts_sampler=sampler,
            random_seed=seed,
            progressbar=progress,
            compute_convergence_checks=False,  # diagnose() reports them, with advice
            **({} if target_accept is None else {"target_accept": target_accept}),
        )


def diagnose(tree, var_names, what):
    """Divergences, R-hat and bulk ESS of ``var_names``; warn with advice if poor."""
    stats = tree["sample_stats"].to_dataset()
    div_name = "diverging" if "diverging" in stats else "divergences"
    n_div = int(stats[div_name].sum()) if div_name in stats else 0
    az = _soft_import("arviz", "Model diagnostics")
    summ = az.summary(tree, var_names=list(var_names), kind="diagnostics", round_to="none")
    max_rhat = float(summ["r_hat"].max())
    min_ess = float(summ["ess_bulk"].min())
    problems = []
    if n_div:
        problems.append(
            f"{n_div} divergent transitions (raise tune=, or check the data for outliers)"
        )
    if max_rhat > 1.01:
        problems.append(
            f"R-hat up to {max_rhat:.3f} > 1.01 (chains disagree: raise tune= and draws=)"
        )
    if min_ess < 100 * len(tree["posterior"].to_dataset().chain):
        problems.append(f"bulk ESS as low as {min_ess:.0f} (raise draws=)")
    if problems:
        warn(f"The {what}'s sampler reports: " + "; ".join(problems) + ".")
    return {"divergences": n_div, "max_rhat": max_rhat, "min_ess_bulk": min_ess}
