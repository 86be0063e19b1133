"""Live decoding: a rep's blocks go to the recogniser and what it heard comes back, block by block.

pocketsphinx holds Python's lock while it decodes, and the second pass it makes at the end of
every utterance takes about 55 ms. At real-time pace that work runs in a child process with its
own copy of the engine (a `Twin`), on the other core, so the live loop — pause meter, ticks,
screen — never waits for it. Fed as fast as a file can be read, decoding stays in this process,
block by block, so the same audio always gives the same live events.
"""

from __future__ import annotations

import multiprocessing
import queue
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .asr import Engine
from .audio import RATE
from .data import Word

READY_TIMEOUT_S = 60.0  # loading the engine's copy takes about 1.5 s on one core
FINISH_GRACE_S = 10.0  # a rep's last words come this long after its end at most (plus its backlog)
POLL_S = 0.05  # how often a wait checks that the child is still there
BACKLOG_S = 2.0  # this much audio sent and not heard: check that the child is still there


@dataclass(frozen=True)
class Heard:
    """The recogniser's view once it has decoded the audio up to `audio_s`."""

    audio_s: float
    final: list[Word]  # words that became final with this block
    partial: list[Word]  # the hypothesis under way
    last: bool = False  # the end of the stream: `final` holds its last words


class DecoderGone(RuntimeError):
    """The child process decoding the rep stopped (killed, out of memory)."""


class Decoding(Protocol):
    """One rep's decoding stream."""

    def send(self, block: np.ndarray) -> None:
        """Queue a 16 kHz mono int16 block for decoding (never waits for the recogniser)."""
        ...

    def heard(self) -> list[Heard]:
        """What was decoded since the last call, in audio order."""
        ...

    def finish(self) -> list[Heard]:
        """End of audio: everything not yet returned, ending with the stream's last words."""
        ...

    def close(self) -> None:
        """End the stream without its last words (a rep cut off); harmless after finish()."""
        ...


class InlineDecoding:
    """Decodes each block as it is sent, in this process."""

    def __init__(self, engine: Engine):
        self._recognizer = engine.recognizer()
        self._samples = 0
        self._ready: list[Heard] = []

    def send(self, block: np.ndarray) -> None:
        self._samples += block.size
        final = self._recognizer.accept(block)
        self._ready.append(Heard(self._samples / RATE, final, self._recognizer.partial()))

    def heard(self) -> list[Heard]:
        ready, self._ready = self._ready, []
        return ready

    def finish(self) -> list[Heard]:
        return self.heard() + [Heard(self._samples / RATE, self._recognizer.finish(), [], last=True)]

    def close(self) -> None:
        self._recognizer.close()


def _serve(recipe: Callable[[], Engine], requests: multiprocessing.Queue, replies: multiprocessing.Queue) -> None:
    """The child: load the engine, then decode streams (one at a time) until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    try:
        _decode_streams(recipe(), requests, replies)
    except Exception:  # the parent sees the child gone and decodes the rep itself: nothing to print here
        pass


def _requests(requests: multiprocessing.Queue) -> Iterator[tuple[int, str, np.ndarray | None]]:
    """The parent's requests until it says stop, or until it is gone (killed: nobody says stop)."""
    parent = multiprocessing.parent_process()
    while True:
        try:
            request = requests.get(timeout=POLL_S * 10)
        except queue.Empty:
            if parent is None or parent.is_alive():
                continue
            return
        if request is None:
            return
        yield request


def _decode_streams(engine: Engine, requests: multiprocessing.Queue, replies: multiprocessing.Queue) -> None:
    replies.put((None, None))  # ready
    recognizer, samples = None, 0
    for stream, kind, block in _requests(requests):
        if kind == "start":
            if recognizer is not None:
                recognizer.close()
            recognizer, samples = engine.recognizer(), 0
        elif kind == "block":
            samples += block.size
            final = recognizer.accept(block)
            replies.put((stream, Heard(samples / RATE, final, recognizer.partial())))
        elif kind == "finish":
            replies.put((stream, Heard(samples / RATE, recognizer.finish(), [], last=True)))
        else:  # "close"
            recognizer.close()


class Twin:
    """A child process holding its own copy of an engine, decoding one live stream at a time."""

    def __init__(self, recipe: Callable[[], Engine]):
        context = multiprocessing.get_context("spawn")  # no fork: the app's threads stay out of it
        self._requests = context.Queue()
        self._requests.cancel_join_thread()  # exiting never waits on a child that has gone
        self._replies = context.Queue()
        self._process = context.Process(target=_serve, args=(recipe, self._requests, self._replies), daemon=True, name="voicedrill-decoder")
        self._process.start()
        self._streams = 0
        self._ready = False

    def ready(self, timeout_s: float = READY_TIMEOUT_S) -> bool:
        """Wait until the child has loaded its engine; False if it could not or has stopped since."""
        deadline = time.monotonic() + timeout_s
        while not self._ready and time.monotonic() < deadline:
            try:
                self._replies.get(timeout=POLL_S)
                self._ready = True
            except queue.Empty:
                if not self._process.is_alive():
                    return False
        return self._ready and self._process.is_alive()

    def stream(self) -> ProcessDecoding:
        """A new stream; the previous one is closed."""
        self._streams += 1
        return ProcessDecoding(self, self._streams)

    def put(self, stream: int, kind: str, block: np.ndarray | None = None) -> None:
        self._requests.put((stream, kind, block))

    def get(self, wait: bool) -> tuple[int | None, Heard | None]:
        """The next reply; raises queue.Empty when none came (at once, or within POLL_S)."""
        return self._replies.get(timeout=POLL_S) if wait else self._replies.get_nowait()

    def alive(self) -> bool:
        return self._process.is_alive()

    def close(self) -> None:
        """Stop the child (it finishes what it is doing first)."""
        if self._process.is_alive():
            self._requests.put(None)
            self._process.join(timeout=2.0)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(timeout=2.0)


class ProcessDecoding:
    """A stream decoded by a Twin: blocks go out at once, what was heard comes back when ready."""

    def __init__(self, twin: Twin, number: int):
        self._twin = twin
        self._number = number
        self._sent_s = 0.0
        self._heard_s = 0.0
        self._open = True
        twin.put(number, "start")

    def send(self, block: np.ndarray) -> None:
        self._sent_s += block.size / RATE
        self._twin.put(self._number, "block", block)

    def _collect(self, until_last: bool) -> list[Heard]:
        collected: list[Heard] = []
        deadline = time.monotonic() + FINISH_GRACE_S + (self._sent_s - self._heard_s)
        while True:
            try:
                stream, heard = self._twin.get(wait=until_last)
            except queue.Empty:
                backlog = self._sent_s - self._heard_s > BACKLOG_S
                if ((until_last or backlog) and not self._twin.alive()) or (until_last and time.monotonic() > deadline):
                    raise DecoderGone("the speech recogniser's process stopped") from None
                if until_last:
                    continue
                return collected
            if stream != self._number:  # the ready signal, or the tail of a stream cut off earlier
                continue
            self._heard_s = heard.audio_s
            collected.append(heard)
            if heard.last:
                return collected

    def heard(self) -> list[Heard]:
        return self._collect(until_last=False)

    def finish(self) -> list[Heard]:
        self._twin.put(self._number, "finish")
        self._open = False
        return self._collect(until_last=True)

    def close(self) -> None:
        if self._open:
            self._twin.put(self._number, "close")
            self._open = False
