"""Within-session surrogates: circular shifts and segment shuffles of one signal."""

import numpy as np
import xarray as xr

from ..utils._checks import _check_positive, _check_rng, _is_int


def _check_signal(y):
    y = np.asarray(y, dtype=float)
    if y.ndim != 1:
        raise ValueError(f"y must be a 1-D array, got shape {y.shape}.")
    return y


def _check_n(n_surrogates):
    if not _is_int(n_surrogates) or n_surrogates < 1:
        raise ValueError(f"n_surrogates must be a positive integer, got {n_surrogates!r}.")
    return int(n_surrogates)


def _as_dataarray(values, sfreq, name, **coords):
    return xr.DataArray(
        values,
        dims=("surrogate", "time"),
        coords={"time": ("time", np.arange(values.shape[1]) / sfreq, {"units": "s"}), **coords},
        name=name,
    )


def _shift_offsets(n_times, min_shift, n_surrogates, rng):
    """Offsets (samples) drawn uniformly from ``[min_shift, n_times - min_shift]``."""
    if n_times - min_shift < min_shift:
        raise ValueError(
            f"A circular shift of at least {min_shift} samples each way needs at least "
            f"{2 * min_shift} samples; the signal has {n_times}."
        )
    return rng.integers(min_shift, n_times - min_shift + 1, size=n_surrogates)


def _derangement(n, rng):
    """Draw a random permutation of ``range(n)`` with no fixed point (``n >= 2``)."""
    while True:
        perm = rng.permutation(n)
        if not np.any(perm == np.arange(n)):
            return perm


def _shuffle_segments(y, S, rng):
    """``y`` with its whole ``S``-sample segments permuted so none stays in place.

    A remainder shorter than ``S`` stays at the end.
    """
    n = y.size // S
    if n < 2:
        raise ValueError(f"Shuffling needs at least 2 segments of {S} samples; got {y.size}.")
    head = y[: n * S].reshape(n, S)[_derangement(n, rng)].ravel()
    return np.concatenate([head, y[n * S :]])


def circular_shift(y, sfreq, *, min_shift, n_surrogates=1, seed=None):
    """Circularly shifted copies of a signal.

    Each surrogate is ``y`` rolled by an offset drawn uniformly from
    ``[min_shift, duration - min_shift]`` s (:ref:`the chance test <methods-surrogates>` uses twice
    the maximum lag), which keeps the signal's own dynamics and destroys its
    alignment with the partner's.

    Parameters
    ----------
    y : array-like, shape (n_times,)
        The signal to shift (NaN gaps move with it).
    sfreq : float
        Sampling rate in Hz.
    min_shift : float
        Smallest shift in seconds, each way.
    n_surrogates : int
        Number of surrogates.
    seed : None | int | numpy.random.Generator
        Random seed.

    Returns
    -------
    surrogates : xarray.DataArray, dims (surrogate, time)
        The shifted signals, with the ``offset`` (s) of each as a coordinate.

    Examples
    --------
    >>> import numpy as np
    >>> from mne_dyad.surrogates import circular_shift
    >>> sur = circular_shift(np.arange(100.0), 1.0, min_shift=20, n_surrogates=3, seed=0)
    >>> bool(((sur.offset >= 20) & (sur.offset <= 80)).all())
    True
    """
    y = _check_signal(y)
    sfreq = _check_positive(sfreq, "sfreq")
    m = int(round(_check_positive(min_shift, "min_shift", allow_zero=True) * sfreq))
    n_surrogates = _check_n(n_surrogates)
    rng = _check_rng(seed)
    offsets = _shift_offsets(y.size, m, n_surrogates, rng)
    values = np.stack([np.roll(y, k) for k in offsets])
    return _as_dataarray(
        values, sfreq, "circular_shift", offset=("surrogate", offsets / sfreq, {"units": "s"})
    )


def segment_shuffle(y, sfreq, *, segment, n_surrogates=1, seed=None):
    """Shuffle the segments of a signal.

    ``y`` is cut into whole segments of ``segment`` seconds, which are permuted
    so that no segment keeps its place (a remainder stays at the end). Within a
    segment the signal is intact.

    Parameters
    ----------
    y : array-like, shape (n_times,)
        The signal.
    sfreq : float
        Sampling rate in Hz.
    segment : float
        Segment length in seconds (at least two segments must fit).
    n_surrogates : int
        Number of surrogates.
    seed : None | int | numpy.random.Generator
        Random seed.

    Returns
    -------
    surrogates : xarray.DataArray, dims (surrogate, time)
        The shuffled signals.

    Examples
    --------
    >>> import numpy as np
    >>> from mne_dyad.surrogates import segment_shuffle
    >>> sur = segment_shuffle(np.arange(6.0), 1.0, segment=2, seed=0)
    >>> sorted(sur.values[0].tolist()) == list(range(6))
    True
    """
    y = _check_signal(y)
    sfreq = _check_positive(sfreq, "sfreq")
    S = int(round(_check_positive(segment, "segment") * sfreq))
    n_surrogates = _check_n(n_surrogates)
    rng = _check_rng(seed)
    values = np.stack([_shuffle_segments(y, S, rng) for _ in range(n_surrogates)])
    return _as_dataarray(values, sfreq, "segment_shuffle")
