"""Vectorised WCLC against a plain per-window, per-lag loop (docs/methods.rst, methods-wclc).

One simulated 50-minute session at 8 Hz, lag 10 s, window 30 s, step 15 s.
Prints the speed ratio (loop time / vectorised time, best of several runs each,
measured in this one run) and the largest absolute difference of the |z| values.
Targets: ratio >= 50, difference < 1e-10.

Run: python benchmarks/bench_wclc.py
"""

import time

import mne
import numpy as np

import mne_dyad as md
from mne_dyad.synchrony._reference import _wclc_loop


def best_time(func, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = func()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main():
    mne.set_log_level("WARNING")
    sfreq, lag, window, step = 8.0, 10.0, 30.0, 15.0
    raw = md.simulation.simulate_session(duration=3000.0, sfreq=sfreq, seed=0)
    x, y = raw.get_data()
    w, L, s = (int(round(v * sfreq)) for v in (window, lag, step))
    md.synchrony.wclc(x, y, sfreq, lag=lag, window=window, step=step)  # warm-up
    t_vec, fast = best_time(
        lambda: md.synchrony.wclc(x, y, sfreq, lag=lag, window=window, step=step), 20
    )
    t_loop, slow = best_time(lambda: _wclc_loop(x, y, w, L, s), 3)
    diff = float(np.nanmax(np.abs(fast.values - slow)))
    same_nan = bool(np.array_equal(np.isnan(fast.values), np.isnan(slow)))
    ratio = t_loop / t_vec
    print(
        f"session: {x.size} samples ({x.size / sfreq / 60:.0f} min at {sfreq:g} Hz), "
        f"{fast.sizes['window']} windows x {fast.sizes['lag']} lags"
    )
    print(f"vectorised wclc : {t_vec * 1e3:8.2f} ms (best of 20)")
    print(f"loop reference  : {t_loop * 1e3:8.2f} ms (best of 3)")
    print(f"speed ratio     : {ratio:8.1f}x   (target >= 50)   {'OK' if ratio >= 50 else 'MISS'}")
    print(
        f"max |difference|: {diff:8.2e}   (target < 1e-10) "
        f"{'OK' if diff < 1e-10 and same_nan else 'MISS'}; same NaN cells: {same_nan}"
    )


if __name__ == "__main__":
    main()
