"""A lazy cube on a cluster: one read per session against two (issue 15, point 4).

A study of 50-minute sessions at 8 Hz is written to disk (one FIF file per person and
session, as ``bench_scale_memory.py --from-files``) and read from its manifest. Under
a ``LocalCluster`` of two single-threaded workers, ``synchrony_cube(study,
chunks={"dyad": 8})`` is built and computed, in alternating arms, ``--repeat`` times
each, on one cluster:

- ``one read``: as the package does it: the workers check each session and, from
  the same read, compute its synchrony, which the cube's tasks fetch;
- ``check only``: the protocol before: the workers' check only reads the session
  (patched on the workers), and the cube's tasks read it again and compute it;
- ``as found``: nothing patched (to run this script against another version of
  the package, for example the one before blocks and fetching, on PYTHONPATH).

The script prints each run's time (build and compute apart) and the reads counted
on the workers, then the medians and their ratio.

Run: python benchmarks/bench_lazy_cube.py [--sessions 400] [--repeat 2]
[--arms "one read,check only"]
"""

import argparse
import concurrent.futures
import statistics
import tempfile
import time
import warnings

import mne
from bench_scale_memory import _read_study, _write_study

import mne_dyad as md


def _arm(name):
    """On a worker: make the lazy cube's tasks work as the arm says."""
    from mne_dyad.synchrony import _api
    from mne_dyad.utils import _dask

    held = getattr(_dask, "_Held", None)
    if held is None:  # a version without fetching: nothing to switch
        return
    for owner, attr in ((held, "fetch"), (_api, "_checked_synchrony")):
        if not hasattr(owner, f"_{attr}_as_found"):
            setattr(owner, f"_{attr}_as_found", getattr(owner, attr))
        setattr(owner, attr, getattr(owner, f"_{attr}_as_found"))
    if name == "check only":
        held.fetch = lambda self: None

        def check_only(source, roles, kwargs):
            with _api._READING:
                raw, news = _api._made(source)
                return {"checks": _api._checks_of(raw, roles), "news": news, "synchrony": None}

        _api._checked_synchrony = check_only


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
    parser.add_argument("--sessions", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--arms", default="one read,check only")
    args = parser.parse_args()
    from distributed import Client, LocalCluster

    mne.set_log_level("ERROR")
    warnings.filterwarnings("ignore", message="Sending large graph")
    times = {arm.strip(): [] for arm in args.arms.split(",")}
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
                    client.run(_arm, arm)
                    t0 = time.perf_counter()
                    cube = md.synchrony_cube(_read_study(folder), chunks={"dyad": 8})
                    built = time.perf_counter() - t0
                    cubes[arm] = cube.compute()
                    times[arm].append(time.perf_counter() - t0)
                    reads = sum(client.run(_count_reads, True).values())
                    print(
                        f"{arm:10s} {times[arm][-1]:6.1f} s (built in {built:5.1f} s, computed "
                        f"in {times[arm][-1] - built:5.1f} s; {reads} sessions read on the "
                        f"workers for {args.sessions} sessions)",
                        flush=True,
                    )
                    del cube
            first = next(iter(cubes.values()))
            same = all(first.identical(cube) for cube in cubes.values())
    medians = {arm: statistics.median(t) for arm, t in times.items()}
    print(
        f"lazy cube of {args.sessions} sessions on 2 workers, built and computed, median: "
        + ", ".join(f"{arm} {t:.1f} s" for arm, t in medians.items())
    )
    if len(medians) == 2:
        (a, ta), (b, tb) = medians.items()
        print(f"ratio {b} / {a}: {tb / ta:.2f}; the same cube in every arm: {same}")


if __name__ == "__main__":
    main()
