"""What the fresh-process benchmarks share: the paper-sized study and a child process.

``bench_fresh_process.py``, ``bench_jax_backends.py``, ``bench_compile_profile.py``
and ``bench_compile_floor.py`` time the alliance model in new Python processes: each
writes the study once with :func:`write_study` and runs each measurement with
:func:`run_child`, whose code reads the study with :data:`READ_STUDY`, most of them
in their own compile folder (:func:`compile_env`).
"""

import json
import os
import subprocess
import sys

#: A child's lines that import mne-dyad and read the study :func:`write_study` wrote
#: to the folder ``folder`` (a variable the child sets before): ``cube``, ``alliance``.
READ_STUDY = r"""
import mne
import xarray as xr
import mne_dyad as md
mne.set_log_level("ERROR")
cube = md.synchrony.read_cube(folder + "/cube.nc")
alliance = xr.open_dataset(folder + "/alliance.nc").load()
"""


def write_study(folder):
    """Write the 2019 trial's size of study (``simulate_study(seed=2019)``) to ``folder``.

    ``cube.nc`` (the default synchrony cube) and ``alliance.nc`` (the ratings),
    without logging.
    """
    import mne_dyad as md

    study = md.simulation.simulate_study(seed=2019, verbose=False)
    cube = md.synchrony_cube(study.raws, verbose=False)
    md.synchrony.write_cube(cube, folder / "cube.nc", verbose=False)
    study.alliance.to_netcdf(folder / "alliance.nc")


def compile_env(compiledir, *, model_cache=False):
    """Return the environment of a child that compiles into its own folder.

    ``compiledir``: PyTensor's compile folder (numba's per-operation cache lives there
    too), added to any ``PYTENSOR_FLAGS`` already set; ``model_cache``: mne-dyad's
    on-disk model cache (``MNE_DYAD_MODEL_CACHE``), off to time numba's own compile.
    """
    flags = os.environ.get("PYTENSOR_FLAGS", "")
    return {
        **os.environ,
        "PYTENSOR_FLAGS": f"{flags},base_compiledir={compiledir}".lstrip(","),
        "MNE_DYAD_MODEL_CACHE": "true" if model_cache else "false",
    }


def run_child(code, args, env, what):
    """Run ``code`` in a new Python process; return the JSON object of its last line.

    ``what`` names the process in the error raised when it fails.
    """
    out = subprocess.run(
        [sys.executable, "-c", code, *map(str, args)], env=env, capture_output=True, text=True
    )
    if out.returncode:
        raise RuntimeError(f"the {what} process failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])
