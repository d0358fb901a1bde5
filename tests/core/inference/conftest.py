"""A short synthetic recording and a tiny untrained model on the DEAP layout."""

from __future__ import annotations

import pytest

from mmqnet_core.datasets.synthetic import SynthConfig, generate_trial


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """One torch thread: on a busy 2-core machine OpenMP spinning makes 2 threads many times slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def recording():
    """40 s of SYNTHETIC DEAP-layout signals (3 s baseline + 37 s stimulus)."""
    return generate_trial(SynthConfig(trial_s=37.0), 0, 1).to_recording()


@pytest.fixture(scope="session")
def features(recording):
    from mmqnet_core.features import DEAP_LAYOUT, extract_features
    from mmqnet_core.preprocessing import preprocess

    pre = preprocess(recording)
    return extract_features(pre.cleaned, layout=DEAP_LAYOUT, interference=pre.interference)


def make_model(features, **kwargs):
    """A tiny untrained MMQ-Net wrapped as a LoadedModel (normaliser fitted on ``features``)."""
    import torch

    from mmqnet_core.features import FeatureConfig
    from mmqnet_core.inference import model_from_parts
    from mmqnet_core.model import CheckpointMeta, MMQNet, MMQNetConfig, Normalizer

    torch.manual_seed(0)
    cfg = MMQNetConfig.for_feature_set(features, **{"n_windows": 4, "d_model": 32, "n_heads": 2,
                                                    "n_enc_layers": 1, **kwargs})
    meta = CheckpointMeta(config=cfg, normalizer=Normalizer.fit(features.values, features.missing),
                          extra={"training_data": "synthetic", "synthetic": True,
                                 "feature_config": FeatureConfig().to_dict()})
    return model_from_parts(MMQNet(cfg).eval(), meta)


@pytest.fixture(scope="session")
def model(features):
    return make_model(features)
