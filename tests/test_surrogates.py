import json

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
        out[other] = float(_pooled(spec, samples, 8.0, [summary], pairs)[0])
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


def test_batched_circular_shifts_equal_one_surrogate_at_a_time(small_study, monkeypatch):
    """All shifts of a span in one kernel call: the same surrogates, drawn in the same order."""
    from mne_dyad.surrogates import _compare

    kw = dict(kind="circular_shift", n_surrogates=6, seed=3, verbose="error")
    summaries = ["all_lags", "peak", "best_lag", "grand_mean"]
    batched = md.surrogates.compare_with_surrogates(small_study, summary=summaries, **kw)

    def one_at_a_time(spec, samples, sfreq, pairs, rng, kind_samples, n_sur):
        out = []
        for _ in range(n_sur):  # the unbatched path: draw, shift and compute each pair
            parts = []
            for xs, ys in pairs:
                offset = _compare._shift_offsets(ys.size, kind_samples, 1, rng)[0]
                parts.append(_compare._partial(spec, samples, sfreq, xs, np.roll(ys, offset)))
            out.append(parts)
        return out

    monkeypatch.setattr(_compare, "_shifted_parts", one_at_a_time)
    looped = md.surrogates.compare_with_surrogates(small_study, summary=summaries, **kw)
    a, b = batched.surrogates.values, looped.surrogates.values
    assert np.isfinite(a).mean() > 0.5  # missing sessions are NaN cells
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    # peak picking has no batched kernel: compute_batch falls back to compute() per row
    pp = METHODS["peak_picking"]
    x, y = np.sin(np.arange(800) / 9.0), np.cos(np.arange(800) / 7.0)
    samples = pp.samples(pp.check_params({}), 4.0)
    rows = np.stack([y, np.roll(y, 40)])
    for part, row in zip(pp.compute_batch(x, rows, 4.0, samples), rows):
        for got, want in zip(part, pp.compute(x, row, 4.0, samples)):
            np.testing.assert_array_equal(got, want)


def test_double_centring_known_answer():
    """Surrogates of (client i, therapist j) = g + a_i + b_j: the mean is a_own + b_own + g."""
    from mne_dyad.surrogates._compare import _double_centre

    rng = np.random.default_rng(0)
    n_dyads, n_first, n_second = 20, 41, 40
    a, b, g = rng.normal(0, 1, n_dyads), rng.normal(0, 1, n_dyads), 3.0
    sur = np.full((n_dyads, 1, 1, n_first + n_second, 1), np.nan)
    for i in range(n_dyads):
        others = [j for j in range(n_dyads) if j != i]
        # first half: this client with other therapists; second: other clients, this therapist
        sur[i, 0, 0, :n_first, 0] = g + a[i] + b[rng.choice(others, n_first)]
        sur[i, 0, 0, n_first:, 0] = g + a[rng.choice(others, n_second)] + b[i]
    centred = _double_centre(sur, n_first)
    mean = centred.mean(axis=3)[:, 0, 0, 0]
    # exact up to the sampled partners' mean a and b (which the grand mean estimates)
    grand = np.mean(sur)
    first = sur[:, 0, 0, :n_first, 0].mean(1)
    second = sur[:, 0, 0, n_first:, 0].mean(1)
    np.testing.assert_allclose(mean, first + second - grand)
    assert np.corrcoef(mean, a + b)[0, 1] > 0.9  # both partners' parts are in the null
    # a single pseudo-dyad mean carries only the client's part
    assert np.corrcoef(first, b)[0, 1] < 0.5


def test_several_summaries_share_one_set_of_surrogates(small_study):
    one = md.surrogates.compare_with_surrogates(
        small_study, n_surrogates=8, seed=2, verbose="error"
    )
    many = md.surrogates.compare_with_surrogates(
        small_study, n_surrogates=8, seed=2, summary=["peak", "all_lags"], verbose="error"
    )
    assert many.surrogates.dims == ("dyad", "session", "segment", "summary", "surrogate")
    np.testing.assert_array_equal(
        many.surrogates.sel(summary="all_lags").values, one.surrogates.values
    )
    assert many.attrs["summary"] == ["peak", "all_lags"] and one.attrs["summary"] == "all_lags"
    with pytest.raises(ValueError, match="must name distinct scalar outputs"):
        md.surrogates.compare_with_surrogates(small_study, summary=["peak", "peak"])
    with pytest.raises(ValueError, match="must name distinct scalar outputs"):
        md.surrogates.compare_with_surrogates(small_study, summary=["profile"])


def test_chance_corrected_is_the_excess_over_the_cells_surrogates(small_study, small_cube):
    comparison = md.surrogates.compare_with_surrogates(
        small_study,
        kind="double_pseudo_dyads",
        n_surrogates=12,
        seed=5,
        summary=["all_lags", "lag0"],
        verbose="error",
    )
    out = md.surrogates.chance_corrected(small_cube, comparison=comparison)
    assert "all_lags_excess" in out and "lag0_es_se" in out and "peak_excess" not in out
    assert "all_lags_excess" not in small_cube  # a copy
    cmp = comparison.sel(summary="all_lags")
    np.testing.assert_allclose(out.all_lags_excess, small_cube.all_lags - cmp.sur_mean)
    np.testing.assert_allclose(out.all_lags_es, (small_cube.all_lags - cmp.sur_mean) / cmp.sur_sd)
    expected_se = np.sqrt(small_cube.all_lags_se**2 + cmp.sur_sd**2 / 12)
    np.testing.assert_allclose(out.all_lags_excess_se, expected_se)
    np.testing.assert_allclose(out.all_lags_es_se, expected_se / cmp.sur_sd)
    record = json.loads(out.attrs["mne_dyad_chance_correction"])
    assert record == {
        "kind": "double_pseudo_dyads",
        "n_surrogates": 12,
        "seed": 5,
        "summaries": ["lag0", "all_lags"],
    }
    # missing sessions stay NaN
    np.testing.assert_array_equal(
        np.isfinite(out.all_lags_excess.values), np.isfinite(small_cube.all_lags.values)
    )
    # drawn by the function itself from the cube's own parameters: the same numbers
    direct = md.surrogates.chance_corrected(
        small_cube,
        small_study,
        kind="double_pseudo_dyads",
        n_surrogates=12,
        seed=5,
        summaries=["lag0", "all_lags"],
        verbose="error",
    )
    np.testing.assert_array_equal(direct.all_lags_excess.values, out.all_lags_excess.values)
    # the alliance model and the variance decomposition take it as a summary
    data = md.stats._models._prepare_alliance_data(
        out, small_study.alliance, summary="all_lags_excess", measurement_error=True
    )
    assert np.isfinite(data["P_se"].values).any()


def test_chance_corrected_bad_input(small_study, small_cube):
    with pytest.raises(ValueError, match="Pass the sessions the cube was computed from"):
        md.surrogates.chance_corrected(small_cube)
    with pytest.raises(ValueError, match="not scalar summaries of the cube"):
        md.surrogates.chance_corrected(small_cube, small_study, summaries=["profile"])
    other = md.surrogates.compare_with_surrogates(
        small_study, lag=5.0, n_surrogates=4, seed=1, verbose="error"
    )
    with pytest.raises(ValueError, match="computed from other sessions or with other parameters"):
        md.surrogates.chance_corrected(small_cube, comparison=other)
    bare = small_cube.copy()
    bare.attrs = {}
    with pytest.raises(ValueError, match="no readable attrs"):
        md.surrogates.chance_corrected(bare, small_study)
    with pytest.raises(ValueError, match="has no surrogates of"):
        md.surrogates.chance_corrected(small_cube, comparison=other, summaries=["peak"])


def test_pair_cache_is_bounded_and_changes_no_value(small_study, monkeypatch):
    """A task keeps a bounded number of pseudo-dyad pairs' summaries (least recently
    used out); a smaller cache recomputes pairs and gives the same values."""
    import pickle

    import xarray as xr

    from mne_dyad.surrogates import _compare

    lru = _compare._LRU(2)
    lru["a"], lru["b"] = 1, 2
    assert lru["a"] == 1  # a read makes "a" the most recent
    lru["c"] = 3
    assert list(lru.items()) == [("a", 1), ("c", 3)]
    copy = pickle.loads(pickle.dumps(lru))  # with its bound
    copy["d"] = 4
    assert list(copy.items()) == [("c", 3), ("d", 4)] and copy.maxsize == 2

    sizes, hits, stored = [], [], set()

    class Spy(_compare._LRU):
        def __setitem__(self, key, value):
            super().__setitem__(key, value)
            sizes.append(len(self))
            stored.add(key)

        def __getitem__(self, key):
            hits.append(key)
            return super().__getitem__(key)

    for kind in ("pseudo_dyads", "double_pseudo_dyads"):
        options = dict(kind=kind, n_surrogates=40, seed=3, n_jobs=1, verbose="error")
        monkeypatch.setattr(_compare, "_LRU", Spy)
        sizes.clear(), hits.clear(), stored.clear()
        full = md.surrogates.compare_with_surrogates(small_study, **options)
        assert hits and max(sizes) > 2  # pairs recur and are kept
        # n_jobs=1 runs the cells in 4 tasks, each with its own cache
        if kind == "pseudo_dyads":  # one cell's pairs at a time, not the task's
            assert max(sizes) < len(stored) / 4
        else:  # pairs recur across cells: a task keeps its cells' (none evicted here)
            assert max(sizes) > len(stored) / 4
        n_full = len(hits)
        monkeypatch.setattr(_compare, "_PAIR_CACHE", 2)
        sizes.clear(), hits.clear()
        bounded = md.surrogates.compare_with_surrogates(small_study, **options)
        assert max(sizes) == 2 and len(hits) < n_full
        xr.testing.assert_identical(full, bounded)
        monkeypatch.undo()


def test_segment_store_gives_the_same_surrogates_and_carries_no_signal(small_study, tmp_path):
    """store_dir: the tasks read their segments from a folder (removed after), with a
    bounded cache; the surrogates are identical to sending the segments."""
    import os
    import pickle

    import xarray as xr

    from mne_dyad.surrogates import _compare

    options = dict(kind="pseudo_dyads", n_surrogates=6, seed=4, verbose="error")
    sent = md.surrogates.compare_with_surrogates(small_study, **options)
    stored = md.surrogates.compare_with_surrogates(small_study, store_dir=tmp_path, **options)
    xr.testing.assert_identical(sent, stored)
    assert list(tmp_path.iterdir()) == []  # the run's subfolder is gone
    # the store: one file per cell, read on demand, at most _STORE_CACHE in memory
    spans = {
        (("D1", 1), "IM"): [(np.arange(5.0), np.arange(5.0) * 2)],
        (("D2", 1), "IM"): [(np.ones(3), np.zeros(3)), (np.ones(4), np.ones(4))],
        (("D3", 1), "CB"): [(np.full(6, 3.0), np.full(6, 4.0))],
    }
    store = _compare._write_store(spans, tmp_path)
    assert len(pickle.dumps(store)) < 1000  # keys and file names, no signal
    copy = pickle.loads(pickle.dumps(store))
    for cell, pairs in spans.items():
        for (x, y), (xs, ys) in zip(pairs, copy[cell], strict=True):
            np.testing.assert_array_equal(x, xs)
            np.testing.assert_array_equal(y, ys)
    old = _compare._STORE_CACHE
    try:
        _compare._STORE_CACHE = 2
        fresh = pickle.loads(pickle.dumps(store))  # a worker's copy: an empty cache
        for cell in spans:
            fresh[cell]
        assert list(fresh._cache) == list(spans)[1:]  # the oldest went first
    finally:
        _compare._STORE_CACHE = old
    # a store that cannot be written whole leaves nothing behind (None: not span pairs)
    with pytest.raises(TypeError):
        _compare._write_store({**spans, (("D4", 1), "IM"): None}, tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [os.path.basename(store.folder)]
    with pytest.raises(ValueError, match="store_dir .* is not a folder"):
        md.surrogates.compare_with_surrogates(
            small_study, store_dir=tmp_path / "missing", **options
        )
    # in a run's configuration: [chance] store_dir, checked before the run
    with pytest.raises(md.pipeline.ConfigError, match=r"\[chance\] store_dir .* not a folder"):
        md.pipeline.PipelineConfig({"chance": {"store_dir": str(tmp_path / "missing")}})
