import numpy as np
import pytest

import mne_dyad as md
from mne_dyad.io._session import _segment_spans, _session_signals
from mne_dyad.surrogates._compare import _pooled
from mne_dyad.synchrony._api import METHODS


def test_circular_shift_offsets_and_content():
    y = np.arange(200.0)
    sur = md.surrogates.circular_shift(y, 2.0, min_shift=10, n_surrogates=200, seed=0)
    offsets = (sur.offset.values * 2).astype(int)
    assert offsets.min() >= 20 and offsets.max() <= 180
    assert len(np.unique(offsets)) > 50  # spread over the allowed range
    for k, row in zip(offsets, sur.values):
        np.testing.assert_array_equal(row, np.roll(y, k))
    again = md.surrogates.circular_shift(y, 2.0, min_shift=10, n_surrogates=200, seed=0)
    np.testing.assert_array_equal(again.values, sur.values)
    with pytest.raises(ValueError, match="needs at least 240 samples"):
        md.surrogates.circular_shift(y, 2.0, min_shift=60)


def test_segment_shuffle_is_a_derangement_of_segments():
    y = np.arange(23.0)  # 5 segments of 4 and a remainder of 3
    sur = md.surrogates.segment_shuffle(y, 1.0, segment=4, n_surrogates=50, seed=1)
    for row in sur.values:
        segs = row[:20].reshape(5, 4)
        assert sorted(segs[:, 0]) == [0, 4, 8, 12, 16]  # same segments ...
        np.testing.assert_array_equal(np.diff(segs, axis=1), 1)  # ... each intact
        assert not np.any(segs[:, 0] == np.arange(0, 20, 4))  # none in place
        np.testing.assert_array_equal(row[20:], [20, 21, 22])  # remainder kept
    with pytest.raises(ValueError, match="at least 2 segments"):
        md.surrogates.segment_shuffle(y, 1.0, segment=12)


def test_iaaft_keeps_amplitudes_exactly_and_spectrum_approximately():
    rng = np.random.default_rng(2)
    y = np.convolve(rng.exponential(1.0, 4096), np.exp(-np.arange(40) / 8), mode="same")
    sur = md.surrogates.iaaft(y, n_surrogates=3, seed=3)
    power = np.abs(np.fft.rfft(y)) ** 2
    for row in sur.values:
        np.testing.assert_array_equal(np.sort(row), np.sort(y))  # values exactly
        assert not np.array_equal(row, y)
        p = np.abs(np.fft.rfft(row)) ** 2
        # spectrum in 32 bands within 10 percent
        bands = np.array_split(np.arange(1, power.size), 32)
        ratio = [p[b].sum() / power[b].sum() for b in bands]
        assert np.all(np.abs(np.log(ratio)) < np.log(1.1)), ratio
        # linear structure kept, order destroyed: autocorrelation at lag 5 similar
        ac = [np.corrcoef(s[:-5], s[5:])[0, 1] for s in (y, row)]
        assert abs(ac[0] - ac[1]) < 0.05
    gappy = y.copy()
    gappy[100:150] = np.nan
    sur = md.surrogates.iaaft(gappy, seed=4)
    assert np.isnan(sur.values[0, 100:150]).all() and np.isfinite(sur.values[0, :100]).all()


def test_pseudo_dyads_never_pair_a_dyad_with_itself(small_study):
    p = md.surrogates.pseudo_dyads(small_study.raws, n_surrogates=40, seed=0)
    exists = p.partner_session > 0
    assert int(exists.sum()) == 15 * 2 * 40  # every usable session, both labels
    same = (p.partner_dyad == p.dyad) & exists
    assert not bool(same.any())
    # partners are real sessions with that label
    for d, s in {
        (str(a), int(b))
        for a, b in zip(p.partner_dyad.values.ravel(), p.partner_session.values.ravel())
        if b > 0
    }:
        assert (d, s) in small_study.raws


def _cell_values(study, key, label, method="wclc", summary="all_lags"):
    """The chance test's pooled value of x from ``key`` with y from each session."""
    spec = METHODS[method]
    samples = spec.samples(spec.check_params({}), 8.0)
    x_raw = study.raws[key]
    x, _ = _session_signals(x_raw, ("client", "therapist"))
    xs = [x[a:b] for a, b in _segment_spans(x_raw, label)]
    out = {}
    for other, raw in study.raws.items():
        _, y = _session_signals(raw, ("client", "therapist"))
        ys = [y[a:b] for a, b in _segment_spans(raw, label)]
        pairs = [(xk, ys[k % len(ys)]) for k, xk in enumerate(xs)]
        out[other] = _pooled(spec, samples, 8.0, summary, pairs)
    return out


@pytest.mark.slow
def test_pseudo_dyad_surrogates_keep_roles(small_study):
    res = md.surrogates.test_above_chance(
        small_study, n_surrogates=15, draws=1000, tune=1000, sampler="pymc", seed=3
    )
    key = next(iter(small_study.raws))
    values = _cell_values(small_study, key, "IM")
    allowed = np.array([v for k, v in values.items() if k[0] != key[0]])
    own = np.array([v for k, v in values.items() if k[0] == key[0]])
    sur = res.surrogates.sel(dyad=key[0], session=key[1], segment="IM").values
    for v in sur:  # each surrogate is the client of this session with another dyad's therapist
        assert np.min(np.abs(allowed - v)) < 1e-12
        assert np.min(np.abs(own - v)) > 1e-9
    assert float(res["observed"].sel(dyad=key[0], session=key[1], segment="IM")) == (
        pytest.approx(values[key], abs=1e-12)
    )
    # ES and p follow their formulas
    obs = res["observed"].values
    with np.errstate(invalid="ignore"), pytest.warns(RuntimeWarning):  # missing sessions
        mean = np.nanmean(res.surrogates.values, -1)
        sd = np.nanstd(res.surrogates.values, -1, ddof=1)
    np.testing.assert_allclose(res.es.values, (obs - mean) / sd, rtol=1e-10)
    count = (res.surrogates.values >= obs[..., None]).sum(-1)
    ok = np.isfinite(obs)
    np.testing.assert_allclose(res.p.values[ok], ((1 + count) / 16)[ok])


@pytest.mark.slow
@pytest.mark.parametrize("coupled", [True, False])
def test_group_delta_detects_coupling_and_only_coupling(coupled):
    value = 0.7 if coupled else 0.0
    study = md.simulation.simulate_study(
        n_dyads=10,
        n_sessions=3,
        n_usable=20,
        duration=900.0,
        seed=0,
        coupling_mean={"IM": value, "CB": value},
    )
    res = md.surrogates.test_above_chance(study, n_surrogates=30, sampler="nutpie", seed=0)
    for segment in ("IM", "CB"):
        row = res.sel(segment=segment)
        if coupled:
            assert float(row.p_delta_gt_0) > 0.99 and float(row.delta_lower) > 0
        else:
            assert float(row.p_delta_gt_0) < 0.95
            assert float(row.delta_lower) < 0 < float(row.delta_upper)


def test_bad_input(small_study):
    with pytest.raises(ValueError, match="'kind' parameter"):
        md.surrogates.test_above_chance(small_study, kind="bootstrap")
    with pytest.raises(ValueError, match="not a scalar output of wclc"):
        md.surrogates.test_above_chance(small_study, summary="profile")
    one = {k: v for k, v in small_study.raws.items() if k[0] == "D01"}
    with pytest.raises(ValueError, match="need another dyad with a 'IM' segment"):
        md.surrogates.test_above_chance(one)
    mixed = dict(small_study.raws)
    key = next(iter(mixed))
    mixed[key] = mixed[key].copy().resample(4.0)
    with pytest.raises(ValueError, match="different sampling rates"):
        md.surrogates.test_above_chance(mixed)
    with pytest.raises(ValueError, match="n_surrogates must be a positive integer"):
        md.surrogates.test_above_chance(small_study, n_surrogates=0)


@pytest.mark.slow
def test_chance_on_a_preprocessed_signal(small_study):
    keys = list(small_study.raws)[:6]
    clean = {k: md.preprocessing.clean_eda(small_study.raws[k], verbose=False) for k in keys}
    kw = dict(n_surrogates=5, draws=100, tune=100, sampler="pymc", seed=0, verbose="error")
    res = md.surrogates.test_above_chance(clean, signal="clean", **kw)
    # the observed values are the cube's on the cleaned signal, not on the raw one
    cube = md.synchrony_cube(clean, signal="clean", verbose=False)
    np.testing.assert_allclose(res["observed"].values, cube.all_lags.values, rtol=1e-12)
    raw_cube = md.synchrony_cube(clean, verbose=False)
    assert not np.allclose(res["observed"].values, raw_cube.all_lags.values, equal_nan=True)
    assert '"signal": "clean"' in res.attrs["mne_dyad_params"]
    with pytest.raises(ValueError, match="run mne_dyad.preprocessing.decompose_eda"):
        md.surrogates.test_above_chance(clean, signal="phasic", **kw)


@pytest.mark.slow
def test_identical_surrogates_give_nan_effect_sizes():
    """Two shuffle pieces have one reordering: ES is NaN with a warning, never infinite."""
    study = md.simulation.simulate_study(
        n_dyads=4, n_sessions=2, n_usable=6, duration=400.0, seed=0, verbose=False
    )
    with pytest.warns(RuntimeWarning) as record:
        res = md.surrogates.test_above_chance(
            study,
            kind="segment_shuffle",
            n_surrogates=10,
            draws=100,
            tune=100,
            sampler="pymc",
            seed=1,
        )
    messages = [str(w.message) for w in record]
    same = [m for m in messages if m.startswith("All 10 surrogates are identical")]
    assert len(same) == 1 and "use a shorter shuffle_segment" in same[0]
    spread = res.surrogates.max("surrogate") - res.surrogates.min("surrogate")
    constant = (spread < 1e-12) & np.isfinite(res.observed)
    assert int(constant.sum()) == 3 and f"{int(constant.sum())} cell(s)" in same[0]
    assert np.isnan(res.es.where(constant)).sum() == np.isnan(res.es.where(constant)).size
    assert not np.isinf(res.es.values).any()


def test_the_chance_test_is_its_two_halves(small_study):
    """compare_with_surrogates (no sampling) + fit_chance_model == test_above_chance."""
    kw = dict(n_surrogates=8, seed=5)
    cells = md.surrogates.compare_with_surrogates(small_study, **kw)
    assert not any(v.startswith("delta") for v in cells.data_vars)
    assert cells.surrogates.sizes["surrogate"] == 8
    sampling = dict(draws=100, tune=100, chains=1, sampler="pymc")
    with pytest.warns(RuntimeWarning, match="sampler reports"):  # short chains
        whole = md.stats.test_above_chance(small_study, **kw, **sampling)
    for name in ("observed", "surrogates", "es", "p"):
        np.testing.assert_array_equal(whole[name].values, cells[name].values)
    with pytest.warns(RuntimeWarning, match="sampler reports"):
        grouped = md.stats.fit_chance_model(cells, seed=5, **sampling)
    np.testing.assert_allclose(grouped.delta_mean.values, whole.delta_mean.values, rtol=1e-12)
    assert "delta_mean" not in cells  # fit_chance_model returns a copy
    # the design's name in surrogates is the same function, loaded on first use
    assert md.surrogates.test_above_chance is md.stats.test_above_chance
    with pytest.raises(ValueError, match="compare_with_surrogates"):
        md.stats.fit_chance_model(cells.drop_vars("sur_mean"))
    with pytest.raises(ValueError, match="ci_prob must be between 0 and 1"):
        md.stats.fit_chance_model(cells, ci_prob=1.5)
