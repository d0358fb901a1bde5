"""A NaN/inf in the model's weights or normaliser is an error, never a silent NaN trajectory (issue 13)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from mmqnet_core.errors import MMQNetError
from mmqnet_core.inference import analyze_features


def test_nan_weights_give_an_error_not_nan_probabilities(features, model):
    broken = copy.deepcopy(model)
    with torch.no_grad():
        for p in broken.model.parameters():
            p.fill_(float("nan"))
    with pytest.raises(MMQNetError, match=r"gave NaN/infinite outputs on .*: the model is broken \(diverged training "
                                          r"or damaged weights\); choose another checkpoint\."):
        analyze_features(features, None, broken)



def test_a_normaliser_with_nan_is_refused(model):
    from mmqnet_core.errors import ConfigError
    from mmqnet_core.model.normalization import Normalizer

    mean = model.normalizer.mean.copy()
    mean[0, 0] = np.nan
    with pytest.raises(ConfigError, match=r"must be finite with std > 0"):
        Normalizer(mean=mean, std=model.normalizer.std)
