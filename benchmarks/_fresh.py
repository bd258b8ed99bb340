"""What the fresh-process benchmarks share: the paper-sized study and a child process.

``bench_fresh_process.py`` and ``bench_jax_backends.py`` time the alliance model in
new Python processes: each writes the study once with :func:`write_study` and runs
each measurement with :func:`run_child`.
"""

import json
import subprocess
import sys


def write_study(folder):
    """Write the 2019 trial's size of study (``simulate_study(seed=2019)``) to ``folder``.

    ``cube.nc`` (the default synchrony cube) and ``alliance.nc`` (the ratings).
    """
    import mne_dyad as md

    study = md.simulation.simulate_study(seed=2019, verbose=False)
    md.synchrony.write_cube(md.synchrony_cube(study.raws), folder / "cube.nc")
    study.alliance.to_netcdf(folder / "alliance.nc")


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
