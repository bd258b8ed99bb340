"""Shared parameter documentation (docdict) and the ``fill_doc`` decorator."""

import textwrap

docdict: dict[str, str] = {}

docdict["verbose"] = """
verbose : bool | str | int | None
    Control verbosity of the logging output. If ``None``, use the default
    verbosity level (see :func:`mne.verbose` and :func:`mne.set_log_level`)."""

docdict["roles"] = """
roles : tuple of str
    The two role names, in order. They become the channel names of the session
    Raw and define the sign of lags: a positive lag means the **second** role
    follows the first. Default ``("client", "therapist")``."""

docdict["sessions"] = """
sessions : Study | SimulatedStudy | dict
    The sessions: a study from :func:`mne_dyad.io.read_study` or
    :func:`mne_dyad.simulation.simulate_study`, or a ``{(dyad, session): raw}``
    mapping of session Raws."""

docdict["session_roles"] = """
roles : None | tuple of str
    The two role channels; by default those stored by ``combine_dyad``."""

docdict["segments"] = """
segments : str | sequence of str
    Annotation descriptions to compute synchrony in (for example ``("IM", "CB")``).
    Several annotations with the same label in one session are each computed and
    then pooled by their number of windows. Samples inside ``BAD_*`` annotations
    are treated as missing."""

docdict["chance_options"] = (
    """
method : str
    Synchrony index (see :func:`mne_dyad.synchrony.compute_synchrony`).
summary : None | str | list of str
    The method's output to test; default ``all_lags`` (wclc), ``peak_r``,
    ``Z`` (susy), ``ssi`` (concordance) or ``plv`` (phase). A list computes
    several summaries from the same surrogates.
kind : str
    ``"pseudo_dyads"`` (the first role with another dyad's second role, same
    segment label, truncated to the shorter; default),
    ``"double_pseudo_dyads"`` (half the surrogates pair the first role with
    other dyads' second roles, half pair other dyads' first roles with the
    second role; each half is shifted by the other half's mean minus the
    label's grand mean, so the surrogate mean removes what either partner's
    own signal contributes, such as its arousal), ``"circular_shift"``
    (the second role rolled by at least ``min_shift`` each way),
    ``"segment_shuffle"`` (its ``shuffle_segment``-second segments permuted)
    or ``"iaaft"`` (amplitude-adjusted phase randomisation). IAAFT tests
    against a stationary linear Gaussian process seen through a monotone
    rescaling: the time asymmetry (fast rise, slow recovery) and bursts of
    skin conductance responses violate that null, so with EDA it finds
    "synchrony" even in uncoupled dyads; prefer pseudo-dyads or circular
    shifts to test coupling.
n_surrogates : int
    Surrogates per session and segment."""
    + docdict["segments"]
    + docdict["session_roles"]
    + """
signal : str
    Which EDA to use (see :func:`mne_dyad.synchrony.compute_synchrony`); the
    surrogates are drawn from the same signal.
min_shift, shuffle_segment : None | float
    Seconds; defaults: twice the maximum lag (or the window) and the window
    (or SUSY segment)."""
)

docdict["wclc_params"] = """
lag : float
    Maximum lag in seconds; lags run from ``-lag`` to ``+lag`` in one-sample steps.
window : float
    Window length in seconds.
step : float
    Step between consecutive window starts, in seconds.
fisher_z : bool
    If True (default), transform correlations with Fisher's z (``atanh``),
    clipped to ``[-10, 10]``.
absolute : bool
    If True (default), take absolute values after the transform."""

docdict["summary"] = """
summary : str
    The per-segment synchrony summary to use as predictor, one of the cube's
    variables (``"all_lags"`` by default; ``"lag0"``, ``"x_leads"``,
    ``"y_leads"``, ``"peak"``, ``"grand_mean"``)."""

docdict["seed"] = """
seed : None | int | numpy.random.Generator
    Seed for the random number generator; the same seed gives the same numbers."""

docdict["overwrite"] = """
overwrite : bool
    If True, overwrite an existing file. Default False."""

docdict["n_jobs"] = """
n_jobs : int | None
    Number of parallel jobs (``-1`` for all cores). Default 1. ``None`` hands the
    work to the active joblib backend: inside ``joblib.parallel_config(backend=
    "dask")`` with a ``dask.distributed.Client``, it runs on that cluster. Each
    session (and each surrogate cell) has its own seed, so the results do not
    depend on the number of jobs or workers. With more than one job, the
    sessions of a study read from a manifest (:func:`mne_dyad.io.read_study`)
    that this process has not read yet are read by the jobs themselves: only
    results travel back, with the warnings of reading, which are shown here."""

docdict["store_dir"] = """
store_dir : None | path-like
    A folder every worker can read (a local folder for local jobs or a
    ``LocalCluster``, a shared disk for a cluster of machines). When given, the
    session segments are written there once, in a temporary subfolder removed at
    the end, and each task reads the segments it needs, keeping at most a
    bounded number in memory: only keys and seeds travel to the workers, and a
    worker's memory does not grow with the study. None (default) sends each task
    its segments. The values are the same either way."""

docdict_indented: dict[int, dict[str, str]] = {}


def fill_doc(f):
    """Fill ``%(name)s`` placeholders in a docstring from :data:`docdict`.

    The entries are indented to match the indentation of the docstring.
    """
    doc = f.__doc__
    if not doc:
        return f
    lines = doc.splitlines()
    indent = 0
    for line in lines[1:]:
        if line.strip():
            indent = len(line) - len(line.lstrip())
            break
    try:
        mapping = docdict_indented[indent]
    except KeyError:
        mapping = docdict_indented[indent] = {
            key: textwrap.indent(value.strip("\n"), " " * indent).lstrip()
            for key, value in docdict.items()
        }
    try:
        f.__doc__ = doc % mapping
    except (TypeError, ValueError, KeyError) as exc:
        raise RuntimeError(f"Error documenting {f.__qualname__}: {exc!r}") from exc
    return f
