import matplotlib.pyplot as plt
import mne
import numpy as np
import pytest

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
    extents = sorted((round(p.get_x(), 3), round(p.get_width(), 3)) for p in spans)
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
    plt.close("all")
