"""Memory per worker as a study grows: 1,000 against 5,000 sessions (issue 15, point 5).

Synthetic studies of 50-minute sessions at 8 Hz (``simulate_study``: 5 sessions per
dyad, all usable) go through the synchrony cube and the chance step's pseudo-dyad
surrogates (``compare_with_surrogates``, ``--n-surrogates`` per session segment) on
a fresh ``LocalCluster`` of two single-threaded workers for each size, with the
segments in a store on the local disk (``store_dir``), so that the tasks carry keys
and seeds. The script prints, per size, the time of each step, the peak resident
memory of each worker (the largest of its monitor's resident-memory samples, taken
every 0.5 s) and of the calling process (``ru_maxrss``), and the ratio of the
workers' peaks between the two sizes (flat memory: a ratio near 1 while the study
grows 5 times).

``--no-store`` sends each task its segments instead (the default without
``store_dir``), for comparison.

``--from-files`` writes each study to disk first (one FIF file per person and
session, a coding sheet and a manifest, by a child process) and passes the study
read from its manifest (:func:`mne_dyad.io.read_study`): the workers then read the
sessions, and the calling process holds none of them.

Run: python benchmarks/bench_scale_memory.py [--sizes 1000,5000] [--n-surrogates 200]
[--no-store] [--from-files]
"""

import argparse
import concurrent.futures
import resource
import tempfile
import time
import warnings

import joblib
import mne

import mne_dyad as md


def _peak_mb():
    """The calling process's peak resident memory, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _worker_peak_mb(dask_worker):
    """A worker's peak resident memory in MB, from its monitor's samples (every 0.5 s).

    Not ``ru_maxrss``: a worker process starts with its parent's, which holds the study.
    """
    return max(dask_worker.monitor.quantities["memory"]) / 2**20


_DESIGN = dict(n_sessions=5, duration=3000.0, verbose=False)
#: sessions simulated at a time when a study is written to disk
_CHUNK = 250


def _write_study(folder, n_sessions):
    """Write a study of ``n_sessions`` to ``folder`` (FIF per person, CSV coding, manifest)."""
    import pandas as pd

    mne.set_log_level("ERROR")
    rows = []
    for c, start in enumerate(range(0, n_sessions, _CHUNK)):
        n = min(_CHUNK, n_sessions - start)
        part = md.simulation.simulate_study(n_dyads=n // 5, n_usable=n, seed=1 + c, **_DESIGN)
        for (dyad, session), raw in part.raws.items():
            stem = f"{folder}/{dyad}x{c}_{session}"
            for role in ("client", "therapist"):
                raw.copy().pick([role]).save(f"{stem}_{role}_raw.fif")
            ann = raw.annotations
            onsets = ann.onset - raw.first_time
            table = {"segment": ann.description, "onset": onsets, "duration": ann.duration}
            pd.DataFrame(table).to_csv(f"{stem}_coding.csv", index=False)
            files = {f"{r}_file": f"{stem}_{r}_raw.fif" for r in ("client", "therapist")}
            rows.append(
                {"dyad": f"{dyad}x{c}", "session": session, "coding_file": f"{stem}_coding.csv"}
                | files
            )
    pd.DataFrame(rows).to_csv(f"{folder}/manifest.csv", index=False)


def _read_study(folder):
    channels = {role: {"channel": role} for role in ("client", "therapist")}
    return md.io.read_study(f"{folder}/manifest.csv", options={"readers": {"mne": channels}})


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,5000")
    parser.add_argument("--n-surrogates", type=int, default=200)
    parser.add_argument(
        "--no-store", action="store_true", help="send each task its segments (no store_dir)"
    )
    parser.add_argument(
        "--from-files", action="store_true", help="write the study to disk, workers read it"
    )
    args = parser.parse_args()
    from distributed import Client, LocalCluster

    mne.set_log_level("ERROR")
    warnings.filterwarnings("ignore", message="Sending large graph")
    peaks = {}
    for n_sessions in (int(v) for v in args.sizes.split(",")):
        files = tempfile.TemporaryDirectory() if args.from_files else None
        if files is not None:
            # by a child process: the caller's peak memory is then the analysis's
            with concurrent.futures.ProcessPoolExecutor(1) as child:
                child.submit(_write_study, files.name, n_sessions).result()
            study = _read_study(files.name)
            sessions = study
        else:
            study = md.simulation.simulate_study(
                n_dyads=n_sessions // 5, n_usable=n_sessions, seed=1, **_DESIGN
            )
            sessions = study.raws
        with (
            LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster,
            Client(cluster) as client,
            joblib.parallel_config(backend="dask"),
            tempfile.TemporaryDirectory() as store,
        ):
            t0 = time.perf_counter()
            md.synchrony_cube(sessions, n_jobs=None)
            t_cube = time.perf_counter() - t0
            t0 = time.perf_counter()
            md.surrogates.compare_with_surrogates(
                sessions,
                kind="pseudo_dyads",
                n_surrogates=args.n_surrogates,
                seed=1,
                n_jobs=None,
                store_dir=None if args.no_store else store,
                verbose="error",
            )
            t_chance = time.perf_counter() - t0
            workers = sorted(client.run(_worker_peak_mb).values())
        if files is not None:
            files.cleanup()
        peaks[n_sessions] = max(workers)
        print(
            f"{n_sessions:5d} sessions: cube {t_cube:6.1f} s, {args.n_surrogates} pseudo-dyads "
            f"per segment {t_chance:7.1f} s; peak memory per worker "
            f"{', '.join(f'{w:.0f}' for w in workers)} MB; calling process {_peak_mb():.0f} MB",
            flush=True,
        )
    small, large = min(peaks), max(peaks)
    print(
        f"workers' peak memory, {large} against {small} sessions: "
        f"{peaks[large] / peaks[small]:.2f} (the study grew {large / small:.0f} times)"
    )


if __name__ == "__main__":
    main()
