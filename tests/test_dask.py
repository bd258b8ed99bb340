"""The parallel steps on a dask.distributed cluster give the local results (issue 15)."""

import warnings

import mne
import numpy as np
import pandas as pd
import pytest
import xarray as xr

import mne_dyad as md
from mne_dyad.pipeline import ConfigError, PipelineConfig, run_pipeline
from mne_dyad.utils._dask import _active_client, _dask_context

distributed = pytest.importorskip("distributed")
joblib = pytest.importorskip("joblib")


@pytest.fixture(scope="module")
def cluster():
    """Two single-threaded worker processes, as on a 2-core machine."""
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as local:
        yield local


@pytest.fixture(scope="module")
def study():
    return md.simulation.simulate_study(
        n_dyads=6, n_sessions=2, n_usable=10, duration=600.0, seed=11, verbose=False
    )


_CONFIG = {
    "seed": 5,
    "chance": {"n_surrogates": 12},
    "variance": {"enabled": False},
    "model": {"enabled": False},
}


@pytest.mark.slow
def test_surrogates_on_a_cluster_equal_local(cluster, study):
    """Per-cell seeds: the same surrogates whether 1 local job or 2 remote workers."""
    options = dict(kind="pseudo_dyads", n_surrogates=8, seed=3, verbose="error")
    local = md.surrogates.compare_with_surrogates(study.raws, n_jobs=1, **options)
    with distributed.Client(cluster) as client, _dask_context(None) as active:
        assert active is client
        with distributed.get_task_stream(client) as stream:
            remote = md.surrogates.compare_with_surrogates(study.raws, n_jobs=None, **options)
    # the cells went to both workers, in more than one task
    assert len(stream.data) >= 2
    assert len({task["worker"] for task in stream.data}) == 2
    xr.testing.assert_identical(local, remote)
    # the form the docs give: joblib's dask backend, n_jobs=None, no number of jobs
    with (
        distributed.Client(cluster) as client,
        joblib.parallel_config(backend="dask"),
        distributed.get_task_stream(client) as stream,
    ):
        documented = md.surrogates.compare_with_surrogates(study.raws, n_jobs=None, **options)
    assert len({task["worker"] for task in stream.data}) == 2
    xr.testing.assert_identical(local, documented)
    assert np.isfinite(local["surrogates"].values).sum() > 100


@pytest.mark.slow
def test_multiverse_grid_on_a_cluster_equals_local(cluster, study):
    """A grid of specifications (the multiverse of example 09) is a loop of cubes; under
    joblib's dask backend each cube's sessions run on the workers, with local values."""
    grid = [(window, lag) for window in (20.0, 30.0) for lag in (5.0, 10.0)]

    def cubes(n_jobs):
        return {
            (w, lag): md.synchrony_cube(
                study.raws, method="wclc", window=w, lag=lag, step=w / 2, n_jobs=n_jobs
            )
            for w, lag in grid
        }

    local = cubes(1)
    with (
        distributed.Client(cluster) as client,
        joblib.parallel_config(backend="dask"),
        distributed.get_task_stream(client) as stream,
    ):
        remote = cubes(None)
    assert len({task["worker"] for task in stream.data}) == 2
    assert len(stream.data) >= 2 * len(grid)  # each cube in several tasks (joblib batches)
    for spec in grid:
        xr.testing.assert_identical(local[spec], remote[spec])
    # the specifications differ: the grid is not one cube four times
    assert not np.allclose(local[grid[0]].all_lags, local[grid[-1]].all_lags, equal_nan=True)


@pytest.mark.slow
def test_segment_store_on_a_cluster(cluster, study, tmp_path):
    """store_dir on two workers: the same surrogates, and each task carries keys only."""
    options = dict(kind="pseudo_dyads", n_surrogates=8, seed=3, verbose="error")
    local = md.surrogates.compare_with_surrogates(study.raws, n_jobs=1, **options)
    with (
        distributed.Client(cluster) as client,
        joblib.parallel_config(backend="dask"),
        distributed.get_task_stream(client) as stream,
    ):
        remote = md.surrogates.compare_with_surrogates(
            study.raws, n_jobs=None, store_dir=tmp_path, **options
        )
    assert len({task["worker"] for task in stream.data}) == 2
    xr.testing.assert_identical(local, remote)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_run_pipeline_on_a_scheduler_address(cluster, study):
    """[dask] scheduler: cube and chance-corrected cube as in a local run; recorded."""
    local = run_pipeline(study, _CONFIG, verbose="error")
    config = {**_CONFIG, "dask": {"scheduler": " " + cluster.scheduler_address}}

    def callers():  # Clients connected from outside the workers (theirs come and stay)
        return {c for c in cluster.scheduler.clients if not c.startswith("Client-worker-")}

    clients = callers()
    remote = run_pipeline(study, config, verbose="error")
    assert callers() == clients  # the run's own Client is closed
    xr.testing.assert_identical(local.cube, remote.cube)
    assert "all_lags_es" in remote.cube
    assert local.provenance["dask"] is None
    assert remote.provenance["dask"]["workers"] == 2
    assert remote.provenance["dask"]["scheduler"] == cluster.scheduler_address
    assert _active_client() is None  # and it was never the default Client


def test_scheduler_address_is_checked():
    with pytest.raises(ConfigError, match=r"\[dask\] scheduler must be a scheduler's address"):
        PipelineConfig({"dask": {"scheduler": "my-cluster"}})
    with pytest.raises(ConfigError, match=r"\[dask\] scheduler must be a string"):
        PipelineConfig({"dask": {"scheduler": 8786}})
    config = PipelineConfig({"dask": {"scheduler": "tcp://10.0.0.5:8786"}})
    assert 'scheduler = "tcp://10.0.0.5:8786"' in config.to_toml()
    assert PipelineConfig().dask == {"scheduler": None}


@pytest.mark.slow
def test_unreachable_scheduler_names_the_key():
    with pytest.raises(RuntimeError, match=r"127\.0\.0\.1:9.*fix \[dask\] scheduler"):
        with _dask_context("tcp://127.0.0.1:9", timeout="2s"):
            pass


def test_no_cluster_no_dask(monkeypatch):
    """Without an address or an active Client, nothing changes (and joblib is untouched)."""
    with _dask_context(None) as client:
        assert client is None
        assert joblib.parallel.get_active_backend()[1] is None


@pytest.fixture(scope="module")
def study_on_disk(tmp_path_factory, write_tabular_study):
    """Four dyads x two sessions as CSV tables, one with clocks that start apart."""
    sim = md.simulation.simulate_study(
        n_dyads=4, n_sessions=2, n_usable=8, duration=600.0, seed=12, verbose=False
    )

    def starts(k):  # the first session's therapist started 20 s late: reading it warns
        return {"client_start": "10:00:00", "therapist_start": "10:00:20" if k == 0 else "10:00:00"}

    return write_tabular_study(tmp_path_factory.mktemp("on_disk"), sim, starts)


def _read(manifest):
    return md.io.read_study(manifest, options={"readers": {"tabular": {"sfreq": 8.0}}})


@pytest.mark.slow
def test_a_studys_sessions_are_read_on_the_workers(cluster, study_on_disk, tmp_path, monkeypatch):
    """A study from a manifest sends readers, not recordings: the workers read the
    sessions, the calling process reads none, and the results, the warnings of
    reading and the provenance's rates are those of a local run."""
    options = dict(kind="pseudo_dyads", n_surrogates=6, seed=2, verbose="error")
    here = _read(study_on_disk)
    with pytest.warns(RuntimeWarning, match="overlap"):
        local_cube = md.synchrony_cube(here)
    local = md.surrogates.compare_with_surrogates(here, **options)
    assert len(here.raws._cache) == 8  # n_jobs=1: read here, once
    local_run = run_pipeline(_read(study_on_disk), _CONFIG, verbose="error")
    # mne-dyad run checks every session first: with a cluster, without keeping any
    config = {**_CONFIG, "dask": {"scheduler": cluster.scheduler_address}}
    config["readers"] = {"tabular": {"sfreq": 8.0}}
    read_options = PipelineConfig(config).study_options()  # as the command reads it
    checked = md.io.read_study(study_on_disk, options=read_options)
    with pytest.warns(RuntimeWarning, match="overlap"):
        _, problems = md.pipeline.check_run(checked, config)
    assert problems == [] and checked.raws._cache == {}
    assert checked.raws.warnings == here.raws.warnings

    def not_here(self, key):
        raise AssertionError(f"session {key} was read in the calling process")

    monkeypatch.setattr(md.io._study.Study, "load_session", not_here)
    there = _read(study_on_disk)
    with distributed.Client(cluster), joblib.parallel_config(backend="dask"):
        # the warning of reading reaches the caller, once for both steps
        with pytest.warns(RuntimeWarning, match="overlap") as said:
            cube = md.synchrony_cube(there, n_jobs=None)
            stored = md.surrogates.compare_with_surrogates(
                there, n_jobs=None, store_dir=tmp_path, **options
            )
        sent = md.surrogates.compare_with_surrogates(there, n_jobs=None, **options)
    assert sum("overlap" in str(w.message) for w in said) == 1
    assert there.raws._cache == {}
    assert there.raws.warnings == here.raws.warnings
    assert len(there.raws.warnings[next(iter(there.raws))]) == 1
    xr.testing.assert_identical(local_cube, cube)
    xr.testing.assert_identical(local, stored)
    xr.testing.assert_identical(local, sent)
    assert list(tmp_path.iterdir()) == []
    # a whole run on the cluster: the same cube, rates and warnings in its provenance
    remote_run = run_pipeline(checked, config, verbose="error")
    xr.testing.assert_identical(local_run.cube, remote_run.cube)
    assert remote_run.provenance["sfreq"] == local_run.provenance["sfreq"]
    assert remote_run.provenance["warnings"] == local_run.provenance["warnings"]
    assert any("overlap" in m for m in remote_run.provenance["warnings"])
    # preprocessed (the default artifact marking) on the workers too, and recorded
    shares = remote_run.provenance["preprocessing"]["artifact_share"]
    assert shares == local_run.provenance["preprocessing"]["artifact_share"]
    assert len(shares) == 8
    # and in local worker processes
    monkeypatch.undo()
    xr.testing.assert_identical(local_cube, md.synchrony_cube(_read(study_on_disk), n_jobs=2))


def _count_reads(on=True):
    """On a worker: record the sessions its study reads (``on=False`` stops it)."""
    study = md.io._study.Study
    original = study.__dict__.get("_uncounted", study.__dict__["load_session"])
    if not on:
        study.load_session = original
        return
    study._uncounted, study._read_keys = original, []

    def counted(self, key):
        study._read_keys.append(key)
        return original(self, key)

    study.load_session = counted


def _reads_counted():
    """On a worker: the sessions read since the last call."""
    study = md.io._study.Study
    reads, study._read_keys = study._read_keys, []
    return reads


def _reads(client):
    return sorted(sum(client.run(_reads_counted).values(), []))


@pytest.mark.slow
def test_a_lazy_cube_reads_the_sessions_on_the_workers(cluster, study_on_disk, monkeypatch):
    """Built under a Client, a lazy cube of a manifest's study checks the sessions on
    the workers and its tasks carry readers: the calling process reads none, shows
    the warnings of reading once, and the cube is the eager one."""
    here = _read(study_on_disk)
    with pytest.warns(RuntimeWarning, match="overlap"):
        eager = md.synchrony_cube(here)
    there = _read(study_on_disk)

    def not_here(self, key):
        raise AssertionError(f"session {key} was read in the calling process")

    monkeypatch.setattr(md.io._study.Study, "load_session", not_here)
    keys = sorted(here.raws)
    try:
        with distributed.Client(cluster) as client:
            client.run(_count_reads)
            with pytest.warns(RuntimeWarning, match="overlap") as said:
                lazy = md.synchrony_cube(there, chunks={"dyad": 2})
                computed = lazy.compute()
            # the workers read each session once: the check's read made its synchrony
            assert _reads(client) == keys
            # persisted without keeping the lazy cube: its results are still fetched
            with pytest.warns(RuntimeWarning, match="overlap"):
                persisted = md.synchrony_cube(_read(study_on_disk), chunks={"dyad": 2}).persist()
            xr.testing.assert_identical(eager, persisted.compute())
            assert _reads(client) == keys
            # computed under another Client of the cluster after this one closed, the
            # kept results are gone: the tasks read the sessions again, on the workers
            with pytest.warns(RuntimeWarning, match="overlap"):
                later = md.synchrony_cube(_read(study_on_disk), chunks={"dyad": 2})
            assert _reads(client) == keys
        with distributed.Client(cluster) as client:
            xr.testing.assert_identical(eager, later.compute())
            assert _reads(client) == keys
    finally:
        with distributed.Client(cluster) as client:
            client.run(_count_reads, False)
    assert sum("overlap" in str(w.message) for w in said) == 1
    assert there.raws._cache == {}
    assert there.raws.warnings == here.raws.warnings
    xr.testing.assert_identical(eager, computed)
    # built under a Client, computed without one: the tasks run in threads here,
    # which read without catch_warnings (not thread-safe), with the same values
    from mne_dyad.synchrony import _api

    monkeypatch.undo()
    original = _api._made

    def made_on_workers_only(source):
        assert isinstance(source, mne.io.BaseRaw), "catch_warnings in a thread here"
        return original(source)

    monkeypatch.setattr(_api, "_made", made_on_workers_only)
    with distributed.Client(cluster):
        with pytest.warns(RuntimeWarning, match="overlap"):
            orphan = md.synchrony_cube(_read(study_on_disk), chunks={"dyad": 2})
    with warnings.catch_warnings():  # read again here (whether MNE warns again depends
        warnings.simplefilter("ignore")  # on the log level other threads set meanwhile)
        xr.testing.assert_identical(eager, orphan.compute(scheduler="threads"))
    monkeypatch.undo()
    # without a Client the lazy cube reads here, as before
    local = _read(study_on_disk)
    with pytest.warns(RuntimeWarning, match="overlap"):
        xr.testing.assert_identical(eager, md.synchrony_cube(local, chunks={"dyad": 2}).compute())
    assert len(local.raws._cache) == 8


@pytest.mark.slow
def test_a_lazy_cube_keeps_the_news_of_sessions_read_before_an_error(
    cluster, study_on_disk, tmp_path
):
    """One unreadable session: the worker's error reaches the caller, and the other
    sessions' warnings of reading are shown and recorded first."""
    import shutil

    copy = tmp_path / "study"
    shutil.copytree(study_on_disk.parent, copy)
    manifest = pd.read_csv(copy / "manifest.csv")
    last = manifest.iloc[-1]
    (copy / last.client_file).write_text("eda\nnot a number\n")
    study = _read(copy / "manifest.csv")
    with distributed.Client(cluster):
        with pytest.warns(RuntimeWarning, match="overlap") as said:
            with pytest.raises(Exception, match=last.client_file):
                md.synchrony_cube(study, chunks={"dyad": 2})
    assert sum("overlap" in str(w.message) for w in said) == 1
    first = (manifest.dyad[0], int(manifest.session[0]))
    assert any("overlap" in m for m in study.raws.warnings[first])


@pytest.fixture(scope="module")
def warning_study(tmp_path_factory, write_tabular_study):
    """Twelve dyads x two sessions whose every reading warns (clocks 20 s apart)."""
    sim = md.simulation.simulate_study(
        n_dyads=12, n_sessions=2, n_usable=24, duration=600.0, seed=13, verbose=False
    )

    def starts(k):
        return {"client_start": "10:00:00", "therapist_start": "10:00:20"}

    return write_tabular_study(tmp_path_factory.mktemp("warning"), sim, starts)


def _overlaps(study, said, keys):
    """Warnings of reading shown, and the sessions of ``keys`` that recorded theirs."""
    shown = sum("overlap" in str(w.message) for w in said)
    recorded = [k for k in keys if any("overlap" in m for m in study.raws.warnings.get(k, []))]
    return shown, len(recorded)


@pytest.mark.slow
def test_a_threaded_worker_records_every_sessions_warnings(warning_study):
    """Warning filters are shared by a process's threads: one task's computing (its
    catch_warnings blocks) must not hide or misfile the warnings another task
    records while it reads. On a worker with two threads, every session's warning of
    reading reaches the caller and its record: lazy cubes, and eager ones whose
    tasks carry half of the sessions as Raws (read here first); and under joblib's
    threading backend, whose threads compute in the calling process."""
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=2, processes=True, dashboard_address=None
        ) as threaded,
        distributed.Client(threaded) as client,
    ):
        client.run(mne.set_log_level, "ERROR")
        for _ in range(4):
            study = _read(warning_study)
            with warnings.catch_warnings(record=True) as said:
                warnings.simplefilter("always")
                md.synchrony_cube(study, chunks={"dyad": 2})
            assert _overlaps(study, said, list(study.raws)) == (24, 24)
        for _ in range(2):
            study = _read(warning_study)
            keys = list(study.raws)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for key in keys[::2]:
                    study.raws[key]  # read here: its task carries the Raw
            with (
                warnings.catch_warnings(record=True) as said,
                joblib.parallel_config(backend="dask"),
            ):
                warnings.simplefilter("always")
                md.synchrony_cube(study, n_jobs=None, verbose="error")
            assert _overlaps(study, said, keys[1::2]) == (12, 12)
    for _ in range(3):
        study = _read(warning_study)
        with (
            warnings.catch_warnings(record=True) as said,
            joblib.parallel_config(backend="threading"),
            mne.utils.use_log_level("error"),
        ):
            warnings.simplefilter("always")
            md.synchrony_cube(study, n_jobs=2, verbose="error")
        assert _overlaps(study, said, list(study.raws)) == (24, 24)


@pytest.mark.slow
def test_threads_read_the_sessions_here(study_on_disk):
    """Joblib's threading backend runs in this process, whose warning filters its
    threads share: the sessions are read here, one at a time, as without jobs, and
    each keeps its own warnings."""
    here = _read(study_on_disk)
    with pytest.warns(RuntimeWarning, match="overlap"):
        local = md.synchrony_cube(here)
    there = _read(study_on_disk)
    with (
        joblib.parallel_config(backend="threading"),
        pytest.warns(RuntimeWarning, match="overlap") as said,
    ):
        cube = md.synchrony_cube(there, n_jobs=2)
        comparison = md.surrogates.compare_with_surrogates(
            there, n_jobs=2, kind="circular_shift", n_surrogates=4, seed=1, verbose="error"
        )
    assert sum("overlap" in str(w.message) for w in said) == 1
    assert len(there.raws._cache) == 8  # read here
    assert there.raws.warnings == here.raws.warnings
    xr.testing.assert_identical(local, cube)
    local_comparison = md.surrogates.compare_with_surrogates(
        here, kind="circular_shift", n_surrogates=4, seed=1, verbose="error"
    )
    xr.testing.assert_identical(local_comparison, comparison)
