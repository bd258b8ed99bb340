"""The synchrony methods behind ``compute_synchrony`` and ``synchrony_cube``.

Each method is a :class:`_SyncMethod`: it validates its parameters, converts them
to samples, optionally transforms a whole session (phase: band-pass + Hilbert),
computes one annotation span at a time, and pools the spans of one label into
the segment's values. Values are scalars, or 1-D arrays along ``lag``.
"""

import numpy as np

from ._kernels import _CONSTANT_RTOL


class _SpanTooShort(Exception):
    """A span holds too few samples for the method (the caller warns and skips it)."""


class _SyncMethod:
    """Base class of a synchrony method."""

    #: method name used by ``compute_synchrony(method=...)``
    name = ""
    #: parameter defaults (durations in seconds)
    defaults: dict = {}
    #: ``{variable: (long_name, units)}`` of the per-segment output
    variables: dict = {}
    #: variables that run along ``lag`` (the others are scalars)
    lag_variables: tuple = ()

    def check_params(self, params):
        """Return the parameters with defaults, raising on unknown or bad ones."""
        unknown = sorted(set(params) - set(self.defaults))
        if unknown:
            raise TypeError(
                f"Unknown parameter(s) {unknown} for method {self.name!r}; it takes "
                f"{sorted(self.defaults)}."
            )
        out = {**self.defaults, **params}
        self._validate(out)
        return out

    def _validate(self, params):
        """Check parameter values (in seconds); raise ValueError/TypeError."""

    def samples(self, params, sfreq):
        """Convert durations to samples for a given sampling rate."""
        return {}

    def lags(self, samples, sfreq):
        """Lag coordinate (s) of the lag variables, or None."""
        return None

    def min_samples(self, samples):
        """Smallest span (in samples) the method can use."""
        return 1

    def describe_min(self, params):
        """Human description of the minimal span, for warnings."""
        return ""

    def prepare(self, x, y, sfreq, samples):
        """Transform whole-session signals before spans are cut (default: none)."""
        return x, y

    def compute(self, x, y, sfreq, samples):
        """Compute one span; return a partial result for :meth:`pool`."""
        raise NotImplementedError

    def compute_batch(self, x, ys, sfreq, samples):
        """Compute one span of ``x`` against each row of ``ys``; a list of partial results.

        The chance test's within-session surrogates keep ``x`` and change ``y``. A
        method with a batched kernel overrides this; it must return what
        :meth:`prepare` then :meth:`compute` give row by row (None for a row that
        raises :class:`_SpanTooShort`), as this default does.
        """
        out = []
        for y in ys:
            px, py = self.prepare(x, y, sfreq, samples)
            try:
                out.append(self.compute(px, py, sfreq, samples))
            except _SpanTooShort:
                out.append(None)
        return out

    def pool(self, partials, sfreq, samples):
        """Pool the partial results of all spans of one label into values."""
        raise NotImplementedError

    #: summary used by default in chance tests and models
    main_summary = ""

    def reduce(self, partial, summary):
        """``(sum, weight)`` of a window-averaged summary in one span, or None.

        When a summary is a mean over windows, the pooled value of several spans
        is ``sum of sums / sum of weights``; chance tests use this to reuse the
        result of a span pair across surrogates. None: the summary does not pool
        this way (the caller pools the partials instead).
        """
        return None


def _why_empty(x, y, names=("x", "y")):
    """Say why two signals give no synchrony value (missing or constant data)."""
    for sig, name in ((x, names[0]), (y, names[1])):
        finite = sig[np.isfinite(sig)]
        if finite.size <= sig.size / 2:
            return f"{name} is more than half missing (NaN: {sig.size - finite.size} of {sig.size})"
        if np.ptp(finite) <= _CONSTANT_RTOL * np.abs(finite).max():
            return f"{name} is constant"
    return "no window has enough complete, varying samples in both signals"


def _check_not_empty(values, x, y):
    """Raise a ValueError saying why, when ``values`` holds no finite number."""
    if not np.isfinite(values).any():
        raise ValueError(
            f"No synchrony value can be computed: {_why_empty(x, y)}. Check the signals "
            "(gaps, flat lines) or choose another span."
        )
