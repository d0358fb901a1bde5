"""Display montages: derivations for 10-20 layouts, average and linked-ears references, JSON round trip."""

import numpy as np
import pytest

from mmqnet_core.errors import ConfigError
from mmqnet_core.montage import (
    AS_RECORDED,
    AVERAGE,
    BUILTIN,
    LINKED_EARS,
    Derivation,
    Montage,
    bipolar_longitudinal,
    bipolar_transverse,
    derivation_matrix,
    load_montages,
    montage_from_text,
    parse_derivation,
    plan,
    save_montages,
)

OLD_NAMES = ["FP1", "F7", "T3", "T5", "O1", "FP2", "F8", "T4", "T6", "O2", "F3", "C3", "P3", "F4", "C4", "P4",
             "FZ", "CZ", "PZ"]


def chans(names, mod="EEG"):
    return [(n, mod) for n in names]


def test_double_banana_uses_old_or_new_names_and_keeps_other_modalities_below():
    rows = bipolar_longitudinal().derive(chans(OLD_NAMES) + [("ECG", "ECG")])
    labels = [r.name for r in rows]
    assert labels[:4] == ["FP1-F7", "F7-T3", "T3-T5", "T5-O1"]
    assert len(labels) == 19 and labels[-1] == "ECG"  # 18 pairs + the ECG as recorded


def test_transverse_keeps_only_pairs_that_exist():
    rows = bipolar_transverse().derive(chans(["F7", "F3", "Fz", "Cz"]))
    assert [r.name for r in rows] == ["F7-F3", "F3-Fz"]


def test_average_and_linked_ears():
    channels = chans(["Fz", "Cz", "A1", "A2"]) + [("EOG1", "EOG")]
    avg = AVERAGE.derive(channels)
    assert [r.name for r in avg] == ["Fz-avg", "Cz-avg", "A1-avg", "A2-avg", "EOG1"]
    assert avg[0].reference == ("Fz", "Cz", "A1", "A2")
    ears = LINKED_EARS.derive(channels)
    assert [r.name for r in ears] == ["Fz-A1A2", "Cz-A1A2", "EOG1"]
    # No ear channels: drawn as recorded, and the montage says it is not available.
    assert [r.name for r in LINKED_EARS.derive(chans(["Fz", "Cz"]))] == ["Fz", "Cz"]
    assert not LINKED_EARS.available(chans(["Fz", "Cz"]))
    assert AS_RECORDED.available(chans(["Fz"])) and len(BUILTIN) == 6  # + Laplacian (session 14)


def test_derivation_matrix_computes_the_rows():
    names = ["Fz", "Cz", "Pz", "ECG"]
    data = np.arange(4 * 5, dtype=float).reshape(4, 5) ** 1.5
    rows = [Derivation("Fz", ("Cz",)), Derivation("Pz", ("Fz", "Cz", "Pz")), Derivation("ECG")]
    picks, matrix = derivation_matrix(rows, names)
    out = matrix @ data[picks]
    np.testing.assert_allclose(out[0], data[0] - data[1])
    np.testing.assert_allclose(out[1], data[2] - data[:3].mean(axis=0))
    np.testing.assert_allclose(out[2], data[3])
    with pytest.raises(ConfigError, match="needs channel 'O1'"):
        derivation_matrix([Derivation("O1")], names)
    # The plan used for drawing gives the same rows, and a missing sample spreads only to the rows using it.
    p = plan(rows, names)
    assert list(p.picks) == picks
    np.testing.assert_allclose(p.apply(data[picks]), out)
    data[3, 2] = np.nan  # ECG
    with_gap = p.apply(data[list(p.picks)])
    assert np.isnan(with_gap[2, 2]) and np.isfinite(with_gap[:2]).all()


@pytest.mark.parametrize("text, anode, ref", [("Fp1 - F7", "Fp1", ("F7",)), ("Fp1-F7", "Fp1", ("F7",)),
                                              ("EEG Fp1-REF - EEG F7-REF", "EEG Fp1-REF", ("EEG F7-REF",)),
                                              ("Cz", "Cz", ())])
def test_typed_derivations(text, anode, ref):
    d = parse_derivation(text)
    assert (d.anode, d.reference) == (anode, ref)


@pytest.mark.parametrize("text, match", [("", "Empty derivation"), ("A - B - C", "Invalid derivation")])
def test_bad_derivations_say_how_to_write_them(text, match):
    with pytest.raises(ConfigError, match=match):
        parse_derivation(text)


def test_custom_montages_round_trip_through_json(tmp_path):
    m = montage_from_text("Mine", "Fp1 - F7\n# a comment\n\nCz")
    assert m.derive(chans(["Fp1", "F7", "Cz"])) == [Derivation("Fp1", ("F7",)), Derivation("Cz")]
    path = save_montages(tmp_path / "montages.json", [m, AVERAGE])
    assert load_montages(path) == [m, AVERAGE]
    assert load_montages(tmp_path / "missing.json") == []
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ConfigError, match="Cannot read montages from .*bad.json"):
        load_montages(tmp_path / "bad.json")
    with pytest.raises(ConfigError, match="has no derivations"):
        Montage("Empty", "custom")
    with pytest.raises(ConfigError, match="Invalid montage kind"):
        Montage("X", "sideways")


def test_an_average_reference_is_over_the_channels_present_at_each_sample():
    """clin13: a channel masked over a segment (NaN in the cleaned signal) blanked every "-avg" row over the
    segment. An average reference is the mean of the channels present there (as the cleaning's is); a one- or
    two-channel reference (linked ears) stays missing where one of its channels is."""
    names = ["Fz", "Cz", "Pz", "A1", "A2"]
    rng = np.random.default_rng(0)
    data = rng.normal(size=(5, 40))
    data[1, 10:20] = np.nan  # Cz masked over a segment
    avg = plan(AVERAGE.derive(chans(names)), names)
    rows = avg.apply(data[list(avg.picks)])
    assert np.isnan(rows[1, 10:20]).all() and np.isfinite(rows[1, :10]).all()  # Cz's own row: missing there only
    others = [0, 2, 3, 4]
    assert np.isfinite(rows[others]).all()
    present = np.delete(data, 1, axis=0)
    np.testing.assert_allclose(rows[others, 10:20], data[others, 10:20] - present[:, 10:20].mean(axis=0))
    np.testing.assert_allclose(rows[others, :10], data[others, :10] - data[:, :10].mean(axis=0))
    ears = plan(LINKED_EARS.derive(chans(names)), names)
    data[3, 30:35] = np.nan  # A1 missing: the linked-ears reference is missing there
    rows = ears.apply(data[list(ears.picks)])
    assert np.isnan(rows[:, 30:35]).all() and np.isfinite(rows[[0, 2], :10]).all()
    data[:, 36] = np.nan  # every channel missing: every row missing, without a warning
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rows = avg.apply(data[list(avg.picks)])
    assert np.isnan(rows[:, 36]).all()
