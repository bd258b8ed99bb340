import base64
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mne_dyad as md
from mne_dyad.cli import DEMO_FILES


class _Figures(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images = []
        self.open_tags = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "html":
            self.open_tags += 1
        if tag == "img" and attrs.get("src", "").startswith("data:image/"):
            self.images.append((attrs.get("alt", ""), attrs["src"]))


def _console_script():
    script = Path(sys.executable).with_name("mne-dyad")
    if not script.exists():
        pytest.fail(f"The mne-dyad console script is not installed next to {sys.executable}.")
    return str(script)


def test_version_entry_point():
    out = subprocess.run(
        [_console_script(), "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == f"mne-dyad {md.__version__}"


@pytest.mark.slow
@pytest.mark.heavy
def test_demo_quick_writes_all_outputs(tmp_path):
    out = tmp_path / "demo"
    proc = subprocess.run(
        [_console_script(), "demo", "--quick", "--out", str(out), "--seed", "3"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(p.name for p in out.iterdir()) == sorted(DEMO_FILES)  # no leftovers
    # the printed table: within/between x IM/CB on each scale, then the paths
    assert "within IM" in proc.stdout and "between CB" in proc.stdout
    # a clean run: no sampler or data warning (the dyad means of about 3 sessions are
    # unreliable, which the default latent centring takes into account)
    warnings = [line for line in proc.stderr.splitlines() if "RuntimeWarning" in line]
    assert not warnings, proc.stderr[-2000:]
    for name in DEMO_FILES:
        assert str(out / name) in proc.stdout
    cube = md.read_cube(out / "cube.nc")
    assert dict(cube.all_lags.sizes) == {"dyad": 12, "session": 4, "segment": 2}
    fit = md.stats.read_alliance_fit(out / "posterior.nc")
    summary = pd.read_csv(out / "summary.csv", index_col="coefficient")
    expected = fit.summary()
    ess = ["ess_bulk", "ess_tail"]
    pd.testing.assert_frame_equal(
        summary[expected.columns].drop(columns=ess),
        expected.drop(columns=ess),
        check_exact=False,
        rtol=1e-9,
        check_names=False,
    )
    np.testing.assert_array_equal(summary[ess].values, expected[ess].round().values)
    # the fit's own diagnostics travel with the table
    assert (summary["divergences"] == fit.diagnostics["divergences"]).all()
    np.testing.assert_allclose(summary["fit_max_rhat"], fit.diagnostics["max_rhat"])
    html = (out / "report.html").read_text()
    parser = _Figures()
    parser.feed(html)
    parser.close()
    assert parser.open_tags == 1 and html.rstrip().endswith("</html>")
    alts = [alt for alt, _ in parser.images]
    for title in (
        "Dyad traces",
        "Synchrony cube",
        "Synchrony against chance",
        "Dyad and session shares",
        "Alliance effects",
    ):
        assert any(alt.startswith(title) for alt in alts), alts
    magic = {"png": (0, b"\x89PNG\r\n\x1a\n"), "webp": (8, b"WEBP")}
    for _, src in parser.images:  # each a real image of the type it declares
        header, payload = src.split(",", 1)
        kind = header.removeprefix("data:image/").split(";")[0]
        offset, signature = magic[kind]
        blob = base64.b64decode(payload)
        assert blob[offset : offset + len(signature)] == signature and len(blob) > 5000
