"""Laplacian montage (Hjorth's source derivation): neighbours on the 10-05 layout, rows against a hand
computation, channels missing from the recording, missing samples (a masked segment) left out of the mean."""

import warnings

import numpy as np
import pytest

from mmqnet_core.montage import (
    BUILTIN,
    LAPLACIAN,
    LINKED_EARS,
    Derivation,
    Montage,
    laplacian_neighbours,
    plan,
)

# A small 10-20 patch: C4's other neighbours (F4, P4, T8) and C3's T7 are not recorded.
PATCH = ["Fz", "Cz", "Pz", "C3", "C4", "F3", "P3"]
# Its neighbours on the 10-20 grid by hand (the electrodes one step along a row or a column that are recorded).
HAND = {"Fz": {"F3", "Cz"}, "Cz": {"Fz", "Pz", "C3", "C4"}, "Pz": {"Cz", "P3"}, "C3": {"F3", "P3", "Cz"},
        "C4": {"Cz"}, "F3": {"Fz", "C3"}, "P3": {"Pz", "C3"}}


def chans(names, mod="EEG"):
    return [(n, mod) for n in names]


def test_neighbours_are_the_orthogonal_10_20_neighbours_present():
    hood = laplacian_neighbours(PATCH)
    assert {k: set(v) for k, v in hood.items()} == HAND
    # A full 10-20 set in the old names: Cz's four, Fp1's three (no diagonal Fz), ears no one's neighbour.
    full = ["Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T3", "C3", "Cz", "C4", "T4", "T5", "P3", "Pz", "P4", "T6",
            "O1", "O2", "A1", "A2"]
    hood = laplacian_neighbours(full)
    assert set(hood["Cz"]) == {"Fz", "C3", "C4", "Pz"}
    assert set(hood["Fp1"]) == {"Fp2", "F7", "F3"}
    assert set(hood["T3"]) == {"F7", "T5", "C3"}  # T3 = T7, T5 = P7
    assert hood["A1"] == () and all("A1" not in v and "A2" not in v for v in hood.values())
    # 10-10: the nearest four only.
    dense = ["C3", "C1", "C5", "FC3", "CP3", "FC1", "CP1", "F3", "P3"]
    assert set(laplacian_neighbours(dense)["C3"]) == {"C1", "C5", "FC3", "CP3"}


def test_rows_equal_a_hand_computation_and_underivable_electrodes_are_named():
    channels = chans(["EEG Fz-REF", "EEG Cz-REF", "EEG Pz-REF", "EEG C3-REF", "EEG C4-REF", "EEG F3-REF",
                      "EEG P3-REF", "X7"]) + [("ECG", "ECG")]
    names = [n for n, _ in channels]
    rows = LAPLACIAN.derive(channels)
    # C4 has one neighbour (Cz) and X7 no 10-05 position: not derivable, left out and named.
    assert [r.name for r in rows] == ["EEG Fz-REF-lap", "EEG Cz-REF-lap", "EEG Pz-REF-lap", "EEG C3-REF-lap",
                                      "EEG F3-REF-lap", "EEG P3-REF-lap", "ECG"]
    assert LAPLACIAN.not_derivable(channels) == ("EEG C4-REF", "X7")
    assert LAPLACIAN.available(channels)
    rng = np.random.default_rng(7)
    data = rng.standard_normal((len(names), 300)) * 1e-5
    p = plan(rows, names)
    got = p.apply(data[list(p.picks)])
    ix = {n.split()[-1].split("-")[0] if n.startswith("EEG") else n: i for i, n in enumerate(names)}
    for r, electrode in enumerate(["Fz", "Cz", "Pz", "C3", "F3", "P3"]):
        expected = data[ix[electrode]] - np.mean([data[ix[nb]] for nb in sorted(HAND[electrode])], axis=0)
        np.testing.assert_allclose(got[r], expected, rtol=0, atol=1e-20)
    np.testing.assert_array_equal(got[-1], data[ix["ECG"]])


def test_not_possible_with_too_few_electrodes():
    channels = chans(["Fz", "O2", "T8"])  # nobody has two neighbours
    assert [r.name for r in LAPLACIAN.derive(channels)] == ["Fz", "O2", "T8"]
    assert not LAPLACIAN.available(channels) and LAPLACIAN.not_derivable(channels) == ()
    assert LAPLACIAN in BUILTIN and Montage.from_dict(LAPLACIAN.to_dict()) == LAPLACIAN


def test_a_masked_segment_leaves_the_neighbour_out_of_the_mean():
    """A neighbour missing over a segment (NaN: masked, or left out of the cleaned signal): the mean of the
    neighbours present there, even of a two-neighbour row (linked ears, also two channels, are missing there);
    the electrode's own row is missing there; every neighbour missing: missing, without a warning."""
    rows = LAPLACIAN.derive(chans(PATCH))
    p = plan(rows, PATCH)
    assert [PATCH[i] for i in p.picks] == sorted(PATCH, key=PATCH.index)
    rng = np.random.default_rng(1)
    data = rng.standard_normal((len(PATCH), 100))
    ix = {n: i for i, n in enumerate(PATCH)}
    data[ix["Cz"], 20:40] = np.nan  # Cz masked over a segment
    data[ix["F3"], 60:70] = np.nan
    data[ix["C3"], 60:70] = np.nan  # Fz's neighbours F3 and Cz... and P3's C3
    data[ix["P3"], 90:95] = np.nan
    data[ix["Cz"], 90:95] = np.nan  # Pz's two neighbours missing together
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = p.apply(data[list(p.picks)])
    row = {d.anode: r for r, d in enumerate(rows)}

    def hand(electrode, t):
        present = [data[ix[nb], t] for nb in HAND[electrode] if np.isfinite(data[ix[nb], t])]
        return data[ix[electrode], t] - (sum(present) / len(present) if present else np.nan)

    for electrode in row:
        for t in range(100):
            want = hand(electrode, t)
            if np.isnan(want):
                assert np.isnan(got[row[electrode], t]), (electrode, t)
            else:
                assert got[row[electrode], t] == pytest.approx(want, rel=1e-12), (electrode, t)
    assert np.isnan(got[row["Cz"], 20:40]).all()  # its own row: missing there only
    assert np.isfinite(got[row["Fz"], 20:40]).all()  # Fz - F3 there (Cz missing), not a gap
    assert np.isnan(got[row["Pz"], 90:95]).all()  # both neighbours missing
    ears = plan(LINKED_EARS.derive(chans(["Fz", "A1", "A2"])), ["Fz", "A1", "A2"])
    two = np.ones((3, 4))
    two[1, 1] = np.nan
    assert np.isnan(ears.apply(two)[0, 1])  # unchanged: a two-channel reference stays missing there


def test_other_montages_plan_as_before():
    """The flag defaults off: no other montage's plan takes a mean over the channels present where it did not."""
    names = ["Fp1", "F7", "F3", "Fz", "Cz", "A1", "A2"]
    for m in BUILTIN:
        if m.kind != "laplacian":
            assert plan(m.derive(chans(names)), names).present_means == frozenset()
    custom = [Derivation("Fz", ("A1", "A2"))]
    assert plan(custom, names).present_means == frozenset()
