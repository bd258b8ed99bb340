import matplotlib.pyplot as plt
import mne
import numpy as np
import pandas as pd
import pytest
import xarray as xr

import mne_dyad as md


def test_plot_dyad_traces_and_shading():
    raw = md.simulation.simulate_session(
        duration=600,
        segments=[("IM", 60.0, 120.0), ("CB", 300.0, 120.0), ("IM", 450.0, 60.0)],
        seed=0,
        dyad="D3",
        session=2,
    )
    raw.set_annotations(raw.annotations + mne.Annotations([250.0], [10.0], ["BAD_move"]))
    fig = md.viz.plot_dyad(raw, show=False)
    top, bottom = fig.axes[:2]
    assert top.get_ylabel() == "client EDA (µS)" and bottom.get_ylabel() == "therapist EDA (µS)"
    assert bottom.get_xlabel() == "Time (min)" and top.get_title() == "dyad D3, session 2"
    # the trace is in microsiemens and in minutes
    line = top.get_lines()[0]
    np.testing.assert_allclose(line.get_ydata(), raw.get_data()[0] * 1e6)
    assert line.get_xdata()[-1] == pytest.approx(raw.times[-1] / 60)
    spans = [p for p in top.patches]
    assert len(spans) == 4  # 2 IM + 1 CB + 1 BAD
    # data x-range of each span: a Rectangle (matplotlib >= 3.9) or a Polygon (3.8)
    xs = [p.get_patch_transform().transform(p.get_path().vertices)[:, 0] for p in spans]
    extents = sorted((round(x.min(), 3), round(x.max() - x.min(), 3)) for x in xs)
    assert extents[0] == (1.0, 2.0)  # IM 60-180 s -> 1-3 min
    labels = [t.get_text() for t in top.get_legend().get_texts()]
    assert sorted(labels) == ["BAD_move", "CB", "IM"]


def test_plot_cube_panels(small_cube):
    fig = md.viz.plot_cube(small_cube, "all_lags", show=False)
    panels = [ax for ax in fig.axes if ax.get_title() in ("IM", "CB")]
    assert [ax.get_title() for ax in panels] == ["IM", "CB"]
    image = panels[0].get_images()[0].get_array()
    np.testing.assert_array_equal(
        np.ma.getdata(image)[~np.ma.getmaskarray(image)],
        small_cube.all_lags.sel(segment="IM").values[
            ~np.isnan(small_cube.all_lags.sel(segment="IM").values)
        ],
    )
    assert fig.axes[-1].get_ylabel() == "all_lags (1)"  # colour bar with units
    with pytest.raises(ValueError, match="no variable 'nope'"):
        md.viz.plot_cube(small_cube, "nope", show=False)
    with pytest.warns(FutureWarning, match="plot_cube's variable= was renamed summary="):
        old = md.viz.plot_cube(small_cube, variable="lag0", show=False)
    assert old.axes[-1].get_ylabel().startswith("lag0")
    plt.close("all")


def test_plot_cube_marks_cells_on_few_windows(small_cube):
    cube = small_cube.copy(deep=True)
    ok = np.argwhere(np.isfinite(cube.all_lags.sel(segment="IM").values))
    i, j = ok[0]
    cube["all_lags"].loc[{"segment": "IM"}][i, j] = 50.0  # one window, a wild value
    cube["n_windows"].loc[{"segment": "IM"}][i, j] = 1.0
    assert np.nanmin(cube.n_windows.values) == 1.0
    fig = md.viz.plot_cube(cube, "all_lags", show_windows=True, show=False)
    im_ax = fig.axes[0]
    crosses = im_ax.collections[0].get_offsets()
    np.testing.assert_array_equal(crosses, [[j, i]])  # (session, dyad) of the cell
    others = cube.all_lags.values[np.isfinite(cube.all_lags.values) & (cube.n_windows.values >= 3)]
    vmin, vmax = im_ax.get_images()[0].get_clim()
    assert vmax == pytest.approx(np.percentile(others, 98)) and vmax < 50.0
    assert "1 cell(s) on fewer than 3 windows" in fig._suptitle.get_text()
    n_text = [t.get_text() for t in im_ax.texts]
    assert n_text.count("1") >= 1 and len(n_text) == int(
        np.isfinite(cube.n_windows.sel(segment="IM").values).sum()
    )
    # without the marking, the one cell sets the top of the colour scale
    fig = md.viz.plot_cube(cube, "all_lags", min_windows=None, show=False)
    assert fig.axes[0].get_images()[0].get_clim()[1] > np.percentile(others, 98)
    plt.close("all")


def test_plot_lag_map_peak_path():
    rng = np.random.default_rng(0)
    x = np.convolve(rng.standard_normal(4000), np.ones(6) / 6, mode="same")
    sync = md.synchrony.wclc(x, np.roll(x, 16), 8.0, lag=5.0, window=30.0, step=15.0)
    fig = md.viz.plot_lag_map(sync, show=False)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "Window start (min)"
    assert ax.get_ylabel() == "Lag (s): > 0 therapist follows client"
    path = ax.get_lines()[0]
    np.testing.assert_allclose(path.get_ydata(), 2.0)  # y follows x by 2 s in every window
    np.testing.assert_allclose(path.get_xdata(), sync.window.values / 60)
    assert fig.axes[1].get_ylabel().startswith("windowed cross-lagged correlation")
    with pytest.raises(ValueError, match=r"dims \(window, lag\)"):
        md.viz.plot_lag_map(sync.mean("lag"), show=False)
    # into given axes (MNE's axes=): the same drawing, in the caller's figure
    import matplotlib.pyplot as plt

    own, (left, right) = plt.subplots(1, 2)
    assert md.viz.plot_lag_map(sync, axes=right, show=False) is own
    np.testing.assert_allclose(right.get_lines()[0].get_ydata(), 2.0)
    assert left.get_lines() == [] and right.get_xlabel() == "Window start (min)"
    with pytest.raises(TypeError, match="axes"):
        md.viz.plot_lag_map(sync, axes="left", show=False)


def _fake_chance():
    rng = np.random.default_rng(1)
    dims = ("dyad", "session", "segment")
    return xr.Dataset(
        {
            "observed": (dims, rng.normal(0.5, 0.05, (4, 2, 2))),
            "surrogates": ((*dims, "surrogate"), rng.normal(0.4, 0.05, (4, 2, 2, 20))),
            "delta_mean": ("segment", [0.1, 0.08]),
            "delta_lower": ("segment", [0.05, 0.02]),
            "delta_upper": ("segment", [0.15, 0.13]),
            "p_delta_gt_0": ("segment", [1.0, 0.99]),
        },
        coords={"segment": ["IM", "CB"]},
        attrs={"summary": "all_lags", "kind": "pseudo_dyads"},
    )


def test_plot_surrogates():
    fig = md.viz.plot_surrogates(_fake_chance(), show=False)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0] == "IM: delta +0.100 [+0.050, +0.150], P>0=1.00"
    assert fig.axes[0].get_xlabel() == "all_lags (pseudo_dyads)"
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["surrogates (n=160)", "real dyads (n=8)"]
    with pytest.raises(ValueError, match="test_above_chance's output"):
        md.viz.plot_surrogates(_fake_chance().drop_vars("surrogates"), show=False)


def test_plot_variance():
    rng = np.random.default_rng(2)
    icc = rng.beta(2, 8, (2, 100, 1))
    post = xr.Dataset(
        {
            "icc_dyad": (("chain", "draw", "segment"), icc),
            "session_share": (("chain", "draw", "segment"), 1 - icc),
        },
        coords={"segment": ["IM"]},
    )
    fig = md.viz.plot_variance(xr.DataTree.from_dict({"posterior": post}), show=False)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == [f"dyad (mean {icc.mean():.2f})", f"session (mean {1 - icc.mean():.2f})"]
    assert ax.get_xlabel() == "Share of synchrony variance" and ax.get_title() == "IM"


def _fake_variance():
    rng = np.random.default_rng(3)
    icc = rng.beta(2, 8, (2, 50, 2))
    return xr.DataTree.from_dict(
        {
            "posterior": xr.Dataset(
                {
                    "icc_dyad": (("chain", "draw", "segment"), icc),
                    "session_share": (("chain", "draw", "segment"), 1 - icc),
                },
                coords={"segment": ["IM", "CB"]},
            ),
            "summary": xr.Dataset(
                {
                    k: (("segment", "component"), np.full((2, 2), 0.5))
                    for k in ("mean", "sd", "ci_lower", "ci_upper")
                },
                coords={"segment": ["IM", "CB"], "component": ["icc_dyad", "session_share"]},
            ),
        }
    )


def _sections(report):
    return list(dict.fromkeys(el.section for el in report._content))


def _titles(report, section):
    return [el.name for el in report._content if el.section == section]


def test_report_sections(small_study, small_cube, tmp_path):
    report = md.report.make_report(
        small_cube,
        raws=small_study.raws,
        surrogates=_fake_chance(),
        variance=_fake_variance(),
        n_traces=4,
    )
    assert _sections(report) == ["Data", "Traces", "Synchrony", "Chance", "Variance"]
    assert list(md.report.SECTIONS) == ["Run", *_sections(report), "Alliance"]  # Run: a run
    assert _titles(report, "Traces") == ["Dyad traces (4 of 15 sessions)"]
    assert _titles(report, "Chance") == ["Synchrony against chance", "Group difference from chance"]
    report.save(tmp_path / "r.html", open_browser=False, verbose=False)
    html = (tmp_path / "r.html").read_text()
    # the traces are a slider of one image per session, captioned by dyad and session
    keys = list(small_study.raws)[:4]
    for dyad, session in keys:
        assert f"Dyad {dyad}, session {session}" in html
    fifth = list(small_study.raws)[4]
    assert f"Dyad {fifth[0]}, session {fifth[1]}" not in html
    assert html.count('class="carousel-item') == 4
    # the data overview: segment minutes per dyad and session, from the cube
    dur = small_cube.segment_duration.sel(dyad=keys[0][0], session=keys[0][1], segment="IM")
    assert f"{float(dur) / 60:.1f}" in html
    assert "Variance shares" in html and "delta_mean" in html


def test_report_run_section(small_cube, tmp_path):
    """The Run section from a run's provenance: banner, integer counts, rates, TOML."""
    import html as html_lib
    import re
    import tomllib

    config = md.pipeline.PipelineConfig({"chance": {"n_surrogates": 200}})
    keys = [f"{d}/{s}" for d in small_cube.dyad.values for s in small_cube.session.values]
    sfreq = {k: {"analysis": 8.0} for k in keys}
    sfreq[keys[0]] = {"analysis": 8.0, "client": 2000.0, "therapist": 1000.0}
    shares = dict.fromkeys(keys, 0.0)
    shares[keys[1]] = 0.3125
    run = {
        "diagnostics": {"model": {"divergences": 3, "max_rhat": 1.004, "min_ess_bulk": 812.4}},
        "sfreq": sfreq,
        "preprocessing": {"artifact_share": shares, "flagged": [keys[1]]},
        "warnings": ["something the run logged"],
        "config": config.to_dict(),
        "versions": {"mne": mne.__version__},
    }
    report = md.report.make_report(small_cube, run=run)
    assert _titles(report, "Run") == [
        "Checks",
        "Sampler diagnostics",
        "Sampling rates and artifacts per session",
        "Warnings of the run (1)",
        "Software",
        "Configuration",
    ]
    report.save(tmp_path / "r.html", open_browser=False, verbose=False)
    page = (tmp_path / "r.html").read_text()
    assert "Check before reporting these results" in page
    assert "The model sampler reports 3 divergent transitions" in page
    n = small_cube.n_windows.where(np.isfinite(small_cube.all_lags))
    assert f"Windows per cell: median {float(n.median()):.0f}, fewest {float(n.min()):.0f}" in page
    assert "<td>3</td>" in page and "<td>812</td>" in page  # counts as integers
    # one header row: the index's name sits in its first cell
    assert re.search(r"<thead>\s*<tr[^>]*>\s*<th>dyad/session</th>", page)
    n = len(keys)
    assert (
        f"{n} sessions; recorded at 8, 1000, 2000 Hz; analysed at 8 Hz; artifacts: 1 "
        f"sessions with any, median 0.0%, largest 31.2% ({keys[1]})."
    ) in page
    assert "client native (Hz)" in page and "session native (Hz)" in page
    assert '<div class="mne-dyad-scroll">' in page  # a long table scrolls
    # the configuration is a TOML file that reads back as the run's settings
    text = html_lib.unescape(re.search(r"<pre>(.*?)</pre>", page, re.S).group(1))
    assert "n_surrogates = 200" in text
    assert md.pipeline.PipelineConfig(tomllib.loads(text)).to_dict() == config.to_dict()


def test_report_from_study_is_deprecated(small_study):
    raws = {k: small_study.raws[k] for k in list(small_study.raws)[:5]}
    with pytest.warns(FutureWarning, match="run_pipeline"):
        report = md.report.make_report(raws, n_traces=None, window=20.0, lag=5.0, step=10.0)
    assert _sections(report) == ["Data", "Traces", "Synchrony"]
    assert _titles(report, "Traces") == ["Dyad traces (all 5 sessions)"]
    params = next(el for el in report._content if el.name == "Synchrony parameters").html
    assert "<th>window</th><td>20.0</td>" in params and "<th>lag</th><td>5.0</td>" in params
    with pytest.warns(FutureWarning, match="run_pipeline"):
        none = md.report.make_report(raws, n_traces=0)
    assert _sections(none) == ["Data", "Synchrony"]
    with pytest.raises(TypeError, match="together with a ready cube"):
        md.report.make_report(md.synchrony_cube(raws, verbose=False), window=20.0)
    with pytest.raises(TypeError, match="needs a synchrony cube"):
        md.report.make_report([1, 2])
    with pytest.raises(ValueError, match="n_traces must be >= 0"):
        md.report.make_report(raws, n_traces=-1)


def test_report_leaves_no_figure_open_when_a_session_fails(small_study, small_cube):
    from collections.abc import Mapping

    import matplotlib.pyplot as plt

    class Failing(Mapping):  # like a lazy study whose third file is unreadable
        keys_ = list(small_study.raws)

        def __getitem__(self, key):
            if key == self.keys_[2]:
                raise ValueError(f"cannot read dyad {key[0]}, session {key[1]}")
            return small_study.raws[key]

        def __iter__(self):
            return iter(self.keys_)

        def __len__(self):
            return len(self.keys_)

    plt.close("all")
    with pytest.raises(ValueError, match="cannot read dyad"):
        md.report.make_report(small_cube, raws=Failing())
    assert plt.get_fignums() == []


class _FakeFit:
    """What plot_alliance_effects reads of an AllianceFit."""

    params = {"summary": "all_lags", "standardize": True}
    data = xr.Dataset(
        coords={"outcome": ["bond", "task"], "level": ["within", "between"], "segment": ["IM"]}
    )

    def summary(self, var_names, *, ci_prob):
        rows = [f"beta[{lv}, IM, {o}]" for o in ("bond", "task") for lv in ("within", "between")]
        values = np.arange(len(rows), dtype=float)
        return pd.DataFrame(
            {"mean": values, "ci_lower": values - 0.5, "ci_upper": values + 0.5}, index=rows
        )


def test_every_plot_draws_into_given_axes(small_study, small_cube):
    """axes=: the caller's axes are drawn in and their figure returned; a wrong count fails."""
    raw = next(iter(small_study.raws.values()))
    lag_map = md.synchrony.wclc(*raw.get_data()[:2], raw.info["sfreq"], lag=3, window=30, step=15)
    cases = [
        (md.viz.plot_dyad, raw, 2),
        (md.viz.plot_cube, small_cube, 2),
        (md.viz.plot_surrogates, _fake_chance(), 2),
        (md.viz.plot_variance, _fake_variance(), 2),
        (md.viz.plot_alliance_effects, _FakeFit(), 2),
        (md.viz.plot_lag_map, lag_map, 1),
    ]
    for plot, data, n in cases:
        fig, axes = plt.subplots(1, n + 1)  # one spare: it must stay empty
        out = plot(data, axes=axes[:n] if n > 1 else axes[0], show=False)
        assert out is fig, plot.__name__
        assert all(ax.has_data() for ax in axes[:n]), plot.__name__
        assert not axes[n].has_data(), plot.__name__
        with pytest.raises(ValueError, match=f"axes must be {n} matplotlib Axes"):
            plot(data, axes=list(axes), show=False)
        plt.close("all")
    # the surrogates of one session (no group model) plot too, titled by segment alone
    fig = md.viz.plot_surrogates(_fake_chance().drop_vars("delta_mean"), show=False)
    assert [ax.get_title() for ax in fig.axes] == ["IM", "CB"]
