"""Package conventions, over every subpackage: @verbose, numpydoc, the API page, names."""

import ast
import importlib
import inspect
import re
from pathlib import Path

import mne_dyad as md

ROOT = Path(md.__file__).parents[1]
PACKAGE = ROOT / "mne_dyad"
#: Every public namespace: the subpackages and the public top-level modules.
NAMESPACES = sorted(
    [p.parent.name for p in PACKAGE.glob("*/__init__.py") if p.parent.name != "utils"]
    + ["pipeline", "report"]
)
#: numpydoc checks MNE-Python does not live by (mne/tests/test_docstring_parameters.py).
NUMPYDOC_IGNORE = {
    "GL01",  # docstring should start on the line after the quotes
    "GL02",  # closing quotes on their own line
    "EX01",  # no Examples section
    "EX02",  # examples failed (the doctests run them)
    "ES01",  # no extended summary
    "SA01",  # no See Also
    "YD01",  # no Yields section
    "SA04",  # no description in See Also
    "PR04",  # parameter has no type
    "RT02",  # the first line of Returns should be the type only
}


def _module(name):
    return importlib.import_module(f"mne_dyad.{name}")


def _public_objects():
    """Yield (dotted name, object) of every public function, class and method."""
    for space in NAMESPACES:
        mod = _module(space)
        for name in mod.__all__:
            obj = getattr(mod, name)
            if not (inspect.isfunction(obj) or inspect.isclass(obj)):
                continue  # constants
            if name in getattr(mod, "_LAZY", {}):
                continue  # an alias of a name documented in its home
            yield f"mne_dyad.{space}.{name}", obj
            if inspect.isclass(obj) and not issubclass(obj, Exception):
                for meth_name, meth in vars(obj).items():
                    if not meth_name.startswith("_") and inspect.isfunction(meth):
                        yield f"mne_dyad.{space}.{name}.{meth_name}", meth


def test_every_namespace_has_all():
    for space in NAMESPACES:
        mod = _module(space)
        assert isinstance(getattr(mod, "__all__", None), list), space
        assert all(hasattr(mod, name) for name in mod.__all__), space
    assert set(NAMESPACES) <= set(md.__all__)


def test_verbose_functions_are_decorated():
    missing = []
    for name, func in _public_objects():
        if inspect.isclass(func):
            continue
        params = inspect.signature(func).parameters
        if "verbose" in params:
            if params["verbose"].default is not None:
                missing.append(f"{name}: verbose default must be None")
            # mne.utils.verbose wraps with decorator-gen code
            if "decorator-gen" not in func.__code__.co_filename:
                missing.append(f"{name}: has verbose but no @verbose")
    assert not missing, missing


def test_verbose_check_can_fail():
    def undecorated(x, *, verbose=None):
        """Do nothing."""

    assert "decorator-gen" not in undecorated.__code__.co_filename
    assert "decorator-gen" in md.io.read_study.__code__.co_filename


def test_numpydoc_validation():
    from numpydoc.validate import validate

    problems = []
    for name, obj in _public_objects():
        if "%(" in (obj.__doc__ or ""):
            problems.append(f"{name}: a docdict key is not filled (add @fill_doc)")
        for code, message in validate(name)["errors"]:
            if code not in NUMPYDOC_IGNORE:
                problems.append(f"{name}: {code} {message}")
    assert not problems, "\n".join(problems)


def test_numpydoc_validation_can_fail():
    from numpydoc.validate import validate

    errors = {code for code, _ in validate("mne_dyad.pipeline._nearest")["errors"]}
    assert "GL08" in errors  # no docstring


def _api_entries():
    text = (ROOT / "docs" / "api.rst").read_text()
    return re.findall(r"^   ([\w.]+)$", text, re.M)


def test_api_reference_lists_every_public_name():
    listed = set(_api_entries())
    missing = [
        name.removeprefix("mne_dyad.")
        for name, obj in _public_objects()
        if name.count(".") == 2  # functions and classes; methods are on their class page
    ]
    # a name also offered at the top level (md.synchrony_cube) may be listed there
    top = {n for n in md.__all__ if not inspect.ismodule(getattr(md, n, None))}
    missing = [n for n in missing if n not in listed and n.split(".")[-1] not in top]
    assert not missing, f"docs/api.rst does not list {missing}"
    for entry in listed:  # and everything it lists exists
        obj = md
        for part in entry.split("."):
            obj = getattr(obj, part)


def test_non_api_helpers_have_an_underscore():
    """A function, class or constant not in its namespace's __all__ has an underscore."""
    offenders = []
    for space in NAMESPACES:
        public = set(_module(space).__all__)
        files = (
            [PACKAGE / f"{space}.py"]
            if (PACKAGE / f"{space}.py").is_file()
            else sorted((PACKAGE / space).glob("*.py"))
        )
        for path in files:
            for node in ast.parse(path.read_text()).body:
                if isinstance(node, ast.FunctionDef | ast.ClassDef):
                    names = [node.name]
                elif isinstance(node, ast.Assign | ast.AnnAssign):
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    names = [t.id for t in targets if isinstance(t, ast.Name)]
                else:
                    continue
                for name in names:
                    if not name.startswith("_") and name not in public:
                        offenders.append(f"{path.relative_to(ROOT)}: {name}")
    assert not offenders, offenders


def test_no_module_shares_a_name_with_a_public_object():
    for space in NAMESPACES:
        if not (PACKAGE / space).is_dir():
            continue
        modules = {p.stem for p in (PACKAGE / space).glob("*.py")} - {"__init__"}
        assert not modules & set(_module(space).__all__), space
        assert all(m.startswith("_") for m in modules), sorted(modules)


def test_import_is_light():
    import subprocess
    import sys

    heavy = ("pymc", "nutpie", "arviz", "matplotlib.pyplot")
    code = f"import sys, mne_dyad; print(int(any(m.startswith({heavy}) for m in sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0"
