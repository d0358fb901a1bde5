"""Entry point of the packaged executable (PyInstaller): the same as `mmqnet-studio`."""

import multiprocessing
import sys

if __name__ == "__main__":
    # A frozen app starts its child processes (multiprocessing's spawn/forkserver, e.g. data-loader workers) by
    # running this executable again: freeze_support() makes such a child run its task instead of a second window.
    multiprocessing.freeze_support()
    from app.main import main

    sys.exit(main())
