"""What a checkpoint's files are called and which feature normalisations exist: plain constants, no torch.

:mod:`.checkpoint` and :mod:`.normalization` use them, and :mod:`mmqnet_core.inference.model_loading` reads a
checkpoint's settings from its ``config.json`` with them before torch is imported (the model loads beside the
cleaning).
"""

FORMAT = "mmqnet-checkpoint"
FORMAT_VERSION = 1  # bump when the layout of the files changes; older versions stay readable
WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"

#: Normalisation modes (see :mod:`.normalization`).
NORMALIZATION_MODES = ("global", "subject", "recording")
#: A group (subject / recording) needs at least this many usable windows of a (token, feature) column for its
#: own statistics; below, the column keeps the global statistics (a 30-s recording at 1-s windows).
MIN_GROUP_WINDOWS = 30
