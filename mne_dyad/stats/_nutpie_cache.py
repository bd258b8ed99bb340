"""nutpie models whose machine code survives the process (numba's on-disk cache).

``nutpie.compile_pymc_model`` compiles the model's log-density with numba, then
wraps it in two C callbacks (log-density with gradient, and the expansion to the
stored variables) that numba cannot cache: the pytensor function sits in a
closure cell, which numba lowers as a "dynamic global", and the fields of the
data record get random names. So every new process spends 8-15 s linking code
it compiled before.

:func:`_compile_pymc_model_cached` builds the same two callbacks from generated
source instead, with the pytensor function as a global and deterministic field
names, and registers them with PyTensor's numba cache locator under a key made
of PyTensor's own key for the graph, the callbacks' source and the versions of
numba, PyTensor and nutpie. ``numba.cfunc(..., cache=True)`` then keeps the
linked code in PyTensor's compile directory
(``<pytensor.config.base_compiledir>/numba``, about 3 MB per model structure),
and a later process loads it in about 2 s. The sampler, the callbacks' behaviour
and the draws are those of nutpie's own path (the tests compare them draw for
draw).

The key of that code is PyTensor's key of the *rewritten* graph, so a later
process still builds the model's functions and rewrites their graphs (5 s of a
16 s fit of 0.2's default alliance model) before it can look the code up. When the
caller names the model's structure (``_compile_nutpie(model, key=...)``, the key
of the in-process cache), the rewritten functions themselves are kept too
(:func:`_save_functions`: cloudpickle, with the model's data replaced by zeros and
without the graphs' stack traces, so no study's values or paths are written; models
whose graphs hold values of the data as constants pass no key), under a name made
of that key, the versions of the libraries and a digest of mne-dyad's own source (a
changed model builder never finds an old graph). A later process loads them, puts
its own data into their shared variables and goes straight to the callbacks.

It reads nutpie's internals (``nutpie.compile_pymc``), which are not public: it
is used for the nutpie versions it was checked on (:data:`_CHECKED_NUTPIE`), and
any failure falls back to ``nutpie.compile_pymc_model`` with a log line. The
configuration key (or environment variable) ``MNE_DYAD_MODEL_CACHE=false`` turns
it off.
"""

import hashlib
import os
import pickle
import platform
import re
import tempfile
import threading
import time
from functools import lru_cache
from pathlib import Path

import numpy as np
from mne.utils import get_config, logger

from ..utils._imports import _soft_import

#: Bumped when the generated source or the key changes (old entries are then unused).
_VERSION = "1"
#: Folder of the kept model functions, in PyTensor's ``base_compiledir``.
_FUNCTIONS_DIR = "mne_dyad_models"
#: Most model structures kept there (3-4 MB each); the least recently used go first.
_FUNCTIONS_MAX = 16
#: nutpie (major, minor) versions whose ``compile_pymc`` internals this module matches.
_CHECKED_NUTPIE = ((0, 16),)

_LOGP_SRC = """
def nutpie_logp_cached(dim, x_, out_, logp_, user_data_):
    if dim != {n_dim}:
        return -1
    try:
        ud = carray(user_data_, ({n_words},), np.uint64)
{unpack}
        x = carray(x_, ({n_dim},))
        out = carray(out_, ({n_dim},))
        logp = carray(logp_, ())
        logp_val, grad = inner({args})
        logp[()] = logp_val
        out[...] = grad
        if not np.all(np.isfinite(out)):
            return 3
        if not np.isfinite(logp_val):
            return 4
    except Exception:
        return 1
    return 0
"""

_EXPAND_SRC = """
def nutpie_expand_cached(dim, expanded, x_, out_, user_data_):
    if dim != {n_dim}:
        return -1
    if expanded != {n_expanded}:
        return -1
    try:
        ud = carray(user_data_, ({n_words},), np.uint64)
{unpack}
        x = carray(x_, ({n_dim},))
        out = carray(out_, ({n_expanded},))
        (values,) = inner({args})
        out[...] = values
    except Exception:
        return -2
    return 0
"""


def _enabled():
    """Whether the on-disk cache is on (``MNE_DYAD_MODEL_CACHE``, default true)."""
    value = str(get_config("MNE_DYAD_MODEL_CACHE", "true")).strip().lower()
    return value not in ("0", "false", "no", "off")


def _version(module):
    return tuple(int(part) for part in re.findall(r"\d+", module.__version__)[:2])


def _layout(all_keys, shared_data):
    """Word positions of nutpie's packed ``user_data`` record (``make_user_data``).

    The record holds, as uint64 words, the data pointers of all ``K`` arrays, then
    their sizes, then every array's shape, in ``all_keys`` order. Returns
    ``{(part, key): (word, shape)}`` with ``part`` one of ``"data"``, ``"size"``,
    ``"shape"`` (``shape`` is the field's numpy shape: ``()`` or ``(ndim,)``) and
    the record's length in words.
    """
    layout, word = {}, 0
    for part in ("data", "size"):
        for k in all_keys:
            layout[(part, k)] = (word, ())
            word += 1
    for k in all_keys:
        ndim = shared_data[k].ndim
        layout[("shape", k)] = (word, (ndim,))
        word += ndim
    return layout, word


def _unpack_source(keys, shared_data, all_keys):
    """Source lines that view each shared array inside nutpie's packed ``user_data``.

    Returns the lines, the local names, the dtype globals and the record's length
    in words (:func:`_layout`).
    """
    layout, n_words = _layout(all_keys, shared_data)
    lines, names, dtypes = [], [], {}
    for j, k in enumerate(keys):
        arr = shared_data[k]
        dtypes[f"dt_{j}"] = arr.dtype.type
        shape_word = layout[("shape", k)][0]
        dims = [f"np.intp(ud[{shape_word + d}])" for d in range(arr.ndim)]
        shape = f"({dims[0]},)" if arr.ndim == 1 else f"({', '.join(dims)})"
        lines.append(
            f"        s{j} = carray(address_as_void_pointer(ud[{layout[('data', k)][0]}]), "
            f"(np.intp(ud[{layout[('size', k)][0]}]),), dt_{j}).reshape({shape})"
        )
        names.append(f"s{j}")
    return "\n".join(lines), names, dtypes, n_words


def _check_layout(dtype, all_keys, shared_data):
    """Raise unless nutpie's ``user_data`` record is laid out as :func:`_layout` says.

    The generated callbacks read the record by 8-byte word (:func:`_layout`). Any
    other layout (a nutpie release that reorders, renames or resizes the fields)
    raises, and :func:`_compile_nutpie` falls back to nutpie's own path.
    """
    expected, n_words = _layout(all_keys, shared_data)
    try:
        shared = dtype["shared"]
        parts = shared.names
        found = {}
        for part in parts:
            sub = shared.fields[part]
            for k in sub[0].names:
                field_dtype, offset = sub[0].fields[k][:2]
                base = field_dtype.base if field_dtype.subdtype else field_dtype
                if base.kind != "u" or base.itemsize != 8:
                    raise RuntimeError(f"field {part}.{k} is {field_dtype}")
                shape = field_dtype.shape
                found[(part, k)] = ((dtype.fields["shared"][1] + sub[1] + offset) // 8, shape)
    except (KeyError, TypeError) as exc:
        raise RuntimeError(f"nutpie's user_data record has an unknown layout ({exc})") from None
    if parts != ("data", "size", "shape") or found != expected or dtype.itemsize != 8 * n_words:
        raise RuntimeError("nutpie's user_data record has an unknown layout")


def _callback(kind, function, n_dim, n_expanded, keys, shared_data, all_keys):
    """Compile one C callback around a pytensor numba function, cacheable if it is."""
    numba = _soft_import("numba", "The model cache")
    pytensor = _soft_import("pytensor", "The model cache")
    nutpie = _soft_import("nutpie", "The model cache")
    from nutpie.compile_pymc import address_as_void_pointer
    from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS, compile_numba_function_src

    unpack, names, dtypes, n_words = _unpack_source(keys, shared_data, all_keys)
    template = _LOGP_SRC if kind == "logp" else _EXPAND_SRC
    src = template.format(
        n_dim=n_dim,
        n_expanded=n_expanded,
        n_words=max(n_words, 1),
        unpack=unpack,
        args=", ".join(["x", *names]),
    )
    inner_key = CACHED_SRC_FUNCTIONS.get(function.py_func)
    key = None
    if inner_key is not None:  # PyTensor caches the graph's function: cache ours with it
        parts = (
            _VERSION,
            kind,
            inner_key,
            numba.__version__,
            pytensor.__version__,
            nutpie.__version__,
            str([(str(shared_data[k].dtype), shared_data[k].ndim) for k in keys]),
            src,
        )
        key = hashlib.sha256("|".join(parts).encode()).hexdigest()
    double_p = numba.types.CPointer(numba.types.double)
    u64 = numba.types.uint64
    if kind == "logp":
        signature = numba.types.int64(u64, double_p, double_p, double_p, numba.types.voidptr)
    else:
        signature = numba.types.int64(u64, u64, double_p, double_p, numba.types.voidptr)
    python_function = compile_numba_function_src(
        src,
        f"nutpie_{kind}_cached",
        global_env={
            "__name__": __name__,
            "np": np,
            "carray": numba.carray,
            "inner": function,
            "address_as_void_pointer": address_as_void_pointer,
            **dtypes,
        },
        cache_key=key,
    )
    return numba.cfunc(signature, cache=key is not None)(python_function)


class _Locked:
    """Call ``func`` one thread at a time.

    nutpie's chains ask for initial points in parallel; unlike nutpie's closure
    around a lock, this can be pickled. Slots, not a ``__dict__``: nutpie's
    ``functools.wraps`` would copy the lock into its wrapper's.
    """

    __slots__ = ("func", "_lock")

    def __init__(self, func):
        self.func = func
        self._lock = threading.Lock()

    def __call__(self, *args, **kwargs):
        with self._lock:
            return self.func(*args, **kwargs)

    def __getstate__(self):
        return {"func": self.func}

    def __setstate__(self, state):
        self.__init__(state["func"])


@lru_cache(maxsize=1)
def _source_digest():
    """Digest mne-dyad's own source files: the code that builds the models."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _functions_path(key):
    """Where the rewritten functions of the model structure ``key`` are kept.

    ``key`` is the caller's description of the structure (``repr`` is stable across
    processes: strings, numbers, tuples). The name also holds the versions of every
    library whose code the pickled functions carry, and :func:`_source_digest`.
    """
    import cloudpickle
    import numba
    import pymc
    import pytensor

    nutpie = _soft_import("nutpie", "The model cache")
    parts = (
        _VERSION,
        repr(key),
        platform.python_version(),
        np.__version__,
        numba.__version__,
        pytensor.__version__,
        pymc.__version__,
        nutpie.__version__,
        cloudpickle.__version__,
        _source_digest(),
    )
    name = hashlib.sha256("|".join(parts).encode()).hexdigest()
    return Path(pytensor.config.base_compiledir) / _FUNCTIONS_DIR / f"{name}.pkl"


def _model_values(model):
    """Collect ``model``'s shared values by name: its data and its dims' lengths."""
    from pytensor.compile.sharedvalue import SharedVariable

    values = {var.name: var.get_value() for var in model.data_vars}
    for dim, length in model.dim_lengths.items():
        if isinstance(length, SharedVariable):
            if dim in values:
                raise RuntimeError(f"the dim {dim!r} has the name of a data variable")
            values[dim] = length.get_value()
    return values


def _data_variables(functions, model):
    """Find the shared variables of ``functions`` that hold the model's data.

    Data are ``pm.Data`` and the lengths of the model's dims. The other shared
    variables must be random generators (the initial point's jitter); any other
    (a value the model holds elsewhere) raises, and the functions are not kept.
    """
    from pytensor.tensor.random.type import RandomType

    names = set(_model_values(model))
    found = {}
    for function in functions:
        for var in function.get_shared():
            if var.name in names:
                found.setdefault(id(var), var)
            elif not isinstance(var.type, RandomType):
                raise RuntimeError(f"shared variable {var.name!r} is not the model's data")
    return list(found.values())


def _tag(cls, state):
    """Rebuild a graph variable's tag (:func:`_dumps` leaves its stack trace out)."""
    tag = cls.__new__(cls)
    tag.__dict__.update(state)
    return tag


def _dumps(obj):
    """Pickle ``obj`` with cloudpickle, leaving the graphs' stack traces out.

    PyTensor tags each variable with the stack where it was made (``tag.trace``):
    the user's script paths and source lines, which a cache must not keep.
    """
    import io

    import cloudpickle
    from pytensor.graph.utils import Scratchpad

    class Pickler(cloudpickle.Pickler):
        def reducer_override(self, obj):
            if isinstance(obj, Scratchpad) and "trace" in obj.__dict__:
                state = {k: v for k, v in obj.__dict__.items() if k != "trace"}
                return _tag, (type(obj), state)
            return super().reducer_override(obj)

    buffer = io.BytesIO()
    Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(obj)
    return buffer.getvalue()


def _remove(path):
    """Delete a file, whether or not another process did first."""
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass


def _prune(folder):
    """Keep the ``_FUNCTIONS_MAX`` most recently used files; drop stale temporary ones."""
    kept = []
    for path in folder.glob("*"):
        try:
            used = path.stat().st_mtime
        except OSError:  # removed by another process meanwhile
            continue
        if path.suffix == ".pkl":
            kept.append((used, path))
        elif path.suffix == ".tmp" and used < time.time() - 3600:  # a killed writer's
            _remove(path)
    for _, path in sorted(kept, reverse=True)[_FUNCTIONS_MAX:]:
        _remove(path)  # every study of other labels is a structure


def _save_functions(path, made, model, initial_point):
    """Keep ``_make_functions``' result for later processes, without the data.

    ``initial_point`` is pymc's initial point function inside ``made``. The data
    variables hold zeros while the functions are pickled (and their values again
    after), and the graphs' stack traces (``tag.trace``: the user's script and
    lines) are left out (:func:`_dumps`): neither a study's values nor its paths are written. A
    model whose graph holds values of the data as constants must not come here
    (``_sample(keep_functions=False)``). Written to a temporary file, then
    renamed, so a reader never sees half a file. At most ``_FUNCTIONS_MAX`` files
    are kept: the structure's key holds the study's labels and sizes, so each study
    is one.
    """
    # pymc's initial point function wraps the PyTensor function it calls
    functions = (made[2], made[3], initial_point.__wrapped__)
    data = _data_variables(functions, model)
    values = [var.get_value(borrow=True) for var in data]
    try:
        for var, value in zip(data, values, strict=True):
            var.set_value(np.zeros_like(value))
        payload = _dumps({"made": made, "data": data})
    finally:
        for var, value in zip(data, values, strict=True):
            var.set_value(value, borrow=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fid:
            fid.write(payload)
        os.replace(tmp, path)
    except BaseException:
        _remove(Path(tmp))
        raise
    _prune(path.parent)


def _load_functions(path, model):
    """Load ``_make_functions``' result kept by :func:`_save_functions`.

    The kept data variables get ``model``'s values. None (and a log line) if there is
    no such file or it cannot be used.
    """
    if not path.is_file():
        return None
    try:
        with open(path, "rb") as fid:
            payload = pickle.load(fid)
        made = payload["made"]
        free = [model.rvs_to_values[var].name for var in model.free_RVs]
        if list(made[5][0][: len(free)]) != free:
            raise RuntimeError("the kept model has other free variables")
        values = _model_values(model)
        for var in payload["data"]:
            var.set_value(values[var.name])
    except Exception as exc:  # a file of another build, or damaged: compile again
        logger.info(
            f"Compiling the model again: its kept functions ({path}) could not be used "
            f"({type(exc).__name__}: {exc})."
        )
        return None
    try:
        os.utime(path)  # recently used: the last to be removed (_FUNCTIONS_MAX)
    except OSError:  # removed by another process meanwhile: it is loaded all the same
        pass
    return made


def _make_model_functions(model, key):
    """Run ``nutpie.compile_pymc._make_functions`` for ``model``, or load its kept result.

    Returns the result and the path it was loaded from (None if it was built).
    """
    from nutpie.compile_pymc import _make_functions
    from pymc.initial_point import make_initial_point_fn

    path = None
    if key is not None:
        try:
            path = _functions_path(key)
        except Exception as exc:  # e.g. a cloudpickle-less environment
            logger.info(f"Not keeping the model's functions ({type(exc).__name__}: {exc}).")
    made = _load_functions(path, model) if path is not None else None
    if made is not None:
        logger.info("Loaded the model's functions from the on-disk cache.")
        return made, path
    initial_point = _Locked(
        make_initial_point_fn(
            model=model,
            jitter_rvs=set(model.free_RVs),
            return_transformed=True,
            default_strategy="support_point",
        )
    )
    made = _make_functions(
        model,
        mode="NUMBA",
        compute_grad=True,
        join_expanded=True,
        pymc_initial_point_fn=initial_point,
        var_names=None,
    )
    if path is not None:
        try:
            _save_functions(path, made, model, initial_point.func)
        except Exception as exc:  # not kept: the next process compiles again
            logger.info(f"Not keeping the model's functions ({type(exc).__name__}: {exc}).")
    return made, None


def _compile_pymc_model_cached(model, key=None):
    """Compile ``model`` for nutpie as ``nutpie.compile_pymc_model`` does, cacheably.

    Parameters
    ----------
    model : pymc.Model
        The model.
    key : tuple | None
        The model's structure, as the in-process cache keys it (everything its graph
        depends on besides its ``pm.Data`` values and mne-dyad's code). If given,
        the rewritten functions are kept on disk under it (:func:`_save_functions`)
        and loaded by later processes.

    Returns
    -------
    compiled : nutpie.compile_pymc.CompiledPyMCModel
        The compiled model, accepted by ``nutpie.sample`` and ``with_data``.
    """
    _soft_import("nutpie", "sampler='nutpie'")
    made, loaded = _make_model_functions(model, key)
    try:
        return _callbacks_model(model, made)
    except Exception:
        if loaded is not None:  # kept functions that do not compile: not again
            _remove(loaded)
        raise


def _callbacks_model(model, made):
    """Wrap ``_make_functions``' result ``made`` in nutpie's compiled model."""
    from nutpie.compile_pymc import (
        CompiledPyMCModel,
        _prepare_dims_and_coords,
        make_user_data,
    )

    n_dim, n_expanded, logp_fn, expand_fn, initial_point_fn, shape_info, reparam = made
    shared_data, shared_var_keys = {}, {}
    for var in [*logp_fn.get_shared(), *expand_fn.get_shared()]:
        if var in shared_var_keys:
            continue
        key = f"s{len(shared_var_keys)}"  # nutpie uses random names; these are stable
        shared_data[key] = np.array(var.get_value(), order="C", copy=True)
        shared_data[key].flags.writeable = False
        shared_var_keys[var] = key
    user_data = make_user_data(shared_var_keys, shared_data)
    all_keys = list(shared_var_keys.values())
    _check_layout(user_data.dtype, all_keys, shared_data)
    callbacks = {
        kind: _callback(
            kind,
            fn.vm.jit_fn,
            n_dim,
            n_expanded,
            [shared_var_keys[v] for v in fn.get_shared()],
            shared_data,
            all_keys,
        )
        for kind, fn in (("logp", logp_fn), ("expand", expand_fn))
    }
    dims, coords = _prepare_dims_and_coords(model, shape_info, reparam)
    return CompiledPyMCModel(
        _n_dim=n_dim,
        dims=dims,
        _coords=coords,
        _shapes={name: tuple(shape) for name, _, shape in zip(*shape_info, strict=True)},
        compiled_logp_func=callbacks["logp"],
        compiled_expand_func=callbacks["expand"],
        initial_point_func=initial_point_fn,
        shared_data=shared_data,
        shared_var_keys=shared_var_keys,
        user_data=user_data,
        n_expanded=n_expanded,
        shape_info=shape_info,
        logp_func=logp_fn,
        expand_func=expand_fn,
        reparameterized_names=reparam,
    )


def _compile_nutpie(model, key=None):
    """Compile ``model`` for nutpie through the on-disk cache, or nutpie's own path.

    ``key``: the model's structure (:func:`_compile_pymc_model_cached`).
    """
    nutpie = _soft_import("nutpie", "sampler='nutpie'")
    reason = None
    if not _enabled():
        reason = "MNE_DYAD_MODEL_CACHE is false"
    elif _version(nutpie) not in _CHECKED_NUTPIE:
        reason = f"nutpie {nutpie.__version__} is not a version it was checked on"
    else:
        try:
            return _compile_pymc_model_cached(model, key)
        except Exception as exc:  # nutpie's internals are private: any change lands here
            reason = f"{type(exc).__name__}: {exc}"
    logger.info(f"Compiling without the on-disk model cache ({reason}).")
    return nutpie.compile_pymc_model(model)
