"""Prototype (issue 15, not used by the package): nutpie's C wrappers cached on disk.

Same sampler and the same C callbacks as ``nutpie.compile_pymc_model(model)``, but the
logp/expand wrappers are generated as source with the pytensor graph function as a
*global* (not a closure cell, which numba lowers as a "dynamic global" and refuses to
cache), no uuid field names, and registered in pytensor's numba cache locator under a
key derived from pytensor's own key for the graph. ``numba.cfunc(..., cache=True)`` then
stores the linked machine code in ``<pytensor base_compiledir>/numba`` and a new process
loads it instead of compiling it (~7-10 s).
"""

import hashlib

import numba
import numpy as np
import nutpie
import pytensor
from nutpie.compile_pymc import (
    CompiledPyMCModel,
    _make_functions,
    _prepare_dims_and_coords,
    _wrap_with_lock,
    address_as_void_pointer,
    make_user_data,
)
from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS, compile_numba_function_src

_VERSION = "2"
_LOGP_SIG = numba.types.int64(
    numba.types.uint64,
    numba.types.CPointer(numba.types.double),
    numba.types.CPointer(numba.types.double),
    numba.types.CPointer(numba.types.double),
    numba.types.voidptr,
)
_EXPAND_SIG = numba.types.int64(
    numba.types.uint64,
    numba.types.uint64,
    numba.types.CPointer(numba.types.double),
    numba.types.CPointer(numba.types.double),
    numba.types.voidptr,
)


def _extract_src(keys, shared_var_keys, shared_data, all_keys):
    """Source lines reading each shared array out of nutpie's user_data record (packed uint64)."""
    K = len(all_keys)
    pos = {k: i for i, k in enumerate(all_keys)}
    shape_start, start = {}, 2 * K
    for k in all_keys:
        shape_start[k] = start
        start += shared_data[k].ndim
    lines, names, dtypes = [], [], {}
    for j, k in enumerate(keys):
        arr = shared_data[k]
        dt = f"dt_{j}"
        dtypes[dt] = arr.dtype.type
        i = pos[k]
        shape = ", ".join(f"np.intp(ud[{shape_start[k] + d}])" for d in range(arr.ndim))
        shape = f"({shape},)" if arr.ndim == 1 else f"({shape})"
        pointer = f"address_as_void_pointer(ud[{i}])"
        lines.append(
            f"        s{j} = carray({pointer}, (np.intp(ud[{K + i}]),), {dt}).reshape({shape})"
        )
        names.append(f"s{j}")
    return lines, names, dtypes, start


def _wrapper(kind, inner, n_dim, n_expanded, keys, shared_var_keys, shared_data, all_keys):
    inner_key = CACHED_SRC_FUNCTIONS.get(inner.py_func)
    lines, names, dtypes, n_words = _extract_src(keys, shared_var_keys, shared_data, all_keys)
    args = ", ".join(["x", *names])
    body = "\n".join(lines)
    if kind == "logp":
        src = f"""
def nutpie_logp_cached(dim, x_, out_, logp_, user_data_):
    if dim != {n_dim}:
        return -1
    try:
        ud = carray(user_data_, ({max(n_words, 1)},), np.uint64)
{body}
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
        sig = _LOGP_SIG
    else:
        src = f"""
def nutpie_expand_cached(dim, expanded, x_, out_, user_data_):
    if dim != {n_dim}:
        return -1
    if expanded != {n_expanded}:
        return -1
    try:
        ud = carray(user_data_, ({max(n_words, 1)},), np.uint64)
{body}
        x = carray(x_, ({n_dim},))
        out = carray(out_, ({n_expanded},))
        (values,) = inner({args})
        out[...] = values
    except Exception:
        return -2
    return 0
"""
        sig = _EXPAND_SIG
    key = None
    if inner_key is not None:
        key = hashlib.sha256(
            f"{_VERSION}|{kind}|{inner_key}|{numba.__version__}|{pytensor.__version__}|{nutpie.__version__}|"
            f"{[(str(shared_data[k].dtype), shared_data[k].ndim) for k in keys]}|{src}".encode()
        ).hexdigest()
    fn = compile_numba_function_src(
        src,
        f"nutpie_{kind}_cached",
        global_env={
            "__name__": __name__,
            "np": np,
            "carray": numba.carray,
            "inner": inner,
            "address_as_void_pointer": address_as_void_pointer,
            **dtypes,
        },
        cache_key=key,
    )
    return numba.cfunc(sig, cache=key is not None)(fn)


def compile_pymc_model_cached(model, *, var_names=None):
    from pymc.initial_point import make_initial_point_fn

    ip_fn = _wrap_with_lock(
        make_initial_point_fn(
            model=model,
            jitter_rvs=set(model.free_RVs),
            return_transformed=True,
            default_strategy="support_point",
        )
    )
    n_dim, n_expanded, logp_pt, expand_pt, initial_point_fn, shape_info, reparam = _make_functions(
        model,
        mode="NUMBA",
        compute_grad=True,
        join_expanded=True,
        pymc_initial_point_fn=ip_fn,
        var_names=var_names,
    )
    shared_data, shared_var_keys = {}, {}
    for val in [*logp_pt.get_shared(), *expand_pt.get_shared()]:
        if val in shared_var_keys:
            continue
        key = f"s{len(shared_var_keys)}"
        shared_data[key] = np.array(val.get_value(), order="C", copy=True)
        shared_data[key].flags.writeable = False
        shared_var_keys[val] = key
    user_data = make_user_data(shared_var_keys, shared_data)
    all_keys = list(shared_var_keys.values())
    assert user_data.dtype.itemsize == 8 * (
        2 * len(all_keys) + sum(a.ndim for a in shared_data.values())
    )
    logp_c = _wrapper(
        "logp",
        logp_pt.vm.jit_fn,
        n_dim,
        n_expanded,
        [shared_var_keys[v] for v in logp_pt.get_shared()],
        shared_var_keys,
        shared_data,
        all_keys,
    )
    expand_c = _wrapper(
        "expand",
        expand_pt.vm.jit_fn,
        n_dim,
        n_expanded,
        [shared_var_keys[v] for v in expand_pt.get_shared()],
        shared_var_keys,
        shared_data,
        all_keys,
    )
    dims, coords = _prepare_dims_and_coords(model, shape_info, reparam)
    return CompiledPyMCModel(
        _n_dim=n_dim,
        dims=dims,
        _coords=coords,
        _shapes={name: tuple(shape) for name, _, shape in zip(*shape_info, strict=True)},
        compiled_logp_func=logp_c,
        compiled_expand_func=expand_c,
        initial_point_func=initial_point_fn,
        shared_data=shared_data,
        shared_var_keys=shared_var_keys,
        user_data=user_data,
        n_expanded=n_expanded,
        shape_info=shape_info,
        logp_func=logp_pt,
        expand_func=expand_pt,
        reparameterized_names=reparam,
    )
