"""The session model of ``mne_dyad.io``: one annotation clock, one notion of sessions."""

import datetime as dt
import inspect

import mne
import numpy as np
import pandas as pd
import pytest

import mne_dyad as md
from mne_dyad.io._session import _segment_spans

SHEET = pd.DataFrame({"segment": ["IM", "CB"], "onset": [60.0, 400.0], "duration": [120, 200]})


def _session(meas_date, first_samp=0):
    """A 10-minute 8 Hz session with a 20 s flat line in the therapist's EDA."""
    rng = np.random.default_rng(0)
    data = 2e-6 + 1e-8 * rng.standard_normal((2, 8 * 600)).cumsum(axis=1)
    data[1, 800:960] = data[1, 800]
    info = mne.create_info(["client", "therapist"], 8.0, "gsr")
    raw = mne.io.RawArray(data, info, first_samp=first_samp, verbose=False)
    raw.set_meas_date(meas_date)
    raw.set_annotations(raw.annotations)  # the Raw's own (empty) annotations, its clock
    return raw


@pytest.mark.parametrize(
    "meas_date, first_samp",
    [
        (dt.datetime(2019, 5, 6, 14, 0, tzinfo=dt.UTC), 0),
        (dt.datetime(2019, 5, 6, 14, 0, tzinfo=dt.UTC), 800),  # a cropped recording
        (None, 0),
        (None, 800),
    ],
    ids=["meas_date", "meas_date-first_samp", "no_meas_date", "no_meas_date-first_samp"],
)
def test_segments_and_artifacts_share_the_raw_clock(meas_date, first_samp):
    raw = _session(meas_date, first_samp)
    segments = md.io.read_segments(SHEET, raw=raw)
    artifacts = md.preprocessing.annotate_artifacts(raw)
    assert len(artifacts) == 1 and segments.orig_time == raw.annotations.orig_time
    # the two idioms of the README
    both = md.io.read_segments(SHEET, raw=raw) + md.preprocessing.annotate_artifacts(raw)
    assert sorted(both.description) == ["BAD_artifact", "CB", "IM"]
    if meas_date is None and first_samp:
        # MNE itself: without a meas_date, raw.annotations come back shifted by
        # first_time, so raw.set_annotations(raw.annotations + ...) moves the old ones
        raw.set_annotations(both)
    else:
        raw.set_annotations(raw.annotations + segments)
        raw.set_annotations(raw.annotations + artifacts)
    assert sorted(raw.annotations.description) == ["BAD_artifact", "CB", "IM"]
    # session seconds: IM at 60 s for 120 s, the flat line from 100 s (sample 800)
    onsets = raw.annotations.onset - raw.first_time
    rel = dict(zip(raw.annotations.description, onsets, strict=True))
    assert rel["IM"] == pytest.approx(60.0) and rel["CB"] == pytest.approx(400.0)
    assert rel["BAD_artifact"] == pytest.approx(100.0, abs=1.0)
    # and the samples the synchrony sees are those of the coding sheet
    assert _segment_spans(raw, "IM") == [(480, 1440)]
    assert _segment_spans(raw, "CB") == [(3200, 4800)]


def test_segments_without_a_raw_count_from_the_first_sample():
    ann = md.io.read_segments(SHEET)
    assert ann.orig_time is None and ann.onset.tolist() == [60.0, 400.0]


@pytest.fixture(scope="module")
def study():
    return md.simulation.simulate_study(n_dyads=3, n_sessions=2, n_usable=5, duration=300, seed=2)


def test_every_sessions_function_takes_a_study(study):
    """A SimulatedStudy, a Study's mapping and a plain dict give the same results."""
    by_study = md.surrogates.pseudo_dyads(study, n_surrogates=4, seed=1)
    by_dict = md.surrogates.pseudo_dyads(dict(study.raws), n_surrogates=4, seed=1)
    assert by_study.identical(by_dict)
    assert (by_study.partner_dyad != by_study.dyad).where(by_study.partner_session > 0, True).all()
    cube = md.synchrony_cube(study, lag=5.0, verbose=False)
    assert cube.identical(md.synchrony_cube(dict(study.raws), lag=5.0, verbose=False))
    kw = dict(n_surrogates=3, seed=2, lag=5.0)
    chance = md.surrogates.compare_with_surrogates(study, **kw)
    assert chance.identical(md.surrogates.compare_with_surrogates(dict(study.raws), **kw))
    off = {s: {"enabled": False} for s in ("chance", "variance", "model")}
    off["synchrony"] = {"lag": 5.0}
    plan_config = {"synchrony": {"lag": 5.0}}
    plans = [
        md.pipeline.check_run(s, plan_config)[0].splitlines() for s in (study, dict(study.raws))
    ]
    assert plans[0][1:4] == plans[1][1:4]  # the same sessions and segments
    assert "alliance scores: simulated" in plans[0][4]  # only the study has scores
    arousal = md.synchrony.arousal(study, verbose=False)
    assert arousal.identical(md.synchrony.arousal(dict(study.raws), verbose=False))
    res = md.pipeline.run_pipeline(study, off)
    assert res.cube.identical(md.pipeline.run_pipeline(dict(study.raws), off).cube)
    # every public function whose first argument is the sessions is covered here
    # (test_above_chance, in both homes, is compare_with_surrogates + a model;
    # make_report's study input is deprecated)
    covered = {"pseudo_dyads", "synchrony_cube", "compare_with_surrogates", "check_run"}
    covered |= {"run_pipeline", "test_above_chance", "make_report", "arousal"}
    found = set()
    for space in ("io", "pipeline", "report", "stats", "surrogates", "synchrony", "viz"):
        module = getattr(md, space)
        for name in module.__all__:
            func = getattr(module, name)
            if callable(func) and not isinstance(func, type):
                first = next(iter(inspect.signature(func).parameters), "")
                if first in ("sessions", "study", "study_or_cube"):
                    found.add(name)
    assert found == covered


def test_sessions_of_the_wrong_type_name_what_is_accepted():
    with pytest.raises(TypeError, match=r"a study .* or a \{\(dyad, session\): raw\} mapping"):
        md.surrogates.pseudo_dyads([1, 2, 3])


@pytest.mark.parametrize(
    "meas_date, first_samp", [(None, 0), (dt.datetime(2020, 1, 1, tzinfo=dt.UTC), 80)]
)
def test_bad_spans_are_blanked_exactly(meas_date, first_samp):
    """BAD spans (any case) are NaN on the samples the segments' own rounding gives."""
    from mne_dyad.io._session import _session_signals

    raw = _session(meas_date, first_samp)
    t0 = raw.first_time
    bads = mne.Annotations([t0 + 10.06, t0 + 300.0], [5.0, 2.5], ["BAD_artifact", "bad_motion"])
    segs = mne.Annotations([t0 + 0.0], [590.0], ["IM"])
    raw.set_annotations(raw.annotations + bads + segs)
    x, y = _session_signals(raw, ("client", "therapist"))
    expected = np.zeros(raw.n_times, bool)
    for label in ("BAD_artifact", "bad_motion"):
        for start, stop in _segment_spans(raw, label):
            expected[start:stop] = True
    assert expected.sum() == 40 + 20  # 5 s and 2.5 s at 8 Hz
    np.testing.assert_array_equal(np.isnan(x), expected)
    np.testing.assert_array_equal(np.isnan(y), expected)
    np.testing.assert_array_equal(x[~expected], raw.get_data(picks="client")[0][~expected])
    # the Raw itself is untouched
    assert not np.isnan(raw.get_data()).any()


def test_one_name_for_a_recording_in_messages(tmp_path):
    from mne_dyad.io._session import _describe

    raw = _session(None)
    assert _describe(raw) == "in-memory recording"
    fname = tmp_path / "s_raw.fif"
    raw.save(fname, verbose=False)
    on_disk = mne.io.read_raw_fif(fname, verbose=False)
    assert _describe(on_disk) == f"recording {fname}"
    session = md.io.combine_dyad(
        on_disk.copy().pick(["client"]), on_disk.copy().pick(["therapist"]), dyad="D07", session=3
    )
    assert _describe(session, file=False) == "dyad D07, session 3"
    assert _describe(session).startswith("dyad D07, session 3")
