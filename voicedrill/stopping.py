"""Signals that stop a command: Ctrl-C, and SIGTERM (a shutdown, `kill`) or SIGHUP (the terminal
closed) the same way; and the hold that lets a rep whose audio is over be kept first."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

STOPPING = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_terminal: tuple[int, ...] = ()  # the standard output and error that were a terminal when the command started


class Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised where Ctrl-C raises KeyboardInterrupt: the command stops as for Ctrl-C."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def exit_status(stop: KeyboardInterrupt) -> int:
    """The shell's status for a command a signal stopped: 128 + its number (130 for Ctrl-C)."""
    return 128 + (stop.signum if isinstance(stop, Stopped) else signal.SIGINT)


def _stop(signum: int, frame: object) -> None:
    redirect_hung_up(signum)
    raise KeyboardInterrupt if signum == signal.SIGINT else Stopped(signum)


def redirect_hung_up(signum: int) -> None:
    """The terminal closed (SIGHUP): what is still said to it goes nowhere, rather than failing on
    the way out (every write to a closed terminal fails) and turning the stop into an error."""
    if signum != signal.SIGHUP or not _terminal:
        return
    null = os.open(os.devnull, os.O_WRONLY)
    for fd in _terminal:
        os.dup2(null, fd)
    os.close(null)


def stop_on_signals() -> None:
    """SIGTERM and SIGHUP stop this command as Ctrl-C does (where nobody set them otherwise): the
    reps finished are said and a run's twin process is closed, where the default killed it mid-write."""
    global _terminal
    _terminal = tuple(fd for fd in (1, 2) if os.isatty(fd))
    for signum in STOPPING[1:]:
        if signal.getsignal(signum) is signal.SIG_DFL:
            signal.signal(signum, _stop)


def _ours(signum: int) -> bool:
    """Whether `signum` stops the command by raising (Ctrl-C's default, or stop_on_signals)."""
    return signal.getsignal(signum) in (signal.default_int_handler, _stop)


@contextmanager
def _handled_by(handler: Callable[[int, object], None]) -> Iterator[None]:
    """`handler` for every stopping signal that stops the command by raising, for the block; on the
    main thread only (Python runs handlers there; a thread of the app leaves them as they are)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    with _held_off():  # (a signal between two of the swaps would find one handler stale)
        previous = {signum: signal.signal(signum, handler) for signum in STOPPING if _ours(signum)}
    try:
        yield
    finally:
        with _held_off():
            for signum, before in previous.items():
                signal.signal(signum, before)


@contextmanager
def _held_off() -> Iterator[None]:
    """The stopping signals held back for the block (delivered after it, to the handlers then set)."""
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, STOPPING)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


@contextmanager
def interrupt_after(holding: Callable[[], bool], hurry: Callable[[], None] | None = None) -> Iterator[None]:
    """A stopping signal stops the run at once, but while `holding()` (the rep's audio is over, so it
    is being scored, saved and shown) only after the block, and `hurry()` is told (the history
    waits no longer than it must). Python runs the handler on the main thread, whichever of the
    run's threads the signal reaches (blocking it on the main thread alone did not hold it).
    Signals ignored or handled by someone else are left as they are."""
    held: list[int] = []

    def handler(signum: int, frame: object) -> None:
        if not holding():
            _stop(signum, frame)
        if hurry is not None:
            hurry()
        redirect_hung_up(signum)  # (the rep is still kept, then shown to nobody)
        held.append(signum)

    with _handled_by(handler):
        yield
    if held:
        _stop(held[0], None)


@contextmanager
def cut_on_stop(cut: Callable[[], None]) -> Iterator[None]:
    """A stopping signal during a call that would tidy up before it stops (psycopg cancels its
    statement on Ctrl-C, then waits for a server that may not answer: `history` took 10 s to stop
    on a silent team server and printed psycopg's two warnings) ends the call with `cut()`, and
    the stop is raised as it returns. Held signals (interrupt_after) are left as they are."""
    stops: list[int] = []

    def handler(signum: int, frame: object) -> None:
        stops.append(signum)
        cut()

    try:
        with _handled_by(handler):
            yield
    finally:
        if stops:
            _stop(stops[0], None)
