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

from .._lazy import lazy_exports

# Exported names and the submodule of each, imported on first use: reading a checkpoint's settings
# (mmqnet_core.model.format) must not import torch, which the other submodules do.
_EXPORTS = {
    "Occlusion": "attribution",
    "occlusion": "attribution",
    "occlusion_contexts": "attribution",
    "occlusion_units": "attribution",
    "CheckpointMeta": "checkpoint",
    "check_compatible": "checkpoint",
    "load_checkpoint": "checkpoint",
    "save_checkpoint": "checkpoint",
    "ARTIFACT_TYPES": "config",
    "FUSION_MODES": "config",
    "MMQNetConfig": "config",
    "LossWeights": "losses",
    "binarize": "losses",
    "classification_loss": "losses",
    "decorrelation_loss": "losses",
    "interference_loss": "losses",
    "mmqnet_loss": "losses",
    "reconstruction_loss": "losses",
    "regression_loss": "losses",
    "FAMILIES": "mmqnet",
    "MMQNet": "mmqnet",
    "MMQNetOutput": "mmqnet",
    "Normalizer": "normalization",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

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
