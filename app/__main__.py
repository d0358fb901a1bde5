"""``python -m app [FILE] [options]``: the same as the ``mmqnet-studio`` command (see :mod:`app.main`)."""

import sys

from .main import main

sys.exit(main())
