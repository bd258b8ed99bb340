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
            fig = plot_dyad(raws[key], show=False)
            report.add_figure(
                fig, title=f"Dyad {key[0]}, session {key[1]}", section="Data", tags=("data",)
            )
            plt.close(fig)
    fig = plot_cube(cube, show=False)
    report.add_figure(
        fig, title="Synchrony cube (all_lags)", section="Synchrony", tags=("synchrony",)
    )
    plt.close(fig)
    report.add_html(
        f"<pre>{cube.attrs.get('mne_dyad_params', '')}</pre>",
        title="Synchrony parameters",
        section="Synchrony",
        tags=("synchrony",),
    )
    if chance is not None:
        fig = plot_surrogates(chance, show=False)
        report.add_figure(fig, title="Synchrony against chance", section="Chance", tags=("chance",))
        plt.close(fig)
    if variance is not None:
        fig = plot_variance(variance, show=False)
        report.add_figure(
            fig,
            title="Dyad and session shares of synchrony variance",
            section="Variance",
            tags=("variance",),
        )
        plt.close(fig)
        report.add_html(
            variance_table(variance).round(3).to_html(),
            title="Variance shares",
            section="Variance",
            tags=("variance",),
        )
    if fit is not None:
        fig = plot_alliance_effects(fit, show=False)
        report.add_figure(fig, title="Alliance effects", section="Alliance", tags=("alliance",))
        plt.close(fig)
        report.add_html(
            fit.summary().round(3).to_html(),
            title="Posterior summary",
            section="Alliance",
            tags=("alliance",),
        )
    logger.info(f"Report with {len(report.html)} items.")
    return report
