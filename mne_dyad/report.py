"""HTML reports of a dyadic analysis (``mne.Report``)."""

import matplotlib.pyplot as plt
import mne
import xarray as xr
from mne.utils import _validate_type, logger, verbose

from .stats.results import AllianceFit
from .stats.variance import variance_table
from .utils._docs import fill_doc
from .viz import plot_alliance_effects, plot_cube, plot_dyad, plot_surrogates, plot_variance

__all__ = ["make_report"]


def _add_figure(report, fig, title, section):
    """Add a figure to its section (tagged by the section) and free it."""
    report.add_figure(fig, title=title, section=section, tags=(section.lower(),))
    plt.close(fig)


def _add_html(report, html, title, section):
    report.add_html(html, title=title, section=section, tags=(section.lower(),))


@verbose
@fill_doc
def make_report(
    cube,
    *,
    raws=None,
    fit=None,
    chance=None,
    variance=None,
    title="mne-dyad analysis",
    n_traces=1,
    verbose=None,
):
    """Assemble an HTML report of the data, the synchrony cube and the alliance model.

    Parameters
    ----------
    cube : xarray.Dataset
        A synchrony cube.
    raws : None | mapping
        ``{(dyad, session): raw}``; the first ``n_traces`` sessions are shown as
        dyad traces with their segments shaded.
    fit : None | AllianceFit
        A fitted alliance model: its effects are plotted and tabulated.
    chance : None | xarray.Dataset
        The output of :func:`mne_dyad.surrogates.test_above_chance`.
    variance : None | xarray.DataTree
        The output of :func:`mne_dyad.stats.variance_decomposition`.
    title : str
        Report title.
    n_traces : int
        Number of sessions to show as traces.
    %(verbose)s

    Returns
    -------
    report : mne.Report
        Save it with ``report.save("report.html")``.
    """
    _validate_type(cube, xr.Dataset, "cube")
    _validate_type(fit, (None, AllianceFit), "fit")
    _validate_type(chance, (None, xr.Dataset), "chance")
    _validate_type(variance, (None, xr.DataTree), "variance")
    report = mne.Report(title=title, verbose=False)
    if raws:
        for key in list(raws)[:n_traces]:
            _add_figure(
                report, plot_dyad(raws[key], show=False), f"Dyad {key[0]}, session {key[1]}", "Data"
            )
    _add_figure(report, plot_cube(cube, show=False), "Synchrony cube (all_lags)", "Synchrony")
    _add_html(
        report,
        f"<pre>{cube.attrs.get('mne_dyad_params', '')}</pre>",
        "Synchrony parameters",
        "Synchrony",
    )
    if chance is not None:
        _add_figure(
            report, plot_surrogates(chance, show=False), "Synchrony against chance", "Chance"
        )
    if variance is not None:
        _add_figure(
            report,
            plot_variance(variance, show=False),
            "Dyad and session shares of synchrony variance",
            "Variance",
        )
        _add_html(
            report, variance_table(variance).round(3).to_html(), "Variance shares", "Variance"
        )
    if fit is not None:
        _add_figure(report, plot_alliance_effects(fit, show=False), "Alliance effects", "Alliance")
        _add_html(report, fit.summary().round(3).to_html(), "Posterior summary", "Alliance")
    logger.info(f"Report with {len(report.html)} items.")
    return report
