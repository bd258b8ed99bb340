"""Scaling out: parallel sessions, and a dask-backed cube computed on a LocalCluster."""

import distributed
import numpy as np
import pytest
import xarray as xr

import mne_dyad as md


@pytest.mark.slow
def test_lazy_cube_on_a_local_cluster_equals_eager(small_study, small_cube):
    lazy = md.synchrony_cube(small_study.raws, chunks={"dyad": 2})
    assert lazy.all_lags.chunks == ((2, 2, 2), (3,), (2,))
    assert lazy.profile.data.npartitions == 3  # not computed yet: dask-backed
    # one task computes each block of 2 dyads' sessions (not one per session and variable)
    graph = dict(lazy.__dask_graph__())
    names = [str(k[0] if isinstance(k, tuple) else k) for k in graph]
    assert sum(n.startswith("_block_values") for n in names) == 3
    assert not any(n.startswith(("_synchrony_of", "_session_values")) for n in names)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        assert len(client.scheduler_info()["workers"]) == 2
        computed = lazy.compute()
    xr.testing.assert_identical(computed, small_cube)


def test_lazy_cube_other_methods_and_errors(small_study):
    lazy = md.synchrony_cube(
        small_study.raws, method="susy", chunks={"session": 1}, segment=20.0, max_lag=5.0
    )
    eager = md.synchrony_cube(small_study.raws, method="susy", segment=20.0, max_lag=5.0)
    xr.testing.assert_identical(lazy.compute(scheduler="sync"), eager)
    # chunks that do not split the dyads still give a task per dyad (6 here), not one
    for chunks in ({"segment": 1}, {"dyad": -1}, {"dyad": "auto"}):
        graph = dict(md.synchrony_cube(small_study.raws, chunks=chunks).__dask_graph__())
        names = [str(k[0] if isinstance(k, tuple) else k) for k in graph]
        assert sum(n.startswith("_block_values") for n in names) == 6
    with pytest.raises(ValueError, match="unknown dims"):
        md.synchrony_cube(small_study.raws, chunks={"window": 2})
    mixed = dict(small_study.raws)
    key = next(iter(mixed))
    mixed[key] = mixed[key].copy().resample(4.0)
    with pytest.raises(ValueError, match="different sampling rates"):
        md.synchrony_cube(mixed, chunks={"dyad": 1})
    with pytest.raises(ValueError, match=r"analysed at 8.0 Hz and the first session .* at 4.0 Hz"):
        md.synchrony_cube(mixed)


def test_parallel_sessions_equal_serial(small_study, small_cube):
    par = md.synchrony_cube(small_study.raws, n_jobs=2)
    xr.testing.assert_identical(par, small_cube)
    assert np.isfinite(par.all_lags).sum() == 30
