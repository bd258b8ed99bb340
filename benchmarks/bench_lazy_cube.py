"""A lazy cube on a cluster: one read per session against two (issue 15, point 4).

A study of 50-minute sessions at 8 Hz is written to disk (one FIF file per person and
session, as ``bench_scale_memory.py --from-files``) and read from its manifest. Under
a ``LocalCluster`` of two single-threaded workers, ``synchrony_cube(study,
chunks={"dyad": 8})`` is built and computed: the workers check each session and, from
the same read, compute its synchrony, which the cube's tasks fetch. The other arm
switches the fetch off on the workers, so the tasks read every session again (what
the lazy cube did before). The arms alternate, ``--repeat`` times each, on one
cluster; the script prints each run's time and the reads counted on the workers,
then the ratio of the medians.

Run: python benchmarks/bench_lazy_cube.py [--sessions 200] [--repeat 3]
"""

import argparse
import concurrent.futures
import statistics
import tempfile
import time
import warnings

import mne
import xarray as xr
from bench_scale_memory import _read_study, _write_study

import mne_dyad as md


def _switch_fetch(on):
    """On a worker: let the lazy cube's tasks fetch the checks' results, or not."""
    from mne_dyad.utils import _dask

    if not hasattr(_dask._Held, "_fetch_on"):
        _dask._Held._fetch_on = _dask._Held.fetch
    _dask._Held.fetch = _dask._Held._fetch_on if on else (lambda self: None)


def _count_reads(reset=False):
    """On a worker: the sessions read since the last reset (counting starts on first call)."""
    study = md.io._study.Study
    if not hasattr(study, "_uncounted"):
        study._uncounted = study.load_session
        study._reads = 0

        def counted(self, key):
            study._reads += 1
            return study._uncounted(self, key)

        study.load_session = counted
    reads = study._reads
    if reset:
        study._reads = 0
    return reads


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from distributed import Client, LocalCluster

    mne.set_log_level("ERROR")
    warnings.filterwarnings("ignore", message="Sending large graph")
    times = {"one read": [], "two reads": []}
    with tempfile.TemporaryDirectory() as folder:
        with concurrent.futures.ProcessPoolExecutor(1) as child:
            child.submit(_write_study, folder, args.sessions).result()
        with (
            LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster,
            Client(cluster) as client,
        ):
            client.run(mne.set_log_level, "ERROR")
            client.run(_count_reads, True)
            cubes = {}
            for _ in range(args.repeat):
                for arm in times:
                    client.run(_switch_fetch, arm == "one read")
                    t0 = time.perf_counter()
                    cube = md.synchrony_cube(_read_study(folder), chunks={"dyad": 8})
                    built = time.perf_counter() - t0
                    cubes[arm] = cube.compute()
                    times[arm].append(time.perf_counter() - t0)
                    reads = sum(client.run(_count_reads, True).values())
                    print(
                        f"{arm:9s}  {times[arm][-1]:6.1f} s (built in {built:5.1f} s, computed "
                        f"in {times[arm][-1] - built:5.1f} s; {reads} sessions read on the "
                        f"workers for {args.sessions} sessions)",
                        flush=True,
                    )
                    del cube
            xr.testing.assert_identical(cubes["one read"], cubes["two reads"])
    one, two = (statistics.median(times[arm]) for arm in ("one read", "two reads"))
    print(
        f"lazy cube of {args.sessions} sessions on 2 workers, built and computed: median "
        f"{one:.1f} s with one read per session, {two:.1f} s with two (ratio {two / one:.2f}); "
        "the same cube: True"
    )


if __name__ == "__main__":
    main()
