"""MMQNetConfig: validation with clear messages and a lossless JSON round trip."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from mmqnet_core.errors import ConfigError
from mmqnet_core.model import MMQNetConfig
from mmqnet_core.recording import Modality

from .conftest import GROUPS, NAMES, VALID, VARIANTS, small_config


@pytest.mark.parametrize("name", list(VARIANTS))
def test_json_round_trip(name):
    cfg = small_config(**VARIANTS[name])
    text = cfg.to_json()
    back = MMQNetConfig.from_json(text)
    assert back == cfg
    assert hash(back) == hash(cfg)  # frozen, tuples only
    assert json.loads(text)["token_groups"] == list(GROUPS)


def test_derived_shapes():
    cfg = small_config()
    assert (cfg.n_tokens, cfg.n_features) == (10, 6)
    assert cfg.groups == ("EEG", "EOG", "GSR", "TEMP")
    assert cfg.group_index == (0,) * 6 + (1, 1, 2, 3)
    assert cfg.n_category_queries == 2 * cfg.n_queries_per_target


def test_for_layout_from_tokens():
    tokens = [SimpleNamespace(name=n, modality=Modality(g), channel=n) for n, g in zip(NAMES, GROUPS)]
    cfg = MMQNetConfig.for_layout(tokens, np.array(VALID), n_windows=5)
    assert cfg.token_names == NAMES and cfg.token_groups == GROUPS and cfg.n_windows == 5
    assert cfg.feature_valid == VALID


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"d_model": 30, "n_heads": 4}, "d_model=30 must be divisible by it, got 4"),
        ({"n_windows": 0}, "'n_windows': must be an integer >= 1, got 0"),
        ({"dropout": 0.95}, "'dropout': allowed 0 <= dropout < 0.9, got 0.95"),
        ({"token_groups": ("EEG",) * 9 + ("FOO",)}, "Invalid token group 'FOO'"),
        ({"feature_valid": VALID[:-1]}, "one row per token \\(N=10\\), got 9 rows"),
        ({"feature_valid": VALID[:-1] + ((True,),)}, "same number F >= 1 of columns, got \\[1, 6\\]"),
        ({"token_names": NAMES[:-1] + ("Fp1",)}, "'token_names' must be unique, got duplicates \\['Fp1'\\]"),
        ({"context_windows": -1}, "'context_windows': must be an integer >= 0, got -1"),
        ({"targets": ()}, "'targets': need one or more distinct names"),
        ({"label_threshold": 9.5}, "'label_threshold': must lie inside the 1-9 scale, got 9.5"),
    ],
)
def test_invalid_values_are_named(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        small_config(**kwargs)


def test_from_dict_rejects_unknown_and_incomplete():
    data = small_config().to_dict()
    with pytest.raises(ConfigError, match=r"Unknown model config field\(s\) \['colour'\]"):
        MMQNetConfig.from_dict({**data, "colour": "red"})
    del data["token_groups"]
    with pytest.raises(ConfigError, match="Incomplete model config"):
        MMQNetConfig.from_dict(data)
    with pytest.raises(ConfigError, match="not valid JSON"):
        MMQNetConfig.from_json("{oops")
