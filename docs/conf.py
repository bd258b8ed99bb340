"""Sphinx configuration for mne-dyad."""

import os
import sys
from pathlib import Path

import mne_dyad

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("MPLBACKEND", "Agg")

project = "mne-dyad"
author = "mne-dyad developers"
copyright = "2026, mne-dyad developers"
version = release = mne_dyad.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
templates_path = ["_templates"]
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py"]
autosummary_generate = True
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

html_theme = "pydata_sphinx_theme"
html_title = f"mne-dyad {version}"
html_theme_options = {"navigation_with_keys": False, "show_toc_level": 2}
html_context = {"default_mode": "light"}  # an empty mode is a console error offline

# Links to the libraries' docs where their inventories can be read. Unreachable
# inventories only warn, so the build passes offline; MNE_DYAD_DOCS_OFFLINE=1 skips
# them altogether (the test suite builds with it and with -W, warnings as errors).
intersphinx_mapping = {
    "python": ("https://docs.python.org/3", None),
    "mne": ("https://mne.tools/stable", None),
    "xarray": ("https://docs.xarray.dev/en/stable", None),
    "pymc": ("https://www.pymc.io/projects/docs/en/stable", None),
    "arviz": ("https://python.arviz.org/en/stable", None),
}
if os.environ.get("MNE_DYAD_DOCS_OFFLINE", "0") == "1":
    intersphinx_mapping = {}
intersphinx_timeout = 5
nitpicky = False

# sphinx-gallery reruns only the examples whose source changed; a switch between quick
# and full mode (MNE_DYAD_EXAMPLES_QUICK) reruns them all, as does MNE_DYAD_DOCS_RERUN=1.
_mode = "quick" if os.environ.get("MNE_DYAD_EXAMPLES_QUICK", "0") == "1" else "full"
_stamp = Path(__file__).parent / "auto_examples" / ".mne_dyad_mode"
_rerun = os.environ.get("MNE_DYAD_DOCS_RERUN", "0") == "1" or (
    not _stamp.is_file() or _stamp.read_text() != _mode
)
_stamp.parent.mkdir(exist_ok=True)
_stamp.write_text(_mode)

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"plot_",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "reference_url": {"mne_dyad": None},
    "doc_module": ("mne_dyad",),
    "backreferences_dir": "generated/backreferences",
    "abort_on_example_error": True,
    "run_stale_examples": _rerun,
    "min_reported_time": 0,
    "show_memory": False,
}
