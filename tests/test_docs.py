"""The documentation builds (gallery executed) and its pages render in Chromium."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import mne_dyad as md

ROOT = Path(__file__).parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("plot_*.py"))
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# the module's first test builds the docs (up to the build's own 30-minute limit)
pytestmark = [pytest.mark.slow, pytest.mark.docs, pytest.mark.timeout(2400)]


@pytest.fixture(scope="module")
def built_docs(tmp_path_factory):
    """Build the HTML docs with the gallery executed (quick examples, no network)."""
    out = tmp_path_factory.mktemp("docs") / "html"
    doctrees = out.parent / "doctrees"
    env = {
        **os.environ,
        "MNE_DYAD_EXAMPLES_QUICK": "1",
        "MNE_DYAD_DOCS_OFFLINE": "1",
        "MNE_DYAD_DOCS_RERUN": "1",  # execute every example, even if unchanged
        "MPLBACKEND": "Agg",
    }
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-q"]
    before = {p.name for p in (ROOT / "examples").iterdir()}
    proc = subprocess.run(
        [*cmd, "-d", str(doctrees), str(ROOT / "docs"), str(out)],
        env=env,
        capture_output=True,
        text=True,
        # the quick gallery (11 examples, several PyMC fits) takes 6-10 min on 2 busy
        # cores; its per-example budget is benchmarks/bench_examples.py's, not this
        timeout=1800,
    )
    assert proc.returncode == 0, f"sphinx-build failed:\n{proc.stderr[-6000:]}"
    # sphinx-gallery runs each example in examples/: it must leave nothing there
    _STRAY_FILES[:] = sorted(
        {p.name for p in (ROOT / "examples").iterdir()} - before - {"__pycache__"}
    )
    return out


#: Files the examples left in their working directory during the docs build.
_STRAY_FILES = []


def test_examples_write_no_files(built_docs):
    """What test_examples.py checks per script, for the examples run by the build."""
    assert _STRAY_FILES == []


def _is_png(path):
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000


def test_docs_pages_and_gallery(built_docs):
    for page in ("index", "install", "user_guide", "api", "auto_examples/index"):
        assert (built_docs / f"{page}.html").is_file(), page
    gallery = (built_docs / "auto_examples" / "index.html").read_text()
    for example in EXAMPLES:
        page = built_docs / "auto_examples" / f"{example.stem}.html"
        assert page.is_file() and f"{example.stem}.html" in gallery, example.name
        html = page.read_text()
        images = re.findall(rf'src="\.\./(_images/sphx_glr_{example.stem}_\d+\.png)"', html)
        assert images, f"{example.name}: its page shows no figure"
        for src in images:
            assert _is_png(built_docs / src), src
    # every example ran in this build (its time budget is checked by
    # benchmarks/bench_examples.py, not here: CI machines vary in load)
    times = (built_docs / "sg_execution_times.html").read_text()
    for example in EXAMPLES:
        found = re.search(rf"{example.stem}\.py.*?(\d\d):(\d\d)\.(\d\d\d)", times, re.S)
        assert found, f"{example.name} is missing from the execution times"
        minutes, seconds = int(found.group(1)), int(found.group(2))
        assert 60 * minutes + seconds + int(found.group(3)) / 1000 > 0, example.name
    # the API reference has a page per public function, with its docstring
    api = (ROOT / "docs" / "api.rst").read_text()
    names = re.findall(r"^   ([a-z_.A-Z]+)$", api, re.M)
    assert len(names) >= 30
    for name in names:
        page = built_docs / "generated" / f"mne_dyad.{name}.html"
        assert page.is_file(), name
    wclc = (built_docs / "generated" / "mne_dyad.synchrony.wclc.html").read_text()
    assert "Windowed cross-lagged correlation" in wclc and "Examples using" in wclc


def _chromium():
    path = os.environ.get("MNE_DYAD_CHROMIUM") or shutil.which("chromium")
    if not path:
        pytest.fail(
            "Chromium is needed to check that the docs and the report render: install "
            "Debian's package (apt-get install chromium) or set MNE_DYAD_CHROMIUM to a "
            "Chromium binary. tools/setup.sh test installs it when it can."
        )
    return path


def _render(url, screenshot):
    """Open ``url`` headless; return console errors and the state of every image."""
    from playwright.sync_api import sync_playwright

    errors = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=_chromium(), args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
            page.on("requestfailed", lambda r: errors.append(f"failed request: {r.url}"))
            page.goto(url, wait_until="load")
            page.wait_for_load_state("networkidle")
            images = page.evaluate(
                "Array.from(document.images).map(i => [i.currentSrc.slice(0, 80),"
                " i.complete, i.naturalWidth])"
            )
            page.screenshot(path=str(screenshot))
        finally:
            browser.close()
    return errors, images


def _check_screenshot(path):
    import matplotlib.image as mpimg

    pixels = mpimg.imread(path)[..., :3]
    assert pixels.shape[:2] == (900, 1280)
    non_white = (pixels < 0.95).any(axis=-1).mean()
    assert non_white > 0.02, f"{path.name}: the page looks blank ({non_white:.1%} ink)"
    assert np.std(pixels) > 0.05, f"{path.name}: the page has no contrast"


@pytest.fixture(scope="module")
def report_html(tmp_path_factory, small_study, small_cube):
    """A report from a real (small) run of every stage."""
    kw = dict(draws=200, tune=200, sampler="pymc", verbose="error")
    chance = md.stats.test_above_chance(small_study, n_surrogates=10, seed=0, **kw)
    variance = md.stats.variance_decomposition(small_cube, seed=1, **kw)
    fit = md.stats.fit_alliance_model(small_cube, small_study.alliance, seed=2, **kw)
    # the Run section from what a run's provenance records of these stages
    from mne_dyad.pipeline import _diagnostics_of, _rates_of

    run = {
        "diagnostics": _diagnostics_of(chance, variance, fit),
        "sfreq": _rates_of(small_study.raws),
        "warnings": [],
        "config": {},
    }
    report = md.report.make_report(
        small_cube, raws=small_study.raws, surrogates=chance, variance=variance, fit=fit, run=run
    )
    # every section, in order
    assert list(dict.fromkeys(el.section for el in report._content)) == list(md.report.SECTIONS)
    path = tmp_path_factory.mktemp("report") / "report.html"
    report.save(path, open_browser=False, verbose=False)
    return path


def test_report_renders_in_chromium(report_html, tmp_path):
    errors, images = _render(report_html.as_uri(), tmp_path / "report.png")
    assert errors == []
    # the MNE logo, the trace slider (one per session), cube, chance, variance, effects
    figures = [i for i in images if i[0].startswith("data:image/")]
    assert len(figures) >= 4 + 15 and all(done and width > 100 for _, done, width in figures[1:])
    _check_screenshot(tmp_path / "report.png")


@pytest.mark.parametrize("page", ["index", "auto_examples/plot_08_reproduce_2019"])
def test_docs_render_in_chromium(built_docs, page, tmp_path):
    errors, images = _render((built_docs / f"{page}.html").as_uri(), tmp_path / "page.png")
    assert errors == []
    assert len(images) >= 3, images  # the index shows gallery thumbnails
    broken = [src for src, done, width in images if not (done and width > 0)]
    assert broken == [], broken
    _check_screenshot(tmp_path / "page.png")
