"""Entry point of the packaged executable (PyInstaller): the same as `mmqnet-studio`."""

import sys

from app.main import main

if __name__ == "__main__":
    sys.exit(main())
