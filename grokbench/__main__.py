"""``python -m grokbench``: the command line (``grokbench.cli.main``).

Importing the CLI imports torch, which takes seconds. A Ctrl-C (or SIGTERM) in that time
is held back until the import is done, then ends the command with one line and status 130
(143): raised inside torch's import, it could print a traceback or abort the interpreter.
From then on ``main`` handles both signals.
"""

import sys

from .errors import Terminated, signals_deferred, stop_signals


def entry() -> int:
    """Import the CLI and run it; the console script ``grokbench`` can point here too."""
    with stop_signals():
        try:
            with signals_deferred():
                from .cli import main
        except KeyboardInterrupt as exc:
            terminated = isinstance(exc, Terminated)
            print("terminated" if terminated else "interrupted", file=sys.stderr)
            return 143 if terminated else 130
    return main()


if __name__ == "__main__":
    sys.exit(entry())
