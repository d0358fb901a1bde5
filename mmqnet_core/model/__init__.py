"""MMQ-Net, the Multi-Masked Querying Network, in PyTorch (Qt-free).

Read from small to large: :mod:`.config` (frozen configuration), :mod:`.blocks` (masked attention, encoder and
query-decoder layers), :mod:`.mmqnet` (the model), :mod:`.losses` (loss terms), :mod:`.normalization`
(feature statistics), :mod:`.checkpoint` (save/load), :mod:`.attribution` (occlusion maps).

Example
-------
>>> import torch
>>> cfg = MMQNetConfig(token_groups=("EEG", "EEG", "GSR"), feature_valid=((True,) * 4,) * 3, n_windows=4)
>>> model = MMQNet.from_config(cfg).eval()
>>> out = model(torch.zeros(1, 4, 3, 4), torch.zeros(1, 4, 3, dtype=torch.bool))
>>> tuple(out.logits.shape)
(1, 4, 2, 2)
"""

from __future__ import annotations

from .attribution import Occlusion, occlusion, occlusion_contexts, occlusion_units
from .checkpoint import CheckpointMeta, check_compatible, load_checkpoint, save_checkpoint
from .config import ARTIFACT_TYPES, FUSION_MODES, MMQNetConfig
from .losses import (
    LossWeights,
    binarize,
    classification_loss,
    decorrelation_loss,
    interference_loss,
    mmqnet_loss,
    reconstruction_loss,
    regression_loss,
)
from .mmqnet import FAMILIES, MMQNet, MMQNetOutput
from .normalization import Normalizer

__all__ = [
    "ARTIFACT_TYPES",
    "FAMILIES",
    "FUSION_MODES",
    "Occlusion",
    "CheckpointMeta",
    "LossWeights",
    "MMQNet",
    "MMQNetConfig",
    "MMQNetOutput",
    "Normalizer",
    "binarize",
    "check_compatible",
    "classification_loss",
    "decorrelation_loss",
    "interference_loss",
    "load_checkpoint",
    "mmqnet_loss",
    "occlusion",
    "occlusion_contexts",
    "occlusion_units",
    "reconstruction_loss",
    "regression_loss",
    "save_checkpoint",
]
