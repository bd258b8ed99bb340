"""Input checks shared by the public functions."""

import numbers

import numpy as np
from mne.utils import _validate_type


def _check_positive(value, name, *, allow_zero=False):
    """Return ``value`` as float if it is a positive real number, else raise."""
    _validate_type(value, "numeric", name)
    value = float(value)
    ok = value >= 0 if allow_zero else value > 0
    if not np.isfinite(value) or not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {bound}, got {value}.")
    return value


def _seconds_to_samples(value, sfreq, name, *, minimum=1):
    """Convert a duration in seconds to a whole number of samples by rounding."""
    value = _check_positive(value, name, allow_zero=minimum == 0)
    n = int(round(value * sfreq))
    if n < minimum:
        raise ValueError(
            f"{name}={value} s is {n} samples at {sfreq} Hz; it must be at least "
            f"{minimum} sample(s). Use a longer {name} or a higher sampling rate."
        )
    return n


def _check_1d_pair(x, y):
    """Return x and y as float 1-D arrays of the same length."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    for arr, name in ((x, "x"), (y, "y")):
        if arr.ndim != 1:
            raise ValueError(f"{name} must be a 1-D array, got shape {arr.shape}.")
    if x.shape != y.shape:
        raise ValueError(
            f"x and y must have the same length, got {x.size} and {y.size} samples. "
            "Crop both signals to their common span first (see mne_dyad.io.combine_dyad)."
        )
    return x, y


def _check_rng(seed):
    """Return a numpy Generator from an int, None or a Generator."""
    _validate_type(seed, (None, "int-like", np.random.Generator), "seed")
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(None if seed is None else int(seed))


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _renamed(new_value, old_value, *, old, new, func, default, since="0.2", until="0.3"):
    """Return the value of a renamed parameter, warning when the old name was used.

    ``old_value`` is None when the caller did not use the old name; ``new_value``
    equals ``default`` when the caller did not use the new one.
    """
    from mne.utils import warn

    if old_value is None:
        return new_value
    if new_value != default:
        raise TypeError(f"{func} got both {new}= and its old name {old}=; pass only {new}=.")
    warn(
        f"{func}'s {old}= was renamed {new}= in {since} (one name picks a cube variable "
        f"everywhere); {old}= will be removed in {until}.",
        FutureWarning,
    )
    return old_value
