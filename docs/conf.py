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
templates_path = []
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py"]
autosummary_generate = True
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

html_theme = "pydata_sphinx_theme"
html_title = f"mne-dyad {version}"
html_theme_options = {"navigation_with_keys": False, "show_toc_level": 2}

# These machines reach no documentation site: the build must pass without inventories.
intersphinx_mapping = {
    "python": ("https://docs.python.org/3", None),
    "mne": ("https://mne.tools/stable", None),
    "xarray": ("https://docs.xarray.dev/en/stable", None),
    "pymc": ("https://www.pymc.io/projects/docs/en/stable", None),
    "arviz": ("https://python.arviz.org/en/stable", None),
}
intersphinx_timeout = 5
nitpicky = False

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"plot_",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "reference_url": {"mne_dyad": None},
}
