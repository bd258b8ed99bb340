import warnings

import numpy as np
import pandas as pd
import pytest

import mne_dyad as md

WAI = {  # one client's WAI-SR ratings in two sessions
    "dyad": ["A", "A", "B"],
    "session": [1, 2, 1],
    **{f"item{i}": [i % 5 + 1, 5, 3] for i in range(1, 13)},
}


def test_wai_sr_preset_known_answer():
    df = pd.DataFrame(WAI)
    wai = md.alliance.read_sai(df, key="wai-sr")
    # session A1: item i rated i % 5 + 1 -> task items 1,2,10,12 -> 2,3,1,3
    assert float(wai.task.sel(dyad="A", session=1)) == pytest.approx((2 + 3 + 1 + 3) / 4)
    assert float(wai.bond.sel(dyad="A", session=1)) == pytest.approx((4 + 1 + 3 + 5) / 4)
    assert float(wai.goal.sel(dyad="A", session=1)) == pytest.approx((5 + 2 + 4 + 2) / 4)
    assert float(wai.bond.sel(dyad="A", session=2)) == 5.0
    assert np.isnan(float(wai.bond.sel(dyad="B", session=2)))  # not in the table: NaN
    assert wai.bond.attrs["valid_range"] == "1-5"


def test_sai_preset_and_item_names(tmp_path):
    df = pd.DataFrame(
        {
            "dyad": [1, 1],
            "session": [1, 2],
            "SAI_1": [7, 1],
            "SAI_2": [5, 1],
            "SAI_3": [6, 2],
            "SAI_4": [4, 3],
            "SAI_5": [6, 4],
            "SAI_6": [2, 5],
        }
    )
    path = tmp_path / "sai.tsv"
    df.to_csv(path, sep="\t", index=False)
    sai = md.alliance.read_sai(path)
    row = sai.sel(dyad=1, session=1)
    assert float(row.task) == 6.0 and float(row.bond) == 6.0 and float(row.goal) == 3.0
    assert float(row.goal_task) == pytest.approx((7 + 5 + 4 + 2) / 4)


def test_custom_key_and_missing_items():
    df = pd.DataFrame({"dyad": ["A", "A"], "session": [1, 2], "warm": [3, 4], "trust": [5, np.nan]})
    key = {"bond": ["warm", "trust"], "care": ["warm"]}
    match = r"1 blank item cell\(s\): dyad A, session 2, item trust\. With missing_items="
    with pytest.warns(RuntimeWarning, match=match):
        out = md.alliance.read_sai(df, key=key, scale=(1, 5))
    assert float(out.bond.sel(dyad="A", session=1)) == 4.0
    # one of two items missing: prorated from the other (the usual rule)
    assert float(out.bond.sel(dyad="A", session=2)) == 4.0
    with pytest.warns(RuntimeWarning, match="the scales that use them are NaN"):
        dropped = md.alliance.read_sai(df, key=key, scale=(1, 5), missing_items="drop")
    assert np.isnan(float(dropped.bond.sel(dyad="A", session=2)))
    assert float(dropped.care.sel(dyad="A", session=2)) == 4.0  # other scales are kept
    # two of three items missing: not prorated
    three = df.assign(calm=[2, np.nan])
    with pytest.warns(RuntimeWarning, match="2 blank item cell"):
        out = md.alliance.read_sai(three, key={"bond": ["warm", "trust", "calm"]}, scale=(1, 5))
    assert float(out.bond.sel(dyad="A", session=1)) == pytest.approx(10 / 3)
    assert np.isnan(float(out.bond.sel(dyad="A", session=2)))
    with pytest.raises(ValueError, match="pass scale=\\(low, high\\)"):
        md.alliance.read_sai(df, key={"bond": ["warm"]})


def test_out_of_range_rating_names_dyad_session_item():
    df = pd.DataFrame(WAI)
    df.loc[1, "item7"] = 6
    with pytest.raises(ValueError, match=r"dyad A, session 2, item 7 is rated 6, outside .* 1-5"):
        md.alliance.read_sai(df, key="wai-sr")


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda d: d.drop(columns="session"), "no 'session' column"),
        (lambda d: pd.concat([d, d.iloc[:1]]), r"more than one row for \(dyad, session\)"),
        (lambda d: d.drop(columns="item4"), "item 4 matches no column"),
        (lambda d: d.assign(item3=["x", 5, 3]), "item 3 of dyad A, session 1 is 'x'"),
    ],
)
def test_bad_tables(change, match):
    with pytest.raises(ValueError, match=match):
        md.alliance.read_sai(change(pd.DataFrame(WAI)), key="wai-sr")


def test_bad_key_and_missing_file(tmp_path):
    with pytest.raises(ValueError, match="Unknown key 'wai'"):
        md.alliance.read_sai(pd.DataFrame(WAI), key="wai")
    with pytest.raises(FileNotFoundError, match="nope.csv does not exist"):
        md.alliance.read_sai(tmp_path / "nope.csv")


def test_wide_layout_equals_long(tmp_path):
    long = pd.DataFrame(WAI)
    wide = {"dyad": ["A", "B"]}
    for i in range(1, 13):
        wide[f"item{i}_s1"] = [long.loc[0, f"item{i}"], long.loc[2, f"item{i}"]]
        wide[f"item{i}_s2"] = [long.loc[1, f"item{i}"], np.nan]
    path = tmp_path / "wai_wide.xlsx"
    pd.DataFrame(wide).to_excel(path, index=False)
    from_wide = md.alliance.read_sai(path, key="wai-sr")
    from_long = md.alliance.read_sai(long, key="wai-sr")
    for scale in ("task", "bond", "goal"):
        np.testing.assert_array_equal(from_wide[scale].values, from_long[scale].values)
    # the session-first naming works too
    renamed = pd.DataFrame(wide).rename(
        columns=lambda c: c if c == "dyad" else "s" + c.split("_s")[1] + "_" + c.split("_s")[0]
    )
    again = md.alliance.read_sai(renamed, key="wai-sr", layout="wide")
    np.testing.assert_array_equal(again.bond.values, from_long.bond.values)
    with pytest.raises(ValueError, match="column 'notes' is not <item>_<session>"):
        md.alliance.read_sai(pd.DataFrame(wide).assign(notes="x"), key="wai-sr")


def test_reverse_keyed_items():
    df = pd.DataFrame({"dyad": ["A"], "session": [1], "q1": [2], "q2": [6], "q3": [1]})
    out = md.alliance.read_sai(df, key={"bond": [1, -2], "task": ["q3", "-q1"]}, scale=(1, 7))
    assert float(out.bond.squeeze()) == (2 + (1 + 7 - 6)) / 2  # item 2 reversed: 8 - 6 = 2
    assert float(out.task.squeeze()) == (1 + (8 - 2)) / 2
    assert out.bond.attrs["long_name"] == "bond scale (mean of items [1, '-2'])"


def test_raters_from_a_column_or_a_label():
    df = pd.DataFrame(WAI)
    both = pd.concat([df.assign(who="client"), df.assign(who="therapist")], ignore_index=True)
    both.loc[3, "item3"] = 1  # the therapist's rating of A1, item 3 (bond): 4 -> 1
    wai = md.alliance.read_sai(both, key="wai-sr", rater_col="who")
    assert wai.bond.dims == ("dyad", "session", "rater")
    assert list(wai.rater.values) == ["client", "therapist"]
    assert float(wai.bond.sel(dyad="A", session=1, rater="client")) == pytest.approx(13 / 4)
    assert float(wai.bond.sel(dyad="A", session=1, rater="therapist")) == pytest.approx(10 / 4)
    # one table per rater, joined: the same dataset
    client = md.alliance.read_sai(df, key="wai-sr", rater="client")
    assert client.bond.dims == ("dyad", "session", "rater")
    np.testing.assert_array_equal(client.bond.values[..., 0], wai.bond.sel(rater="client").values)
    with pytest.raises(ValueError, match=r"more than one row for \(dyad, session\).*rater_col="):
        md.alliance.read_sai(both, key="wai-sr")
    with pytest.raises(ValueError, match="no rater column 'rater'"):
        md.alliance.read_sai(df, key="wai-sr", rater_col="rater")
    with pytest.raises(ValueError, match="not both"):
        md.alliance.read_sai(both, key="wai-sr", rater="client", rater_col="who")


def test_item_columns_the_key_leaves_out_are_a_warning():
    df = pd.DataFrame(WAI)  # a 12-item WAI-SR
    with pytest.warns(RuntimeWarning, match=r"item column\(s\) \['item7', .*'item12'\] that the"):
        out = md.alliance.read_sai(df)  # the default 6-item SAI key
    assert list(out.data_vars) == ["task", "bond", "goal", "goal_task"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        md.alliance.read_sai(df, key="wai-sr")  # every item used: no warning
