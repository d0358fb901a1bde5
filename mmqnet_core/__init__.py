"""MMQ-Net Studio core: Qt-free library for multimodal physiological recordings.

The package reads like the data flow of one recording::

    io (recording in) -> preprocessing -> features -> masking -> model -> inference (results out)

with ``datasets`` (synthetic corpus, DEAP, MAHNOB-HCI), ``training`` and ``evaluation`` beside it and the
command line interface (``mmqnet``) on top. Nothing here imports Qt.
"""

from __future__ import annotations

import logging

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())
