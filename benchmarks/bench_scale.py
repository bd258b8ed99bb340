"""The chance step on a dask.distributed LocalCluster: 1 worker against 2 (issue 15, point 5).

The 2019-sized simulated study (31 dyads, 128 sessions of 50 minutes at 8 Hz,
``simulate_study(seed=2019)``) is tested against 200 surrogates per session
segment (``compare_with_surrogates``: the pipeline's circular shifts and the
chance test's pseudo-dyads):

- ``local``: in this process with ``n_jobs=1``, as a run without a cluster does
  (numpy may use more than one core here through its BLAS threads);
- ``1 worker``: the same call sent whole to a ``LocalCluster`` of one
  single-threaded worker process (dask's workers run numpy single-threaded);
- ``2 workers``: ``n_jobs=None`` inside the cluster's joblib context, as
  ``[dask] scheduler`` does in a run, on two single-threaded worker processes:
  the session segments go to the workers in groups.

Each timing is the median of ``--repeat`` runs after one warm-up run. The script
prints the times, the speed-up of 2 workers over 1 (expected >= 1.6 on 2 free
cores) and whether every run gave the same surrogates.

Run: python benchmarks/bench_scale.py [--repeat 3] [--n-surrogates 200]
"""

import argparse
import statistics
import time
import warnings

import mne
import numpy as np

import mne_dyad as md
from mne_dyad.utils._dask import _dask_context


def _timed(call, repeat):
    times, result = [], None
    for _ in range(repeat + 1):  # the first run warms the workers up
        t0 = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - t0)
    return statistics.median(times[1:]), result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--n-surrogates", type=int, default=200)
    args = parser.parse_args()
    from distributed import Client, LocalCluster

    mne.set_log_level("ERROR")
    study = md.simulation.simulate_study(seed=2019, verbose=False)
    print(f"{len(study.raws)} sessions, {args.n_surrogates} surrogates per session segment")
    warnings.filterwarnings("ignore", message="Sending large graph")
    for kind in ("circular_shift", "pseudo_dyads"):
        _compare_kind(study, kind, args, Client, LocalCluster)


def _compare_kind(study, kind, args, Client, LocalCluster):
    """Time one surrogate kind locally, on 1 worker and on 2; print one line."""
    options = dict(kind=kind, n_surrogates=args.n_surrogates, seed=1, verbose="error")
    compare = md.surrogates.compare_with_surrogates
    timings, results = {}, {}
    timings["local"], results["local"] = _timed(
        lambda: compare(study.raws, n_jobs=1, **options), args.repeat
    )
    for n_workers in (1, 2):
        with (
            LocalCluster(
                n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster,
            Client(cluster) as client,
        ):
            if n_workers == 1:  # the whole call on the one worker
                raws = client.scatter(study.raws, broadcast=True)

                def call(raws=raws):
                    future = client.submit(compare, raws, n_jobs=1, **options, pure=False)
                    return future.result()

            else:  # what a run on a cluster does

                def call():
                    with _dask_context(None):
                        return compare(study.raws, n_jobs=None, **options)

            timings[n_workers], results[n_workers] = _timed(call, args.repeat)
    reference = results["local"]["surrogates"].values
    same = all(
        np.array_equal(r["surrogates"].values, reference, equal_nan=True) for r in results.values()
    )
    print(
        f"{kind:15s} local {timings['local']:6.1f} s | 1 worker {timings[1]:6.1f} s | "
        f"2 workers {timings[2]:6.1f} s | speed-up 2 vs 1 workers "
        f"{timings[1] / timings[2]:.2f}x | same surrogates everywhere: {same}",
        flush=True,
    )


if __name__ == "__main__":
    main()
