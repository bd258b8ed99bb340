"""Lazy imports of heavy optional dependencies, so ``import mne_dyad`` stays fast."""

import importlib

_INSTALL_HINT = {
    "pymc": "pip install 'pymc>=6'",
    "nutpie": "pip install nutpie",
    "arviz": "pip install 'arviz>=1.3'",
    "dask": "pip install 'dask[distributed]'",
    "bioread": "pip install bioread",
    "neurokit2": "pip install neurokit2",
    "numpyro": "pip install numpyro",
    "openpyxl": "pip install openpyxl",
}


def _soft_import(name, purpose):
    """Import a module by name or raise an ImportError that says how to install it."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        hint = _INSTALL_HINT.get(name.split(".")[0], f"pip install {name}")
        raise ImportError(
            f"{purpose} needs the package {name!r}, which could not be imported "
            f"({exc}). Install it with: {hint}"
        ) from exc
