"""The ``touchpoint`` console script: the Rust command-line tool, run in this process."""

from __future__ import annotations

import signal
import sys

from . import _touchpoint


def main() -> None:
    """Runs ``touchpoint`` with the process's arguments and exits with its code."""
    # The work runs in Rust with the GIL released, where Python's own SIGINT handler cannot stop it:
    # restore the default, so Ctrl-C ends the command as it ends the native binary.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    sys.stdout.flush()
    sys.exit(_touchpoint.cli_main(["touchpoint", *sys.argv[1:]]))


if __name__ == "__main__":
    main()
