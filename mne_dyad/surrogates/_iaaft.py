"""Iterative amplitude-adjusted Fourier transform surrogates (Schreiber & Schmitz 2000)."""

import numpy as np

from ..utils._checks import _check_rng, _is_int
from ._shuffle import _as_dataarray, _check_n, _check_signal


def _iaaft_one(y, rng, n_iter=100):
    """One IAAFT surrogate of a finite 1-D signal.

    Starts from a random permutation of ``y`` and alternates between imposing the
    Fourier amplitudes of ``y`` and rank-ordering onto its sorted values, until
    the ranks stop changing or ``n_iter`` rounds. The result has exactly the
    values (amplitude distribution) of ``y`` and approximately its spectrum.
    """
    amplitude = np.abs(np.fft.rfft(y))
    ordered = np.sort(y)
    s = rng.permutation(y)
    for _ in range(n_iter):
        phases = np.angle(np.fft.rfft(s))
        spectral = np.fft.irfft(amplitude * np.exp(1j * phases), n=y.size)
        ranked = ordered[np.argsort(np.argsort(spectral, kind="stable"), kind="stable")]
        if np.array_equal(ranked, s):
            break
        s = ranked
    return s


def _iaaft_nan(y, rng, n_iter=100):
    """IAAFT of the finite samples of ``y``, with NaN gaps kept in place."""
    finite = np.isfinite(y)
    out = np.full(y.shape, np.nan)
    out[finite] = _iaaft_one(y[finite], rng, n_iter) if finite.sum() > 1 else y[finite]
    return out


def iaaft(y, *, n_surrogates=1, n_iter=100, seed=None, sfreq=1.0):
    """IAAFT surrogates of a signal (Schreiber & Schmitz 2000).

    Each surrogate has exactly the amplitude distribution of ``y`` (the same
    values, reordered) and approximately its power spectrum, with the phases
    randomised: linear autocorrelation kept, everything else destroyed.

    Parameters
    ----------
    y : array-like, shape (n_times,)
        The signal; NaN samples are left out of the surrogate and stay NaN.
    n_surrogates : int
        Number of surrogates.
    n_iter : int
        Maximum number of iterations.
    seed : None | int | numpy.random.Generator
        Random seed.
    sfreq : float
        Sampling rate in Hz, for the time coordinate.

    Returns
    -------
    surrogates : xarray.DataArray, dims (surrogate, time)
        The surrogates.

    Examples
    --------
    >>> import numpy as np
    >>> from mne_dyad.surrogates import iaaft
    >>> y = np.random.default_rng(0).standard_normal(256).cumsum()
    >>> sur = iaaft(y, n_surrogates=2, seed=1)
    >>> bool(np.array_equal(np.sort(sur.values[0]), np.sort(y)))
    True
    """
    y = _check_signal(y)
    n_surrogates = _check_n(n_surrogates)
    if not _is_int(n_iter) or n_iter < 1:
        raise ValueError(f"n_iter must be a positive integer, got {n_iter!r}.")
    rng = _check_rng(seed)
    values = np.stack([_iaaft_nan(y, rng, n_iter) for _ in range(n_surrogates)])
    return _as_dataarray(values, sfreq, "iaaft")
