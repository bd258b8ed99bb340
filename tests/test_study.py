"""A study folder on disk: manifest, device files, coding sheets, alliance, `mne-dyad run`."""

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mne_dyad as md
from mne_dyad.cli import OUTPUT_FILES


def _write_e4(path, raw, role):
    path.parent.mkdir(parents=True, exist_ok=True)
    start = raw.info["meas_date"].timestamp()
    values = raw.get_data(picks=role)[0] * 1e6
    path.write_text(f"{start}\n{raw.info['sfreq']}\n" + "".join(f"{v:.6f}\n" for v in values))


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory):
    """Four dyads x two sessions written as E4 exports, coding sheets and an SAI table."""
    import datetime as dt

    root = tmp_path_factory.mktemp("study")
    sim = md.simulation.simulate_study(n_dyads=4, n_sessions=2, n_usable=8, duration=600.0, seed=5)
    rows, sai = [], []
    for k, ((dyad, session), raw) in enumerate(sim.raws.items()):
        raw = raw.copy().set_meas_date(
            dt.datetime(2019, 1, 1, 9, tzinfo=dt.UTC) + dt.timedelta(days=k)
        )
        folder = Path(f"{dyad}_s{session}")
        _write_e4(root / folder / "client" / "EDA.csv", raw, "client")
        _write_e4(root / folder / "therapist" / "EDA.csv", raw, "therapist")
        ann = raw.annotations
        pd.DataFrame(
            {
                "segment": ["imagery" if d == "IM" else "cognitive" for d in ann.description],
                "onset": ann.onset - raw.first_time,
                "duration": ann.duration,
            }
        ).to_csv(root / folder / "coding.csv", index=False)
        rows.append(
            {
                "dyad": dyad,
                "session": session,
                "therapist": f"T{int(dyad[1:]) % 2}",  # one therapist per dyad
                "client_file": str(folder / "client" / "EDA.csv"),
                "therapist_file": str(folder / "therapist" / "EDA.csv"),
                "coding_file": str(folder / "coding.csv"),
            }
        )
        scores = sim.alliance.sel(dyad=dyad, session=session)
        sai.append(
            {
                "dyad": dyad,
                "session": session,
                **{o: float(scores[o]) for o in ("bond", "task", "goal")},
            }
        )
    pd.DataFrame(rows).assign(alliance_file="sai.csv").to_csv(root / "manifest.csv", index=False)
    pd.DataFrame(sai).to_csv(root / "sai.csv", index=False)
    (root / "config.toml").write_text(
        '[synchrony]\nlag = 5.0\n\n[segments]\nmapping = {imagery = "IM", cognitive = "CB"}\n\n'
        '[alliance]\nkey = {bond = ["bond"], task = ["task"], goal = ["goal"]}\nscale = [0, 10]\n'
        '\n[model]\ndraws = 300\ntune = 300\nsampler = "pymc"\nseed = 1\n'
        '\n[chance]\nn_surrogates = 20\ndraws = 200\ntune = 200\nsampler = "pymc"\nseed = 2\n'
        '\n[variance]\ndraws = 200\ntune = 200\nsampler = "pymc"\nseed = 3\n'
    )
    return root, sim


def test_read_study_loads_sessions_lazily(study_dir):
    root, sim = study_dir
    options = {"segments": {"mapping": {"imagery": "IM", "cognitive": "CB"}}}
    study = md.io.read_study(root / "manifest.csv", options=options)
    assert len(study.raws) == 8 and study.alliance_file == (root / "sai.csv").resolve()
    assert study.raws._cache == {}  # nothing read yet
    key = next(iter(sim.raws))
    raw = study.raws[key]
    assert raw.ch_names == ["client", "therapist"] and len(study.raws._cache) == 1
    np.testing.assert_allclose(raw.get_data(), sim.raws[key].get_data(), atol=1e-12)
    assert sorted(set(raw.annotations.description)) == ["CB", "IM"]
    assert md.io.get_session_info(raw)["therapist"] in ("T0", "T1")
    cube = md.synchrony_cube(study, lag=5.0)
    direct = md.synchrony_cube(sim.raws, lag=5.0)
    # the files keep 6 decimals of microsiemens: synchrony agrees to about 1e-6
    np.testing.assert_allclose(cube.all_lags.values, direct.all_lags.values, atol=1e-5)


def test_toml_manifest(study_dir):
    root, _ = study_dir
    table = pd.read_csv(root / "manifest.csv")
    lines = ['alliance_file = "sai.csv"\n']
    for _, row in table.iterrows():
        lines.append(
            "[[session]]\n"
            + "".join(
                f'{c} = "{row[c]}"\n' if c != "session" else f"session = {row[c]}\n"
                for c in ("dyad", "session", "client_file", "therapist_file", "coding_file")
            )
        )
    (root / "manifest.toml").write_text("\n".join(lines))
    study = md.io.read_study(root / "manifest.toml")
    assert len(study.raws) == 8 and study.alliance_file is not None


def test_manifest_errors(study_dir, tmp_path):
    root, _ = study_dir
    table = pd.read_csv(root / "manifest.csv")
    bad = root / "dup.csv"
    pd.concat([table, table.iloc[:1]]).to_csv(bad, index=False)
    with pytest.raises(ValueError, match=r"lists \(dyad, session\) \[\('D0\d', \d\)\] more than"):
        md.io.read_study(bad)
    bad = root / "missing.csv"
    table.assign(coding_file=table.coding_file.where(table.index != 2, "nope.csv")).to_csv(
        bad, index=False
    )
    with pytest.raises(
        FileNotFoundError, match=r"1 missing file\(s\): row 3 coding_file 'nope.csv'"
    ):
        md.io.read_study(bad)
    bad = root / "nocol.csv"
    table.drop(columns="coding_file").to_csv(bad, index=False)
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['coding_file'\]"):
        md.io.read_study(bad)
    with pytest.raises(FileNotFoundError, match="No manifest file"):
        md.io.read_study(tmp_path / "none.csv")
    # read through a study, an option's fix names its key in a run's TOML
    study = md.io.read_study(root / "manifest.csv")  # no label mapping
    with pytest.raises(
        ValueError,
        match=r"\['cognitive', 'imagery'\] that are not among.*Pass mapping=.*"
        r"\(In a run's TOML: \[segments\] mapping\.\)$",
    ):
        study.raws[study.keys()[0]]
    (tmp_path / "two.csv").write_text("EDA left,EDA right\n" + "2.0,3.0\n" * 400)
    with pytest.raises(
        ValueError, match=r"pass eda_column=.*\(In a run's TOML: \[readers.tabular\] eda_column"
    ):
        md.io.read_recording(tmp_path / "two.csv", {"tabular": {"sfreq": 8.0}})


def _run(*args):
    script = Path(sys.executable).with_name("mne-dyad")
    return subprocess.run(
        [str(script), "run", *map(str, args)], capture_output=True, text=True, timeout=600
    )


@pytest.mark.slow
def test_run_cli_writes_outputs(study_dir, tmp_path):
    root, _ = study_dir
    out = tmp_path / "results"
    proc = _run(root / "manifest.csv", "--out", out, "--config", root / "config.toml", "--quiet")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUT_FILES)
    cube = md.read_cube(out / "cube.nc")
    assert '"lag": 5.0' in cube.attrs["mne_dyad_params"]
    assert "within IM" in proc.stdout
    html = (out / "report.html").read_text()
    for title in ("Synchrony against chance", "Variance shares", "Alliance effects"):
        assert title in html, title
    # steps can be switched off in the config
    config = root / "config.toml"
    off = tmp_path / "off.toml"
    off.write_text(
        config.read_text()
        .replace("[chance]\n", "[chance]\nenabled = false\n")
        .replace("[variance]\n", "[variance]\nenabled = false\n")
    )
    out_off = tmp_path / "off"
    proc = _run(root / "manifest.csv", "--out", out_off, "--config", off, "--quiet")
    assert proc.returncode == 0, proc.stderr[-2000:]
    html = (out_off / "report.html").read_text()
    assert "Synchrony against chance" not in html and "Variance shares" not in html
    # a broken manifest: a clear message, exit 2, no partial outputs
    bad = tmp_path / "bad.csv"
    pd.read_csv(root / "manifest.csv").assign(client_file="missing/EDA.csv").to_csv(
        bad, index=False
    )
    out2 = tmp_path / "never"
    proc = _run(bad, "--out", out2)
    assert proc.returncode == 2 and "missing file(s)" in proc.stderr
    assert "Traceback" not in proc.stderr and not out2.exists()


def test_device_markers_and_coded_segments_together(study_dir):
    """E4 tags (annotations on the meas_date clock) merge with session-relative segments."""
    root, _ = study_dir
    row = pd.read_csv(root / "manifest.csv").iloc[0]
    client = root / row.client_file
    start = float(client.read_text().split("\n", 1)[0])
    tags = client.parent / "tags.csv"
    tags.write_text(f"{start + 100.0}\n")
    options = {"segments": {"mapping": {"imagery": "IM", "cognitive": "CB"}}}
    try:
        study = md.io.read_study(root / "manifest.csv", options=options)
        raw = study.raws[(row.dyad, int(row.session))]
    finally:
        tags.unlink()
    coding = pd.read_csv(root / row.coding_file)
    ann = raw.annotations
    seconds = ann.onset - raw.first_time  # both on the session's clock
    marker = [s for s, d in zip(seconds, ann.description, strict=True) if d not in ("IM", "CB")]
    np.testing.assert_allclose(marker, [100.0], atol=1 / raw.info["sfreq"])
    np.testing.assert_allclose(
        np.sort(seconds[ann.description == "IM"]),
        np.sort(coding.onset[coding.segment == "imagery"]),
        atol=1e-6,
    )


@pytest.mark.slow
@pytest.mark.heavy
def test_run_cli_with_another_method(study_dir, tmp_path):
    """Every step follows the method's main summary (SUSY's Z, chance-corrected) by default."""
    root, _ = study_dir
    config = (root / "config.toml").read_text().replace("lag = 5.0", 'method = "susy"')
    (tmp_path / "susy.toml").write_text(config)
    out = tmp_path / "susy"
    proc = _run(root / "manifest.csv", "--out", out, "--config", tmp_path / "susy.toml", "--quiet")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Synchrony (Z_es) -> alliance" in proc.stdout
    html = (out / "report.html").read_text()
    assert "Synchrony cube (Z_es)" in html and "Synchrony against chance" in html
    assert "Variance shares" in html
    bad = tmp_path / "bad.toml"
    bad.write_text('[synchrony]\nmethod = "granger"\n')
    proc = _run(root / "manifest.csv", "--out", tmp_path / "never", "--config", bad)
    assert proc.returncode == 2 and "method must be one of" in proc.stderr
    assert not (tmp_path / "never").exists()


def test_per_session_settings_in_the_manifest(tmp_path):
    """A session's own rates, start times, clock skew and a role's reader options."""
    import datetime as dt

    raw = md.simulation.simulate_session(duration=300, seed=4, segments=[("IM", 20.0, 200.0)])
    client = raw.get_data(picks="client")[0] * 1e6
    therapist = raw.get_data(picks="therapist")[0] * 1e6
    # the client's table has no time column and is at 8 Hz; the therapist's device
    # names its column "GSR" and started 3 s after the client, by its own clock
    # that runs 2 s behind
    pd.DataFrame({"value": client}).to_csv(tmp_path / "c.csv", index=False)
    pd.DataFrame({"GSR": therapist[24:]}).to_csv(tmp_path / "t.csv", index=False)
    pd.DataFrame({"segment": ["IM"], "onset": [20.0], "duration": [200.0]}).to_csv(
        tmp_path / "coding.csv", index=False
    )
    pd.DataFrame(
        {
            "dyad": ["D1"],
            "session": [1],
            "client_file": ["c.csv"],
            "therapist_file": ["t.csv"],
            "coding_file": ["coding.csv"],
            "client_start": ["10:00:00"],
            "therapist_start": ["10:00:01"],  # 3 s later, on a clock 2 s behind
            "offset": ["2.0"],
            "client_sfreq": ["8"],
            "therapist_sfreq": ["8.0"],
        }
    ).to_csv(tmp_path / "manifest.csv", index=False)
    options = {"readers": {"tabular": {"eda_column": "value", "therapist": {"eda_column": "GSR"}}}}
    study = md.io.read_study(tmp_path / "manifest.csv", options=options)
    session = study.raws["D1", 1]
    info = md.io.get_session_info(session)
    assert info["alignment"]["offset_s"] == 2.0
    assert info["alignment"]["cropped"]["client"]["start_s"] == 3.0
    assert session.info["meas_date"] == dt.datetime(2000, 1, 1, 10, 0, 3, tzinfo=dt.UTC)
    x, y = session.get_data() * 1e6
    np.testing.assert_allclose(x, client[24:], atol=1e-5)  # aligned sample for sample
    np.testing.assert_allclose(y, therapist[24:], atol=1e-5)
    # the same as a run's configuration, role tables and all
    config = md.pipeline.PipelineConfig(
        {"readers": {"tabular": {"eda_column": "value", "therapist": {"eda_column": "GSR"}}}}
    )
    assert config.readers["tabular"]["therapist"] == {"eda_column": "GSR"}
    with pytest.raises(md.pipeline.ConfigError, match=r"\[readers.tabular.therapist\] has no key"):
        md.pipeline.PipelineConfig({"readers": {"tabular": {"therapist": {"eda_col": "GSR"}}}})
    # bad cells are named before any file is read
    table = pd.read_csv(tmp_path / "manifest.csv", dtype=str)
    for column, value, match in [
        ("client_start", "ten o'clock", r"client_start \"ten o'clock\" in row 1 is not a clock"),
        ("therapist_sfreq", "-8", r"therapist_sfreq '-8' in row 1 is not a rate in Hz"),
        ("offset", "two", r"offset 'two' in row 1 is not a number of seconds"),
    ]:
        table.assign(**{column: [value]}).to_csv(tmp_path / "bad.csv", index=False)
        with pytest.raises(ValueError, match=match):
            md.io.read_study(tmp_path / "bad.csv")


def test_warnings_of_reading_reach_the_provenance(tmp_path):
    """A session read (and warned about) by the check before the run: its warning is kept."""
    rng = np.random.default_rng(0)
    for name, seconds in (("c.csv", 600), ("t.csv", 660)):  # the therapist's runs 60 s longer
        values = 3 + np.cumsum(rng.normal(0, 0.01, int(seconds * 8)))
        (tmp_path / name).write_text("eda\n" + "".join(f"{v:.4f}\n" for v in values))
    (tmp_path / "coding.csv").write_text("label,onset,duration\nIM,30,250\nCB,300,250\n")
    (tmp_path / "m.csv").write_text(
        "dyad,session,client_file,therapist_file,coding_file\nA,1,c.csv,t.csv,coding.csv\n"
    )
    config = md.pipeline.PipelineConfig(
        {
            "readers": {"tabular": {"sfreq": 8.0}},
            **{step: {"enabled": False} for step in ("chance", "variance", "model")},
        }
    )
    study = md.io.read_study(tmp_path / "m.csv", options=config.study_options())
    with pytest.warns(RuntimeWarning, match=r"dyad A, session 1: .* 9.1% of the therapist's"):
        plan, problems = md.pipeline.check_run(study, config)
    assert problems == [] and "reading 1 session(s) raised warnings" in plan
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # read once, by the check: nothing new is warned
        results = md.pipeline.run_pipeline(study, config)
    assert any("9.1% of the therapist's" in w for w in results.provenance["warnings"])


def test_european_tables_of_a_study(tmp_path):
    """Coding sheet, alliance table and manifest written with semicolons and decimal commas."""
    (tmp_path / "coding.csv").write_text("label;onset;duration\nIM;30,5;84,95\nCB;120;60,25\n")
    ann = md.io.read_segments(tmp_path / "coding.csv")
    np.testing.assert_allclose(ann.onset, [30.5, 120.0])
    np.testing.assert_allclose(ann.duration, [84.95, 60.25])
    (tmp_path / "sai.csv").write_text(
        "dyad;session;bond;task;goal\nD1;1;5,5;4;6,25\nD1;2;6;4,5;5\n"
    )
    key = {"bond": ["bond"], "task": ["task"], "goal": ["goal"]}
    sai = md.alliance.read_sai(tmp_path / "sai.csv", key=key, scale=(1, 7))
    np.testing.assert_allclose(sai.bond.sel(dyad="D1").values, [5.5, 6.0])
    np.testing.assert_allclose(sai.goal.sel(dyad="D1").values, [6.25, 5.0])
    for name in ("c.csv", "t.csv"):
        (tmp_path / name).write_text("eda\n" + "2.5\n" * 4000)
    (tmp_path / "m.csv").write_text(
        "dyad;session;client_file;therapist_file;coding_file;offset\n"
        "D1;1;c.csv;t.csv;coding.csv;1,5\n"
    )
    study = md.io.read_study(tmp_path / "m.csv")
    assert study.keys() == [("D1", 1)] and float(study.table.offset.iloc[0]) == 1.5


def test_a_roles_reading_error_names_its_own_keys(tmp_path):
    (tmp_path / "c.csv").write_text(
        "Time (s),eda\n" + "".join(f"{k / 8},2.5\n" for k in range(800))
    )
    (tmp_path / "t.csv").write_text("EDA a,EDA b\n" + "2.5,3.0\n" * 800)
    (tmp_path / "coding.csv").write_text("label,onset,duration\nIM,10,50\n")
    header = "dyad,session,client_file,therapist_file,coding_file"
    cases = (
        # the manifest's rate for the client contradicts the client's own times
        (
            f"{header},client_sfreq\nA,1,c.csv,t.csv,coding.csv,16\n",
            r"gives 8.000000 Hz but sfreq=16 Hz.*manifest's client_sfreq \(16, dyad A, "
            r"session 1\)",
        ),
        # the therapist's table has two EDA columns: that role's own subtable
        (
            f"{header}\nA,1,c.csv,t.csv,coding.csv\n",
            r"\[readers.tabular.therapist\] eda_column for the therapist's files only",
        ),
    )
    for manifest, message in cases:
        (tmp_path / "m.csv").write_text(manifest)
        study = md.io.read_study(tmp_path / "m.csv", options={"readers": {"tabular": {"sfreq": 8}}})
        with pytest.raises(ValueError, match=message):
            study.raws[("A", 1)]
