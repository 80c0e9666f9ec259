"""How a command ends early: bad input (UserError) or a signal (Ctrl-C, SIGTERM).

The CLI turns a UserError into a single line on stderr and exit status 2; anything else
that escapes is a bug and keeps its traceback. Under ``stop_signals``, SIGTERM raises
``Terminated``, a KeyboardInterrupt, so that a run stops the way Ctrl-C stops it (workers
shut down, finished records kept), and ``signals_deferred`` holds either signal back until
a critical section is done (writing a record; importing torch, which a KeyboardInterrupt
raised inside can abort).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


class UserError(Exception):
    """Bad input from the user: unknown name, malformed value, unwritable folder, ..."""


def one_line(exc: BaseException) -> str:
    """``Type: first line of the message`` (``Type`` alone for an empty message)."""
    lines = str(exc).strip().splitlines()
    return type(exc).__name__ + (f": {lines[0]}" if lines else "")


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived while ``stop_signals`` was active."""


@dataclass
class _SignalState:
    terminated: bool = False  # a SIGTERM arrived
    deferring: int = 0  # depth of signals_deferred blocks
    pending: KeyboardInterrupt | None = None  # held back by signals_deferred


_state = _SignalState()


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _handler(signum: int, frame: object) -> None:
    if signum == signal.SIGTERM:
        _state.terminated = True
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM kills, as by default
        exc: KeyboardInterrupt = Terminated()
    else:
        exc = KeyboardInterrupt()
    if _state.deferring:
        _state.pending = _state.pending or exc
        return
    raise exc


@contextmanager
def stop_signals(*, then_ignore: bool = False) -> Iterator[_SignalState]:
    """While active, SIGINT raises KeyboardInterrupt and SIGTERM raises Terminated in the
    main thread, except inside ``signals_deferred``. The yielded state's ``terminated``
    says whether a SIGTERM came. Outside the main thread this changes nothing.

    On exit the previous handlers come back, or, with ``then_ignore``, both signals are
    ignored from then on: for a process whose command has its exit status and that only
    shuts down, so that a late Ctrl-C cannot turn that status into a death by signal."""
    if not _in_main_thread():
        yield _SignalState()
        return
    _state.terminated, _state.pending = False, None
    previous = {s: signal.signal(s, _handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield _state
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, signal.SIG_IGN if then_ignore else handler)


@contextmanager
def signals_deferred() -> Iterator[None]:
    """Under ``stop_signals``: a SIGINT or SIGTERM arriving inside the block raises only
    once the block is done (in place of any exception the block raised)."""
    _state.deferring += 1
    try:
        yield
    finally:
        _state.deferring -= 1
        if not _state.deferring and _state.pending is not None:
            exc, _state.pending = _state.pending, None
            raise exc  # noqa: B012 - the signal wins over the block's own exception
