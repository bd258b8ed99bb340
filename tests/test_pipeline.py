"""One pipeline: the typed configuration, run_pipeline, its results, and the CLI on top."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import mne
import numpy as np
import pandas as pd
import pytest

import mne_dyad as md
from mne_dyad.pipeline import ConfigError, PipelineConfig

PACKAGE = Path(md.__file__).parent
STAGES = {
    "synchrony_cube",
    "test_above_chance",
    "variance_decomposition",
    "fit_alliance_model",
    "make_report",
}


def test_defaults_come_from_the_stage_functions(tmp_path):
    config = PipelineConfig()
    assert config.synchrony["method"] == "wclc" and config.synchrony["lag"] == 10.0
    # the pipeline's chance kind is the correction's (the arousal negative control)
    assert config.chance["kind"] == "circular_shift" and config.chance["n_surrogates"] == 100
    assert config.chance["correct"] is True and config.chance["summary"] == "all_lags"
    assert config.model["summary"] == config.variance["summary"] == "all_lags_es"
    assert config.variance["measurement_error"] is True
    raw = PipelineConfig({"chance": {"correct": False}})
    assert raw.model["summary"] == "all_lags" and raw.chance["kind"] == "circular_shift"
    assert config.model["outcomes"] == ("bond", "task", "goal")
    assert config.alliance["key"] == "sai"
    # sampling error is taken out of the variance shares where the summary has an SE
    assert config.variance["measurement_error"] is True
    susy = PipelineConfig({"synchrony": {"method": "susy"}})
    assert susy.model["summary"] == "Z_es" and susy.chance["summary"] == "Z"
    assert susy.variance["measurement_error"] is True  # the excess has an SE
    raw_susy = PipelineConfig({"synchrony": {"method": "susy"}, "chance": {"correct": False}})
    assert raw_susy.model["summary"] == raw_susy.chance["summary"] == "Z"
    assert raw_susy.variance["measurement_error"] is False  # SUSY's Z has no SE
    assert "max_lag" in susy.synchrony and "lag" not in susy.synchrony
    peak = PipelineConfig({"model": {"summary": "peak"}, "variance": {"summary": "lag0"}})
    assert (peak.chance["summary"], peak.variance["summary"]) == ("peak", "lag0")
    # the model uses the study's segment labels unless told otherwise
    other = PipelineConfig({"synchrony": {"segments": ["talk", "rest"]}})
    assert other.model["segments"] == ("talk", "rest")
    # a top-level seed seeds every stochastic step that does not set its own
    seeded = PipelineConfig({"seed": 7, "model": {"seed": 1}})
    assert (seeded.chance["seed"], seeded.variance["seed"], seeded.model["seed"]) == (7, 7, 1)
    # the whole configuration round-trips through plain types
    again = PipelineConfig(json.loads(json.dumps(seeded.to_dict())))
    assert again.to_dict() == seeded.to_dict()
    # and through a TOML file, as the report shows it (role tables, paths with quotes)
    rich = PipelineConfig(
        {
            "seed": 7,
            "readers": {"tabular": {"client": {"eda_column": 'EDA "L"'}, "unit": "uS"}},
            "preprocessing": {"decompose": {"method": "smoothmedian", "smoothing": 8.0}},
            "synchrony": {"signal": "phasic", "segments": ["talk", "rest"]},
        }
    )
    path = tmp_path / "again.toml"
    path.write_text(rich.to_toml())
    assert md.pipeline.read_config(path).to_dict() == rich.to_dict()
    assert '[readers.tabular.client]\neda_column = "EDA \\"L\\""' in rich.to_toml()


@pytest.mark.parametrize(
    "settings, message",
    [
        (
            {"segment": {"labels": ["IM"]}},
            r"\[segment\] is not a table .*did you mean \[segments\]",
        ),
        ({"chance": {"n_surogates": 5}}, r"\[chance\] has no key 'n_surogates'; did you mean "),
        ({"model": {"random_slope": True}}, r"\[model\] has no key .*'random_slopes'"),
        ({"synchrony": {"max_lag": 3.0}}, r"'max_lag': it is a parameter of method 'susy'"),
        ({"chance": {"method": "susy"}}, r"\[chance\] has no key 'method': .*\[synchrony\]"),
        ({"readers": {"tabular": {"sfrq": 4}}}, r"\[readers.tabular\] .*did you mean 'sfreq'"),
        ({"readers": {"edf": {}}}, r"\[readers.edf\] is not a reader"),
        ({"model": {"draws": "many"}}, r"\[model\] draws must be an integer, got 'many'"),
        ({"chance": {"min_shift": "1 min"}}, r"\[chance\] min_shift must be a number"),
        ({"model": {"multivariate": 1}}, r"\[model\] multivariate must be true or false"),
        (
            {"model": {"session_covariate": "quadratic"}},
            r"\[model\] Invalid value for the 'session_covariate' parameter",
        ),
        ({"model": {"centering": "group"}}, r"\[model\] centering must be one of"),
        ({"synchrony": {"method": "granger"}}, r"method must be one of \['wclc'"),
        ({"synchrony": {"lag": -1.0}}, r"\[synchrony\] lag must be"),
        ({"chance": {"kind": "bootstrap"}}, r"\[chance\] kind must be one of"),
        ({"model": {"summary": "profile"}}, r"\[model\] summary 'profile' is not a scalar"),
        ({"model": {"priors": {"beta_sd": 1}}}, r"\[model\] Unknown prior\(s\) \['beta_sd'\]"),
        ({"variance": {"ci_prob": 2}}, r"\[variance\] ci_prob must be between 0 and 1"),
        ({"model": {"segments": ["IM", "XX"]}}, r"\[model\] segments \['XX'\] are not among"),
        ({"seed": -3}, r"seed must be a non-negative integer"),
        ({"chance": 5}, r"\[chance\] must be a table, got 5"),
        ({"sed": 1}, r"\[sed\] is not a table or key .*did you mean 'seed'"),
        ({"variance": {"variable": "lag0"}}, r"'variable': it was renamed summary"),
        ({"model": {"seed": 1.5}}, r"\[model\] seed must be an integer, got 1.5"),
        ({"seed": True}, r"seed must be a non-negative integer, got True"),
        ({"chance": {"min_shift": -5.0}}, r"\[chance\] min_shift must be a positive"),
        ({"synchrony": {"roles": ["a", "b", "c"]}}, r"\[synchrony\] roles must be two names"),
        ({"synchrony": {"signal": "sweat"}}, r"signal must be one of \['raw', 'clean'"),
        ({"variance": {"segments": ["XX"]}}, r"\[variance\] segments \['XX'\] are not among"),
        ({"model": {"complete_on": ["XX"]}}, r"\[model\] complete_on \['XX'\] are not"),
        ({"model": {"outcomes": []}}, r"\[model\] outcomes must name at least one"),
        ({"combine": {"sfreq": -8.0}}, r"\[combine\] sfreq must be a positive rate"),
        ({"segments": {"time_format": "hours"}}, r"\[segments\] time_format must be one of"),
        ({"readers": {"tabular": {"unit": "volts"}}}, r"\[readers.tabular\] unit must be one"),
        ({"alliance": {"scale": [1, 2, 3]}}, r"\[alliance\] scale must be \[lowest, highest\]"),
        (
            {
                "synchrony": {"method": "susy"},
                "chance": {"correct": False},
                "variance": {"measurement_error": True},
            },
            r"\[variance\] measurement_error = true needs the standard error 'Z_se'",
        ),
    ],
)
def test_bad_settings_name_table_and_key(settings, message):
    with pytest.raises(ConfigError, match=message):
        PipelineConfig(settings)


def test_every_problem_is_reported_at_once(tmp_path):
    path = tmp_path / "params.toml"
    path.write_text('[segment]\nlabels = ["IM"]\n\n[chance]\nn_surogates = 5\nkind = "boot"\n')
    with pytest.raises(ConfigError) as info:
        md.pipeline.read_config(path)
    text = str(info.value)
    assert text.startswith(f"The configuration in {path} has 3 problems:")
    for part in ("[segment] is not a table", "'n_surogates'", "kind must be one of"):
        assert part in text
    path.write_text("[chance\n")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        md.pipeline.read_config(path)
    path.write_text('[alliance]\nfile = "C:\\study\\sai.csv"\n')  # a Windows path, as written
    with pytest.raises(ConfigError, match=r"Line 2 has a backslash.*forward slashes"):
        md.pipeline.read_config(path)
    with pytest.raises(FileNotFoundError, match="No configuration file"):
        md.pipeline.read_config(tmp_path / "none.toml")
    with pytest.raises(FileNotFoundError, match=r"only on Windows.*\(cfg/run.toml\)"):
        md.pipeline.read_config("cfg\\run.toml")


OFF = {"chance": {"enabled": False}, "variance": {"enabled": False}, "model": {"enabled": False}}


def test_run_pipeline_is_the_stages_in_order(small_study, tmp_path):
    sampling = {"draws": 150, "tune": 150, "chains": 1, "sampler": "pymc"}
    config = {
        "seed": 3,
        "synchrony": {"lag": 5.0},
        "chance": {"n_surrogates": 6, **sampling},
        "variance": sampling,
        "model": sampling,
    }
    with pytest.warns(RuntimeWarning):  # short chains: the samplers' diagnostics warn
        results = md.pipeline.run_pipeline(small_study, config)
    # each result is what the stage function gives with the same options
    np.testing.assert_array_equal(
        results.cube.all_lags.values, md.synchrony_cube(small_study, lag=5.0).all_lags.values
    )
    # one set of surrogates: the chance test of all_lags and the correction of every summary
    scalars = ["lag0", "all_lags", "x_leads", "y_leads", "x_leads_0", "y_leads_0"]
    scalars += ["best_lag", "peak", "grand_mean"]
    direct = md.surrogates.compare_with_surrogates(
        small_study, lag=5.0, n_surrogates=6, seed=3, kind="circular_shift", summary=scalars
    )
    np.testing.assert_array_equal(
        results.chance.surrogates.values, direct.surrogates.sel(summary="all_lags").values
    )
    corrected = md.surrogates.chance_corrected(results.cube, comparison=direct)
    for name in ("all_lags_excess", "peak_es_se"):
        np.testing.assert_array_equal(results.cube[name].values, corrected[name].values)
    assert results.fit.params["summary"] == "all_lags_es" and results.fit.params["seed"] == 3
    assert json.loads(results.variance["summary"].attrs["mne_dyad_params"])["summary"] == (
        "all_lags_es"
    )
    assert results.provenance["skipped"] == {} and results.provenance["alliance"] == "simulated"
    assert results.provenance["config"]["synchrony"]["lag"] == 5.0
    assert "within IM" in results.describe()

    paths = results.save(tmp_path / "out")
    assert [p.name for p in paths] == list(md.pipeline.OUTPUT_FILES)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        md.pipeline.OUTPUT_FILES
    )  # nothing else is left behind
    saved = json.loads((tmp_path / "out" / "provenance.json").read_text())
    assert saved["config"] == results.config.to_dict()
    assert saved["versions"]["mne"] is not None
    chance = md.read_cube(tmp_path / "out" / "chance.nc")
    np.testing.assert_allclose(chance.delta_mean.values, results.chance.delta_mean.values)
    summary = pd.read_csv(tmp_path / "out" / "summary.csv", index_col="coefficient")
    np.testing.assert_allclose(summary["mean"].values, results.fit.summary()["mean"].values)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        results.save(tmp_path / "out")
    results.save(tmp_path / "out", overwrite=True)
    # what a reader must know travels with the results: diagnostics, warnings, rates
    prov = results.provenance
    # the noise floor's decomposition has its own sampler, and its own row
    assert set(prov["diagnostics"]) == {"chance", "variance", "variance_noise_floor", "model"}
    floor = json.loads(results.variance["noise_floor"].attrs["mne_dyad_diagnostics"])
    assert prov["diagnostics"]["variance_noise_floor"] == floor
    keys = ("divergences", "max_rhat", "min_ess_bulk", "min_ess_required")
    assert prov["diagnostics"]["model"] == {k: results.fit.diagnostics[k] for k in keys}
    assert prov["diagnostics"]["model"]["min_ess_required"] == 400
    assert any("sampler reports" in w for w in prov["warnings"])
    assert set(prov["sfreq"]) == {f"{d}/{s}" for d, s in small_study.raws}
    assert {v["analysis"] for v in prov["sfreq"].values()} == {8.0}
    assert summary["divergences"].nunique() == 1 and summary["ess_bulk"].dtype.kind == "i"
    text = results.describe()
    assert "CAUTION: Only 6 dyads" in text and "CAUTION: The model sampler reports" in text
    page = (tmp_path / "out" / "report.html").read_text()
    assert "Check before reporting these results" in page and "Only 6 dyads" in page
    assert "Warnings of the run" in page and "Sampling rates and artifacts per session" in page


def test_steps_left_out_are_recorded(small_study, tmp_path):
    results = md.pipeline.run_pipeline(small_study, OFF)
    assert results.chance is None and results.variance is None and results.fit is None
    assert set(results.provenance["skipped"]) == {"chance", "variance", "model"}
    names = [p.name for p in results.save(tmp_path)]
    assert names == ["cube.nc", "report.html", "provenance.json"]
    # a study too small for a step: a warning, and the reason in the provenance
    two = {k: v for k, v in small_study.raws.items() if k[0] in ("D01", "D02")}
    config = {**OFF, "variance": {"enabled": True}}
    with pytest.warns(RuntimeWarning, match="No variance step: .*at least 3 dyads"):
        small = md.pipeline.run_pipeline(two, config)
    assert "at least 3 dyads" in small.provenance["skipped"]["variance"]
    assert small.provenance["skipped"]["model"] == "[model] enabled = false"


def test_the_stages_are_strung_together_in_one_place():
    """Only pipeline.py calls more than one stage; the CLI and the report call none."""
    callers = {}
    for path in PACKAGE.rglob("*.py"):
        called = {
            node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute | ast.Name)
        }
        if len(called & STAGES) > 1:
            callers[path.relative_to(PACKAGE).as_posix()] = sorted(called & STAGES)
    # stats/_chance.py's test_above_chance is one stage in two halves
    assert set(callers) == {"pipeline.py"}, callers
    cli = ast.parse((PACKAGE / "cli.py").read_text())
    names = {n.id for n in ast.walk(cli) if isinstance(n, ast.Name)}
    names |= {n.attr for n in ast.walk(cli) if isinstance(n, ast.Attribute)}
    assert not names & STAGES


def _cli(*args):
    script = Path(sys.executable).with_name("mne-dyad")
    return subprocess.run(
        [str(script), *map(str, args)], capture_output=True, text=True, timeout=600
    )


@pytest.fixture(scope="module")
def tabular_study(tmp_path_factory, write_tabular_study):
    """Three dyads x two sessions as CSV tables and coding sheets."""
    root = tmp_path_factory.mktemp("tabular")
    sim = md.simulation.simulate_study(n_dyads=3, n_sessions=2, n_usable=6, duration=300.0, seed=2)
    write_tabular_study(root, sim)
    (root / "params.toml").write_text("[readers.tabular]\nsfreq = 8.0\n")
    return root


def test_dry_run_checks_everything_and_computes_nothing(tabular_study, tmp_path):
    root = tabular_study
    proc = _cli("run", root / "manifest.csv", "--config", root / "params.toml", "--dry-run")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "6 sessions of 3 dyads at [8.0] Hz" in proc.stdout
    assert "segment 'IM': in 6 sessions" in proc.stdout
    assert "4. model: off (no alliance scores" in proc.stdout
    assert "outputs: cube.nc, chance.nc, variance.nc, report.html" in proc.stdout
    assert "No problems found" in proc.stdout
    assert not list(Path.cwd().glob("cube.nc"))
    # a bad file and a missing label: each named, all at once, exit 2
    bad = root / "manifest_bad.csv"
    table = pd.read_csv(root / "manifest.csv")
    pd.DataFrame({"other": [1.0, 2.0]}).to_csv(root / "broken.csv", index=False)
    table.loc[1, "client_file"] = "broken.csv"
    pd.DataFrame({"segment": ["talk"], "onset": [1.0], "duration": [60.0]}).to_csv(
        root / "talk.csv", index=False
    )
    table.loc[4, "coding_file"] = "talk.csv"
    table.to_csv(bad, index=False)
    proc = _cli("run", bad, "--config", root / "params.toml", "--dry-run")
    assert proc.returncode == 2
    assert "2 problem(s)" in proc.stderr and "Traceback" not in proc.stderr
    first, fifth = table.iloc[1], table.iloc[4]
    assert f"dyad {first.dyad}, session {first.session}: " in proc.stderr
    assert f"dyad {fifth.dyad}, session {fifth.session}: " in proc.stderr
    # a config typo stops the run before any file is read
    typo = tmp_path / "typo.toml"
    typo.write_text("[readers.tabular]\nsfreq = 8.0\n\n[segment]\nlabels = ['IM']\n")
    proc = _cli("run", root / "manifest.csv", "--config", typo, "--out", tmp_path / "never")
    assert proc.returncode == 2 and "did you mean [segments]?" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "never").exists()


def test_a_studys_own_options_are_kept_and_outputs_checked_first(tabular_study, tmp_path):
    root = tabular_study
    options = {"readers": {"tabular": {"sfreq": 8.0}}}
    study = md.io.read_study(root / "manifest.csv", options=options)
    # the configuration sets no [readers]: the study's own reader options stand
    results = md.pipeline.run_pipeline(study, OFF)
    assert results.cube.sizes["dyad"] == 3
    absent = {"synchrony": {"segments": ["XX"]}, "segments": {"labels": None}, **OFF}
    plan, problems = md.pipeline.check_run(study, absent)
    assert len(problems) == 1  # the same problem in six sessions, listed once
    assert "and 3 more sessions: none of the segments ['XX']" in problems[0]
    # phasic synchrony of a study read from files: [preprocessing] decomposes it
    plan, problems = md.pipeline.check_run(study, {"synchrony": {"signal": "phasic"}, **OFF})
    assert problems == []
    with pytest.raises(md.pipeline.ConfigError, match=r"signal = 'phasic' needs the decompose"):
        md.pipeline.PipelineConfig(
            {"synchrony": {"signal": "phasic"}, "preprocessing": {"decompose": False}}
        )
    # an earlier run's folder is refused before anything is computed ...
    out = tmp_path / "out"
    out.mkdir()
    (out / "posterior.nc").write_text("an earlier run")
    config = root / "params.toml"
    proc = _cli("run", root / "manifest.csv", "--config", config, "--out", out)
    assert proc.returncode == 2 and "already holds an earlier run's ['posterior.nc']" in proc.stderr
    assert "Synchrony cube" not in proc.stderr  # nothing was computed
    # ... and with --overwrite, a stale file of a step this run leaves out goes
    off = tmp_path / "off.toml"
    off.write_text(
        config.read_text() + "\n[chance]\nenabled = false\n\n[variance]\nenabled = false\n"
    )
    proc = _cli("run", root / "manifest.csv", "--config", off, "--out", out, "--overwrite")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert sorted(p.name for p in out.iterdir()) == ["cube.nc", "provenance.json", "report.html"]


def test_preprocessing_table_runs_before_synchrony(small_study):
    sessions = {k: raw.copy() for k, raw in small_study.raws.items()}
    key = sorted(sessions)[0]
    data = sessions[key].get_data()
    n = data.shape[1]
    data[0, : n // 2] = data[0, 0]  # the client's electrode off for half the session
    sessions[key] = mne.io.RawArray(data, sessions[key].info, verbose=False).set_annotations(
        sessions[key].annotations
    )
    config = {"synchrony": {"signal": "phasic"}, **OFF}
    with pytest.warns(RuntimeWarning, match=rf"dyad {key[0]}, session {key[1]}: 5\d% of the"):
        results = md.pipeline.run_pipeline(sessions, config)
    record = results.provenance["preprocessing"]
    assert record["flagged"] == [f"{key[0]}/{key[1]}"]
    assert 0.5 <= record["artifact_share"][f"{key[0]}/{key[1]}"] <= 0.52  # half + margin
    others = [v for k, v in record["artifact_share"].items() if k != f"{key[0]}/{key[1]}"]
    assert len(others) == len(sessions) - 1 and max(others) == 0.0
    assert json.loads(results.cube.attrs["mne_dyad_params"])["signal"] == "phasic"
    assert results.config.preprocessing["decompose"] is True  # turned on by the signal
    # the same phasic cube as preprocessing by hand, artifacts marked first
    by_hand = {
        k: md.preprocessing.preprocess_session(raw, decompose=True, verbose=False)
        for k, raw in sessions.items()
    }
    cube = md.synchrony_cube(by_hand, signal="phasic", verbose=False)
    np.testing.assert_allclose(cube.all_lags, results.cube.all_lags, atol=1e-12)
    # every option is checked before any data is read
    bad = {"preprocessing": {"artifacts": {"jmp": 3.0}, "clean": "fast", "decompose": 3}}
    with pytest.raises(md.pipeline.ConfigError) as info:
        md.pipeline.PipelineConfig(bad)
    text = str(info.value)
    assert "artifacts has no option 'jmp'; did you mean 'jump'?" in text
    assert "clean method must be one of ['neurokit', 'biosppy', 'none'], got 'fast'" in text
    assert "decompose must be true or false or a string or a table, got 3" in text


def test_run_checks_every_file_and_the_alliance_ids_first(tabular_study, tmp_path):
    root = tabular_study
    manifest = pd.read_csv(root / "manifest.csv")
    items = {f"item{i}": 5 for i in range(1, 7)}
    # the coder wrote sessions as "s1", "s2": the ids cannot meet the manifest's 1, 2
    sai = pd.DataFrame(
        [{"dyad": d, "session": f"s{s}", **items} for d, s in manifest[["dyad", "session"]].values]
    )
    sai.to_csv(tmp_path / "sai.csv", index=False)
    manifest["alliance_file"] = str(tmp_path / "sai.csv")
    manifest.to_csv(tmp_path / "manifest.csv", index=False)
    for f in root.glob("*.csv"):
        if f.name != "manifest.csv":
            (tmp_path / f.name).write_bytes(f.read_bytes())
    out = tmp_path / "out"
    proc = _cli("run", tmp_path / "manifest.csv", "--config", root / "params.toml", "--out", out)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "nothing computed" in proc.stderr and "Synchrony cube" not in proc.stderr
    assert "its sessions ['s1', 's2'] are none of the manifest's [1, 2]" in proc.stderr
    assert "[alliance] session_col" in proc.stderr
    assert not out.exists() or not any(out.iterdir())
    # numbered sessions, one of them unrated: the plan says which
    sai["session"] = [int(s[1:]) for s in sai.session]
    sai.iloc[1:].to_csv(tmp_path / "sai.csv", index=False)
    study = md.io.read_study(
        tmp_path / "manifest.csv", options={"readers": {"tabular": {"sfreq": 8.0}}}
    )
    plan, problems = md.pipeline.check_run(study, {"chance": {"enabled": False}})
    assert problems == []
    first = f"{sai.dyad.iloc[0]}/{sai.session.iloc[0]}"
    assert f"alliance: 5 of the 6 sessions are rated (not rated: {first})" in plan
    # one dyad spelt in lower case, one the manifest does not have: the first is a
    # problem naming both spellings, the second a note in the plan
    spelt = sai.copy()
    d0 = spelt.dyad.iloc[0]
    spelt["dyad"] = [d.lower() if d == d0 else d for d in spelt.dyad]
    extra = {**spelt.iloc[0].to_dict(), "dyad": "Z9"}
    pd.concat([spelt, pd.DataFrame([extra])]).to_csv(tmp_path / "sai.csv", index=False)
    plan, problems = md.pipeline.check_run(study, {"chance": {"enabled": False}})
    assert problems == [
        f"alliance data ({tmp_path / 'sai.csv'}): its dyads {d0.lower()!r} (manifest: "
        f"{d0!r}) are spelt otherwise in the manifest; write them as the manifest does "
        "([alliance] dyad_col names the table's column)"
    ]
    spelt.assign(dyad=sai.dyad.values).pipe(lambda t: pd.concat([t, pd.DataFrame([extra])])).to_csv(
        tmp_path / "sai.csv", index=False
    )
    plan, problems = md.pipeline.check_run(study, {"chance": {"enabled": False}})
    assert problems == [] and "the table's dyads ['Z9'] are not in the manifest" in plan
    # an alliance error's advice names the TOML key; a bad choice fails in the config
    pd.DataFrame([{"Dyad": "A", "Sess": 1, **items}]).to_csv(tmp_path / "sai.csv", index=False)
    plan, problems = md.pipeline.check_run(study, {"chance": {"enabled": False}})
    assert "(In a run's TOML: [alliance]" in problems[0]
    with pytest.raises(ConfigError, match="missing_items must be one of"):
        md.pipeline.PipelineConfig({"alliance": {"missing_items": "keep"}})


def test_check_run_finds_parameters_the_segments_cannot_hold(tabular_study):
    study = md.io.read_study(
        tabular_study / "manifest.csv", options={"readers": {"tabular": {"sfreq": 8.0}}}
    )
    config = {**OFF, "synchrony": {"window": 500.0, "lag": 200.0, "step": 100.0}}
    plan, problems = md.pipeline.check_run(study, config)
    assert any(
        p.startswith(
            "no 'IM' segment is long enough for wclc: it needs one window plus the "
            "maximum lag (500.0 s + 200.0 s)"
        )
        and "shorten [synchrony] window or lag" in p
        for p in problems
    ), problems
    assert "too short for the method in 6 session(s)" in plan
    plan, problems = md.pipeline.check_run(study, OFF)
    assert problems == [] and "too short" not in plan


def test_sessions_given_as_raws_take_the_analysis_rate(small_study):
    """[combine] sfreq brings in-memory sessions to one rate, as a manifest's are read."""
    keys = list(small_study.raws)[:6]
    fast = {
        k: small_study.raws[k].copy().resample(32.0, method="polyphase", verbose=False)
        for k in keys
    }
    results = md.pipeline.run_pipeline(fast, {**OFF, "combine": {"sfreq": 8.0}})
    params = json.loads(results.cube.attrs["mne_dyad_params"])
    assert params["sfreq"] == 8.0 and params["native_sfreq"] == [32.0]
    assert {v["analysis"] for v in results.provenance["sfreq"].values()} == {8.0}
    # the same synchrony as the original 8 Hz sessions, within the resampling's error
    direct = md.synchrony_cube({k: small_study.raws[k] for k in keys})
    np.testing.assert_allclose(results.cube.all_lags, direct.all_lags, atol=0.02)
    # without [combine] sfreq the sessions are analysed as given
    as_given = md.pipeline.run_pipeline(fast, OFF)
    assert json.loads(as_given.cube.attrs["mne_dyad_params"])["sfreq"] == 32.0
