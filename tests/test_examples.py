"""Every gallery example runs, quickly, as a test (MNE_DYAD_EXAMPLES_QUICK=1)."""

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES_DIR = Path(__file__).parents[1] / "examples"
EXAMPLES = sorted(EXAMPLES_DIR.glob("plot_*.py"))

# run the example as a script, then report how many figures it left for the gallery
_RUNNER = (
    "import runpy, sys, matplotlib.pyplot as plt; "
    "runpy.run_path(sys.argv[1], run_name='__main__'); "
    "print(f'N_FIGURES={len(plt.get_fignums())}')"
)


def test_the_gallery_is_complete():
    numbers = [int(re.match(r"plot_(\d\d)_", p.name).group(1)) for p in EXAMPLES]
    assert numbers == list(range(len(EXAMPLES))) and len(EXAMPLES) >= 10, numbers
    labels = set()
    for path in EXAMPLES:
        source = path.read_text()
        doc = ast.get_docstring(ast.parse(source), clean=False)
        label = re.search(r"^\.\. _(ex-[a-z0-9-]+):$", doc, re.M)
        assert label, f"{path.name}: no '.. _ex-...:' label in its docstring"
        labels.add(label.group(1))
        assert re.search(r"^=+\n.+\n=+$", doc, re.M), f"{path.name}: no title"
    assert len(labels) == len(EXAMPLES)
    # the user guide's cross-references all resolve to an example
    guide = (Path(__file__).parents[1] / "docs" / "user_guide.rst").read_text()
    assert set(re.findall(r":ref:`(ex-[a-z0-9-]+)`", guide)) <= labels


@pytest.mark.slow
@pytest.mark.examples
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_runs(path, tmp_path):
    env = {**os.environ, "MNE_DYAD_EXAMPLES_QUICK": "1", "MPLBACKEND": "Agg"}
    proc = subprocess.run(
        [sys.executable, "-c", _RUNNER, str(path)],
        cwd=tmp_path,  # examples write nothing into the repository
        env=env,
        capture_output=True,
        text=True,
        timeout=240,  # quick mode takes < 30 s here; the gallery's budget is 2 minutes
    )
    assert proc.returncode == 0, f"{path.name} failed:\n{proc.stderr[-4000:]}"
    n_figures = int(re.search(r"N_FIGURES=(\d+)", proc.stdout).group(1))
    assert n_figures >= 1, f"{path.name} drew no figure for the gallery"
    assert list(tmp_path.iterdir()) == [], f"{path.name} left files in its working directory"
