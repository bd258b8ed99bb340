"""Running the heavy steps on a dask.distributed cluster (a run's ``[dask]`` table)."""

import contextlib
import sys
import time
import warnings

from mne.utils import logger

from ._imports import _soft_import


def _dask_options(*, scheduler=None):
    """Where a run's parallel steps run (the ``[dask]`` table of a configuration).

    Parameters
    ----------
    scheduler : None | str
        The address of a dask.distributed scheduler (``"tcp://host:8786"``): the
        synchrony cube and the chance step's surrogates (one task per group of
        session segments, each with its own seed) run on its workers, and their
        results are those of a local run with the same seed. ``None`` (default):
        a ``dask.distributed.Client`` active in the calling Python session is
        used if there is one, otherwise the steps' own ``n_jobs``.

    Returns
    -------
    options : dict
        The options.
    """
    return {"scheduler": scheduler}


def _n_jobs(n_jobs):
    """``n_jobs`` for ``mne.parallel.parallel_func``: None becomes -1 under dask's backend.

    MNE takes ``n_jobs=None`` as 1 unless the joblib context sets a number, and
    ``joblib.parallel_config(backend="dask")`` sets none: without this, the work
    would run in the calling process, one task at a time.
    """
    if n_jobs is not None or "joblib" not in sys.modules:
        return n_jobs
    from joblib.parallel import get_active_backend

    backend, _ = get_active_backend()
    return -1 if type(backend).__name__ == "DaskDistributedBackend" else n_jobs


def _leaves_process(run, func):
    """Whether ``mne.parallel.parallel_func``'s tasks run in other processes.

    ``run`` is what it returned for ``func``: ``func`` itself runs here, one task at
    a time, and joblib's threading backend runs the tasks in this process's threads
    (where Python's warning filters, shared by all threads, cannot keep each task's
    warnings apart); anything else (loky's processes, a dask cluster) is elsewhere.
    """
    if run is func:
        return False
    from joblib.parallel import get_active_backend

    backend, _ = get_active_backend()
    return not getattr(backend, "uses_threads", False)


def _active_client():
    """Return the active dask.distributed Client, or None (never imports distributed)."""
    if "distributed" not in sys.modules:  # no Client can exist without it
        return None
    from distributed import default_client

    try:
        return default_client()
    except ValueError:  # "No clients found"
        return None


def _on_worker():
    """Whether this code runs in a task of a dask.distributed worker."""
    if "distributed" not in sys.modules:  # no worker can exist without it
        return False
    from distributed import get_worker

    try:
        get_worker()
    except ValueError:  # "No worker found"
        return False
    return True


class _Held:
    """A task's result kept on a dask.distributed cluster, for a later task to fetch.

    Holds the Future in the calling process (so the cluster keeps the result while
    this object lives) but is opaque to dask, so a graph that carries it does not
    depend on it: computed without that Client, the graph still runs and the task
    makes its result again. Pickles as the Future's key.
    """

    __slots__ = ("_future", "key")

    def __init__(self, future):
        self._future = future
        self.key = future.key

    def __getstate__(self):
        return {"key": self.key}

    def __setstate__(self, state):
        self._future, self.key = None, state["key"]

    def fetch(self):
        """Return the result on a worker of the cluster that still holds it, else None."""
        if not _on_worker():
            return None
        from distributed import Future, get_worker, worker_client

        try:
            store = get_worker().data
            if self.key in store:  # held by this worker
                return store[self.key]
            if time.monotonic() < _FETCHING["until"]:  # a fetch timed out a moment ago
                return None
            with worker_client() as client:  # secedes while it waits
                if not client.who_has([Future(self.key, client=client)]).get(self.key):
                    return None  # released (the cube is gone, or its Client closed)
                # a finished result held elsewhere: gathered from the worker holding it
                held = Future(self.key, client=client, state="memory")
                return held.result(timeout=_FETCH_TIMEOUT)
        except Exception as exc:  # released meanwhile, a lost worker, a timeout
            if isinstance(exc, TimeoutError):  # do not wait again for a while
                _FETCHING["until"] = time.monotonic() + _FETCH_PAUSE
            logger.info(f"Could not fetch {self.key} ({type(exc).__name__}: {exc}); made again")
            return None


#: seconds a task waits for a result held on another worker before making it again
_FETCH_TIMEOUT = 30
#: seconds after a fetch timed out during which this process's tasks make their results
_FETCH_PAUSE = 300
_FETCHING = {"until": 0.0}


@contextlib.contextmanager
def _dask_context(scheduler, timeout="20s"):
    """Send joblib's work (``n_jobs=None``) to a dask cluster while inside; yield the Client.

    ``scheduler`` is an address (a Client is connected for the block and closed
    after it, waiting up to ``timeout`` to connect) or None (the active Client, if
    any). Yields None when no cluster is used; the caller then keeps its own ``n_jobs``.
    """
    client, own = _active_client(), False
    if scheduler is not None:
        distributed = _soft_import("distributed", "[dask] scheduler")
        try:
            client = distributed.Client(scheduler.strip(), timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError, TypeError, ValueError) as exc:
            raise RuntimeError(
                f"Could not connect to the dask scheduler at {scheduler!r} "
                f"({type(exc).__name__}: {exc}). Start it (dask scheduler) and its workers, "
                "or fix [dask] scheduler in the configuration (or remove it to run on this "
                "machine)."
            ) from None
        own = True
    if client is None:
        yield None
        return
    try:
        joblib = _soft_import("joblib", "[dask] scheduler")
        n_workers = len(client.scheduler_info().get("workers", {}))
        logger.info(
            f"Parallel steps run on the dask cluster at {client.scheduler.address} "
            f"({n_workers} workers)."
        )
        with (
            client.as_current(),
            joblib.parallel_config(backend="dask", n_jobs=-1),
            warnings.catch_warnings(),
        ):
            # the session segments travel with their tasks (read on the workers: not yet)
            warnings.filterwarnings("ignore", message="Sending large graph")
            yield client
    finally:
        if own:
            client.close()
