"""Bad input to the synchrony functions: clear errors from arrays, NaN + warning in cubes."""

import mne
import numpy as np
import pytest

import mne_dyad as md

RNG = np.random.default_rng(0)
X = np.convolve(RNG.standard_normal(2400), np.ones(8) / 8, mode="same")
Y = np.roll(X, 5) + 0.1 * RNG.standard_normal(2400)
WCLC = dict(lag=5.0, window=30.0, step=15.0)
SUSY = dict(segment=30.0, max_lag=5.0)


def _gappy(a):
    a = a.copy()
    a[80:] = np.nan  # a NaN run from 10 s on: no window keeps half of its samples
    return a


@pytest.mark.parametrize(
    "func, kwargs",
    [(md.synchrony.wclc, WCLC), (md.synchrony.peak_picking, WCLC), (md.synchrony.susy, SUSY)],
)
def test_array_functions_reject_bad_signals(func, kwargs):
    # SUSY drops missing time points by design, then lacks segments
    match = "SUSY needs at least 2" if func is md.synchrony.susy else "x is more than half missing"
    with pytest.raises(ValueError, match=match):
        func(_gappy(X), Y, 8.0, **kwargs)
    with pytest.raises(ValueError, match="y is constant"):
        func(X, np.full(X.size, 3e-6), 8.0, **kwargs)
    with pytest.raises(ValueError, match="same length"):
        func(X, Y[:-1], 8.0, **kwargs)
    short = slice(0, 8 * 34)  # one window + lag needs 35 s
    match = "SUSY needs at least 2" if func is md.synchrony.susy else "fewer than one window"
    with pytest.raises(ValueError, match=match):
        func(X[short], Y[short], 8.0, **kwargs)


@pytest.mark.parametrize("func", [md.synchrony.wclc, md.synchrony.peak_picking])
def test_lag_larger_than_window(func):
    with pytest.raises(ValueError, match="larger than window"):
        func(X, Y, 8.0, lag=40.0, window=30.0, step=15.0)


def _session(**changes):
    raw = md.simulation.simulate_session(
        duration=900,
        segments=[("IM", 60.0, 300.0), ("CB", 450.0, 300.0)],
        seed=1,
        dyad="D7",
        session=3,
    )
    data = raw.get_data()
    if "flat_therapist_im" in changes:
        data[1, 480:2880] = 4e-6
    out = mne.io.RawArray(data, raw.info, verbose=False)
    out.set_annotations(raw.annotations)
    if "bad_im" in changes:
        out.set_annotations(out.annotations + mne.Annotations([60.0], [300.0], ["BAD_motion"]))
    return out


@pytest.mark.parametrize("method", ["wclc", "peak_picking", "susy", "phase", "concordance"])
def test_cube_cells_nan_with_named_warning(method):
    with pytest.warns(
        RuntimeWarning, match=r"dyad D7, session 3: no .* 'IM' .*therapist is constant"
    ):
        sync = md.synchrony.compute_synchrony(_session(flat_therapist_im=True), method=method)
    main = md.synchrony.METHODS[method].main_summary
    assert np.isnan(sync[main].sel(segment="IM")) and np.isfinite(sync[main].sel(segment="CB"))
    with pytest.warns(RuntimeWarning, match=r"dyad D7, session 3: .*'IM'.*client is more than "):
        sync = md.synchrony.compute_synchrony(_session(bad_im=True), method=method)
    assert np.isnan(sync[main].sel(segment="IM"))
