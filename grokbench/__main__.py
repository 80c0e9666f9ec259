"""``python -m grokbench``: the command line (``grokbench.cli.main``).

Importing the CLI imports torch, which takes seconds. A Ctrl-C (or SIGTERM) in that time
is held back until the import is done, then ends the command with one line and status 130
(143): raised inside torch's import, it could print a traceback or abort the interpreter.
Between the import and ``main``'s own handlers, and while ``main`` returns, the same
handlers stay in place; once the command has its status, both signals are ignored while
the interpreter shuts down, so the exit status is always the command's (never a death by
signal, never a traceback). Only the interpreter's own start, before this module runs
(tens of milliseconds), is outside this.
"""

import sys

from .errors import Terminated, signals_deferred, stop_signals


def entry() -> int:
    """Import the CLI and run it; the console script ``grokbench`` points here too."""
    with stop_signals(then_ignore=True):
        try:
            with signals_deferred():
                from .cli import main
            return main()
        except KeyboardInterrupt as exc:
            terminated = isinstance(exc, Terminated)
            print("terminated" if terminated else "interrupted", file=sys.stderr)
            return 143 if terminated else 130


if __name__ == "__main__":
    sys.exit(entry())
