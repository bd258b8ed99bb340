"""Package conventions: @verbose wherever there is a verbose argument, docstrings."""

import inspect

import mne_dyad as md

PUBLIC = {
    "io": md.io,
    "synchrony": md.synchrony,
    "simulation": md.simulation,
    "alliance": md.alliance,
    "stats": md.stats,
    "viz": md.viz,
    "report": md.report,
}


def _public_functions():
    for modname, mod in PUBLIC.items():
        for name in getattr(mod, "__all__", [n for n in dir(mod) if not n.startswith("_")]):
            obj = getattr(mod, name)
            if inspect.isfunction(obj):
                yield f"{modname}.{name}", obj
            elif inspect.isclass(obj) and obj.__module__.startswith("mne_dyad"):
                for meth_name, meth in inspect.getmembers(obj, inspect.isfunction):
                    if not meth_name.startswith("_"):
                        yield f"{modname}.{name}.{meth_name}", meth


def test_verbose_functions_are_decorated():
    missing = []
    for name, func in _public_functions():
        params = inspect.signature(func).parameters
        if "verbose" in params:
            if params["verbose"].default is not None:
                missing.append(f"{name}: verbose default must be None")
            # mne.utils.verbose wraps with decorator-gen code
            if "decorator-gen" not in func.__code__.co_filename:
                missing.append(f"{name}: has verbose but no @verbose")
    assert not missing, missing


def test_public_functions_documented():
    undocumented = []
    for name, func in _public_functions():
        doc = inspect.getdoc(func) or ""
        if len(doc) < 40:
            undocumented.append(name)
        params = [p for p in inspect.signature(func).parameters if p not in ("self", "kwargs")]
        if "Parameters" in doc:
            undocumented += [f"{name}({p})" for p in params if p not in doc]
        if "%(" in doc:
            undocumented.append(f"{name}: unfilled docdict key")
    assert not undocumented, undocumented


def test_import_is_light():
    import subprocess
    import sys

    heavy = ("pymc", "nutpie", "arviz", "matplotlib.pyplot")
    code = f"import sys, mne_dyad; print(int(any(m.startswith({heavy}) for m in sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0"
