"""The on-disk model cache for nutpie (issue 15): same draws, reused by a new process."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

pm = pytest.importorskip("pymc")
nutpie = pytest.importorskip("nutpie")

from mne_dyad.stats import _nutpie_cache  # noqa: E402
from mne_dyad.stats._nutpie_cache import _compile_nutpie, _compile_pymc_model_cached  # noqa: E402


def _model(x, y, groups):
    """A small hierarchical regression with its data in pm.Data (as the package's)."""
    n_groups = int(groups.max()) + 1
    with pm.Model(coords={"group": np.arange(n_groups)}) as model:
        x_ = pm.Data("x", x)
        g_ = pm.Data("g", groups)
        y_ = pm.Data("y", y)
        sigma_g = pm.HalfNormal("sigma_g", 1.0)
        z = pm.Normal("z", 0.0, 1.0, dims="group")
        beta = pm.Normal("beta", 0.0, 1.0)
        sigma = pm.HalfNormal("sigma", 1.0)
        mu = beta * x_ + (z * sigma_g)[g_]
        pm.Normal("obs", mu, sigma, observed=y_, shape=x_.shape[0])
    return model


def _data(n, seed):
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(5), n // 5)
    x = rng.normal(size=groups.size)
    y = 0.7 * x + rng.normal(0.0, 0.5, 5)[groups] + rng.normal(0.0, 1.0, groups.size)
    return x, y, groups


def _draws(compiled, seed=3):
    tree = nutpie.sample(
        compiled, draws=200, tune=200, chains=2, cores=1, seed=seed, progress_bar=False
    )
    return tree["posterior"]["beta"].values


@pytest.mark.slow
def test_cached_compile_gives_nutpies_draws():
    """The cached callbacks are nutpie's: same draws, also after new data of a new size."""
    model = _model(*_data(40, 0))
    ours, theirs = _compile_pymc_model_cached(model), nutpie.compile_pymc_model(model)
    a, b = _draws(ours), _draws(theirs)
    assert np.array_equal(a, b)
    # a posterior, not the prior: near the least-squares slope with group intercepts
    x, y, groups = _data(40, 0)
    design = np.column_stack([x, groups[:, None] == np.arange(5)])
    slope = np.linalg.lstsq(design, y, rcond=None)[0][0]
    assert abs(a.mean() - slope) < 2 * a.std() and a.std() < 0.5
    x, y, groups = _data(60, 1)  # new data, a new number of observations
    new = {"x": x, "y": y, "g": groups}
    a, b = _draws(ours.with_data(**new)), _draws(theirs.with_data(**new))
    assert np.array_equal(a, b)
    assert a.shape == (2, 200)


def test_fallback_to_nutpie(monkeypatch):
    """Turned off, an unchecked nutpie, or a failure: nutpie's own compile, with a reason."""
    calls = []
    monkeypatch.setattr(nutpie, "compile_pymc_model", lambda model: calls.append(model) or "nutpie")

    def broken(model, key):
        raise AttributeError("module 'nutpie.compile_pymc' has no attribute '_make_functions'")

    monkeypatch.setattr(_nutpie_cache, "_compile_pymc_model_cached", broken)
    logged = []
    monkeypatch.setattr(_nutpie_cache.logger, "info", logged.append)
    assert _compile_nutpie("model") == "nutpie"
    assert "AttributeError" in logged[-1] and "_make_functions" in logged[-1]

    monkeypatch.setenv("MNE_DYAD_MODEL_CACHE", "false")
    assert _compile_nutpie("model") == "nutpie"
    assert "MNE_DYAD_MODEL_CACHE is false" in logged[-1]
    monkeypatch.delenv("MNE_DYAD_MODEL_CACHE")

    monkeypatch.setattr(nutpie, "__version__", "0.17.0")
    assert _compile_nutpie("model") == "nutpie"
    assert "nutpie 0.17.0 is not a version it was checked on" in logged[-1]
    assert calls == ["model"] * 3


def test_cache_switch(monkeypatch):
    """MNE_DYAD_MODEL_CACHE: on by default; the usual spellings of false turn it off."""
    monkeypatch.delenv("MNE_DYAD_MODEL_CACHE", raising=False)
    assert _nutpie_cache._enabled()
    for value in ("false", "0", "No", " off "):
        monkeypatch.setenv("MNE_DYAD_MODEL_CACHE", value)
        assert not _nutpie_cache._enabled()
    monkeypatch.setenv("MNE_DYAD_MODEL_CACHE", "true")
    assert _nutpie_cache._enabled()


_CHILD = """
import json, sys
import numpy as np
sys.path.insert(0, sys.argv[1])
from test_model_cache import _data, _draws, _model
import nutpie
import nutpie.compile_pymc as internals
from mne_dyad.stats._nutpie_cache import _compile_pymc_model_cached
made = []
original = internals._make_functions
internals._make_functions = lambda *a, **k: made.append(1) or original(*a, **k)
model = _model(*_data(40, int(sys.argv[2])))
compiled = _compile_pymc_model_cached(model, key=("test model", 40))
hits = [compiled.compiled_logp_func.cache_hits, compiled.compiled_expand_func.cache_hits]
ours = float(_draws(compiled).sum())
theirs = float(_draws(nutpie.compile_pymc_model(model)).sum())
print(json.dumps({"hits": hits, "made": len(made), "ours": ours, "theirs": theirs}))
"""


@pytest.mark.slow
def test_new_process_loads_the_callbacks(tmp_path):
    """A second process loads the model's functions and both callbacks from the cache
    folder, puts its own data in, and draws as nutpie does; no data are written."""
    env = {**os.environ, "PYTENSOR_FLAGS": f"base_compiledir={tmp_path}"}
    env.pop("MNE_DYAD_MODEL_CACHE", None)
    runs = []
    for seed in (0, 1):  # the second process has other data of the same structure
        out = subprocess.run(
            [sys.executable, "-c", _CHILD, os.path.dirname(__file__), str(seed)],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert out.returncode == 0, out.stderr[-2000:]
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    assert runs[0]["hits"] == [0, 0]  # an empty folder: compiled
    assert runs[1]["hits"] == [1, 1]  # loaded, not compiled
    # the rewritten functions were built once (nutpie's own compile in each process
    # builds its own: 2 calls in the first, 1 in the second)
    assert runs[0]["made"] == 2 and runs[1]["made"] == 1
    cached = list((tmp_path / "numba").rglob("*nutpie_logp_cached*"))
    assert cached, "no cache files of the logp callback"
    (kept,) = (tmp_path / "mne_dyad_models").glob("*.pkl")
    blob = kept.read_bytes()
    for seed in (0, 1):
        x, y, _ = _data(40, seed)
        assert not any(v.tobytes() in blob for v in (*x, *y))
    assert b"test_model_cache" not in blob  # no stack traces: the user's paths
    # loaded functions and callbacks, with the second process's data, draw as nutpie's
    # own compile does in the same process (a process that compiles PyTensor's graph
    # code and one that loads it can differ in the last bits, and so in the draws,
    # with or without this cache)
    assert runs[1]["ours"] == runs[1]["theirs"]
    assert runs[0]["ours"] != runs[1]["ours"]  # other data, other draws


def test_kept_functions_helpers(tmp_path, monkeypatch):
    """The lock wrapper pickles; a damaged file or a foreign shared variable is refused
    with a log line; the file's name changes with the key and with mne-dyad's code."""
    import pickle

    import pytensor

    wrapped = _nutpie_cache._Locked(len)
    again = pickle.loads(pickle.dumps(wrapped))
    assert again([1, 2, 3]) == 3 and again._lock is not wrapped._lock
    assert not hasattr(wrapped, "__dict__")

    logged = []
    monkeypatch.setattr(_nutpie_cache.logger, "info", logged.append)
    model = _model(*_data(40, 0))
    damaged = tmp_path / "damaged.pkl"
    damaged.write_bytes(b"not a pickle")
    assert _nutpie_cache._load_functions(damaged, model) is None
    assert "could not be used" in logged[-1] and "damaged.pkl" in logged[-1]
    assert _nutpie_cache._load_functions(tmp_path / "absent.pkl", model) is None

    other = pytensor.shared(np.zeros(3), name="outside")
    function = pytensor.function([], other * 2)
    with pytest.raises(RuntimeError, match="'outside' is not the model's data"):
        _nutpie_cache._data_variables([function], model)
    values = _nutpie_cache._model_values(model)
    assert set(values) == {"x", "g", "y", "group"}  # the data, and the dim's length
    assert values["group"] == 5

    a = _nutpie_cache._functions_path(("structure", 1))
    assert a == _nutpie_cache._functions_path(("structure", 1))
    assert a != _nutpie_cache._functions_path(("structure", 2))
    assert a.parent.name == "mne_dyad_models"
    monkeypatch.setattr(_nutpie_cache, "_source_digest", lambda: "edited code")
    assert a != _nutpie_cache._functions_path(("structure", 1))


@pytest.mark.slow
def test_kept_functions_are_bounded(tmp_path, monkeypatch):
    """At most _FUNCTIONS_MAX structures are kept; a loaded one counts as recent."""
    folder = tmp_path / "mne_dyad_models"
    monkeypatch.setattr(_nutpie_cache, "_functions_path", lambda key: folder / f"{key[1]}.pkl")
    monkeypatch.setattr(_nutpie_cache, "_FUNCTIONS_MAX", 2)
    model = _model(*_data(40, 0))
    paths = [_nutpie_cache._functions_path(("structure", k)) for k in range(3)]
    _nutpie_cache._make_model_functions(model, ("structure", 0))
    _nutpie_cache._make_model_functions(model, ("structure", 1))
    os.utime(paths[0], (1, 1))  # older than the second
    os.utime(paths[1], (2, 2))
    assert _nutpie_cache._make_model_functions(model, ("structure", 0))[1] == paths[0]
    _nutpie_cache._make_model_functions(model, ("structure", 2))
    assert sorted(folder.glob("*.pkl")) == [paths[0], paths[2]]
    stale = folder / "killed.tmp"
    stale.write_bytes(b"half")
    os.utime(stale, (1, 1))
    fresh = folder / "writing.tmp"
    fresh.write_bytes(b"half")
    _nutpie_cache._make_model_functions(model, ("structure", 1))
    assert not stale.exists() and fresh.exists()  # a killed writer's, a live one's


@pytest.mark.slow
def test_kept_functions_that_fail_are_removed(tmp_path, monkeypatch):
    """Kept functions whose callbacks fail to compile are removed (and not loaded
    again)."""
    folder = tmp_path / "mne_dyad_models"
    monkeypatch.setattr(_nutpie_cache, "_functions_path", lambda key: folder / "m.pkl")
    model = _model(*_data(40, 0))
    made, loaded = _nutpie_cache._make_model_functions(model, ("m",))
    assert loaded is None and (folder / "m.pkl").exists()

    def broken(model, made):
        raise RuntimeError("callbacks")

    monkeypatch.setattr(_nutpie_cache, "_callbacks_model", broken)
    with pytest.raises(RuntimeError, match="callbacks"):
        _nutpie_cache._compile_pymc_model_cached(model, ("m",))
    assert not (folder / "m.pkl").exists()


class _Stop(Exception):
    pass


@pytest.mark.parametrize(
    "options, persistent, target_accept, low_rank, keep",
    [
        ({"random_slopes": False}, True, None, True, True),
        ({}, True, 0.95, False, True),  # the default: random slopes
        # the latent dyad means are integrated out: data, not graph constants
        ({"random_slopes": False, "centering": "latent"}, True, None, True, True),
        (
            {"random_slopes": False, "measurement_error": True, "centering": "observed"},
            False,
            0.95,
            True,
            True,
        ),
        # latent centring takes the standard errors as data
        (
            {"random_slopes": False, "measurement_error": True, "centering": "latent"},
            True,
            None,
            True,
            True,
        ),
        # the standardised ceiling is a constant of the graph: functions not kept
        (
            {"random_slopes": False, "multivariate": False, "ceiling": {"bond": 9.0}},
            True,
            None,
            True,
            False,
        ),
        # so is the pattern of unrated scales
        ({"random_slopes": False, "unrated": True}, True, None, True, False),
    ],
)
def test_sampling_settings_of_alliance_models(
    monkeypatch, options, persistent, target_accept, low_rank, keep
):
    """Synchrony with standard errors (observed centring) is baked into the graph: not
    kept on disk; nor are the functions of models whose graph holds ratings' values.

    Random slopes and latent true synchrony sample at target_accept 0.95; models
    without random slopes may take the low-rank mass matrix (small ones do).
    """
    import mne_dyad as md
    from mne_dyad.stats import _alliance_graph

    seen = {}

    def fake_sample(model, **kwargs):
        seen.update(kwargs)
        raise _Stop

    monkeypatch.setattr(_alliance_graph, "_sample", fake_sample)
    cube, alliance = md.simulation.simulate_model_data(n_dyads=6, n_sessions=4, seed=0)
    options = dict(options)
    if options.get("measurement_error"):
        cube["all_lags_se"] = cube.all_lags * 0 + 0.05
    if options.pop("unrated", False):
        alliance["task"][0, 1] = np.nan  # one session lacks one scale
    with pytest.raises(_Stop):
        md.stats.fit_alliance_model(cube, alliance, verbose="error", **options)
    assert seen["persistent"] is persistent
    assert seen["target_accept"] == target_accept
    assert seen["low_rank"] is low_rank
    assert seen["keep_functions"] is keep


@pytest.mark.slow
def test_low_rank_only_for_small_models(monkeypatch):
    """low_rank=True asks nutpie for its low-rank adaptation up to _LOW_RANK_MAX_DIM."""
    from mne_dyad.stats import _sampling

    calls = []
    original = nutpie.sample

    def spy(compiled, **kwargs):
        calls.append(kwargs.get("adaptation"))
        return original(compiled, **kwargs)

    monkeypatch.setattr(nutpie, "sample", spy)
    model = _model(*_data(40, 0))  # 8 dimensions
    options = dict(draws=50, tune=50, chains=1, sampler="nutpie", seed=1)
    _sampling._sample(model, low_rank=True, **options)
    _sampling._sample(model, low_rank=False, **options)
    monkeypatch.setattr(_sampling, "_LOW_RANK_MAX_DIM", 7)
    _sampling._sample(model, low_rank=True, **options)
    assert calls == ["low_rank", None, None]


@pytest.mark.slow
def test_unknown_record_layout_is_refused(monkeypatch):
    """A nutpie whose user_data record is laid out otherwise: refused before sampling."""
    import nutpie.compile_pymc as internals

    def reordered(shared_var_keys, shared_data):  # same size, "size" before "data"
        keys = list(shared_var_keys.values())
        dtype = np.dtype(
            [
                (
                    "shared",
                    [
                        ("size", [(k, np.uintp) for k in keys]),
                        ("data", [(k, np.uintp) for k in keys]),
                        ("shape", [(k, np.uint, (shared_data[k].ndim,)) for k in keys]),
                    ],
                )
            ]
        )
        return np.zeros((), dtype=dtype)

    monkeypatch.setattr(internals, "make_user_data", reordered)
    with pytest.raises(RuntimeError, match="unknown layout"):
        _compile_pymc_model_cached(_model(*_data(40, 0)))


def test_cache_keys_hold_the_models_variables():
    """Models a caller's key cannot tell apart but whose variables differ get other keys."""
    from mne_dyad.stats._sampling import _model_signature, _structure_key

    x, y, groups = _data(40, 0)
    plain = _model(x, y, groups)
    extra = _model(x, y, groups)
    with extra:
        pm.Deterministic("beta_squared", extra["beta"] ** 2)
    assert _structure_key(plain, "m") == _structure_key(extra, "m")
    assert _model_signature(plain) != _model_signature(extra)
    assert _model_signature(plain) == _model_signature(_model(*_data(40, 1)))
    signature = dict((name, (op, dims)) for name, op, dims in _model_signature(plain))
    assert signature["z"] == ("NormalRV", ("group",))
    assert signature["x"][1] == ()


@pytest.mark.slow
def test_variance_with_and_without_sampling_error_in_one_process():
    """The second decomposition of the same-shaped data with sampling error gets its
    own compiled model (it reused the first's and lost error_share before)."""
    import mne_dyad as md

    cube, _ = md.simulation.simulate_model_data(n_dyads=8, n_sessions=4, seed=0)
    cube["all_lags_se"] = cube.all_lags * 0 + 0.3
    options = dict(variable="all_lags", draws=200, tune=200, seed=1, verbose="error")
    plain = md.stats.variance_decomposition(cube, measurement_error=False, **options)
    corrected = md.stats.variance_decomposition(cube, measurement_error=True, **options)
    assert list(plain["summary"].component.values) == ["icc_dyad", "session_share"]
    components = list(corrected["summary"].component.values)
    assert "error_share" in components and "session_share_observed" in components
    share = corrected["summary"]["mean"].sel(component="error_share").values
    # SE 0.3 on values of SD about 1: about 8% of the observed variance
    assert np.all((share > 0.03) & (share < 0.2))
