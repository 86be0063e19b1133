"""Live decoding: a rep's blocks go to the recogniser and what it heard comes back, block by block.

pocketsphinx holds Python's lock while it decodes, and the second pass it makes at the end of
every utterance takes about 55 ms. At real-time pace that work runs in a child process with its
own copy of the engine (a `Twin`), on the other core, so the live loop — pause meter, ticks,
screen — never waits for it. Fed as fast as a file can be read, decoding stays in this process,
block by block, so the same audio always gives the same live events.

A missing step is listened to again (second_look) where the stream was decoded, on the engine
that has just heard it, exactly as `check` does: the same rep gets the same scorecard live and
checked, in this process or in the child.
"""

from __future__ import annotations

import multiprocessing
import queue
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import numpy as np

from .asr import Engine
from .audio import RATE, Silences, clip_blocks
from .data import Word
from .drills import Drill
from .second_look import second_look

READY_TIMEOUT_S = 15.0  # loading the engine's copy takes about 1 s; longer, the rep decodes here
FINISH_GRACE_S = 10.0  # a rep's last words and its second looks come this long after its end at most (plus its backlog)
POLL_S = 0.05  # how often a wait checks that the child is still there
PARENT_CHECK_S = 0.5  # how often an idle child checks that its parent is still there
BACKLOG_S = 2.0  # this much audio sent and not heard: check that the child is still there…
STALLED_S = 5.0  # …and no answer for this long on the clock: it is stuck, even if alive (a slow machine falls behind, but answers)


@dataclass(frozen=True)
class Heard:
    """The recogniser's view once it has decoded the audio up to `audio_s`."""

    audio_s: float
    final: list[Word]  # words that became final with this block
    partial: list[Word]  # the hypothesis under way
    last: bool = False  # the end of the stream: `final` holds its last words…
    looked: list[Word] | None = None  # …and this, the whole rep's words after its second looks


class DecoderGone(RuntimeError):
    """The child process decoding the rep stopped (killed, out of memory) or stopped answering."""


class Decoding(Protocol):
    """One rep's decoding stream."""

    def send(self, block: np.ndarray) -> None:
        """Queue a 16 kHz mono int16 block for decoding (never waits for the recogniser)."""
        ...

    def heard(self) -> list[Heard]:
        """What was decoded since the last call, in audio order."""
        ...

    def finish(self, silences: Silences = ()) -> list[Heard]:
        """End of audio: everything not yet returned, ending with the stream's last words and
        the rep's words after its second looks (which also listen to the sounds between the
        rep's `silences` that no word was put on)."""
        ...

    def close(self) -> None:
        """End the stream without its last words (a rep cut off); harmless after finish()."""
        ...


class InlineDecoding:
    """Decodes each block as it is sent, in this process."""

    def __init__(self, engine: Engine, drill: Drill):
        self._engine, self._drill = engine, drill
        self._recognizer = engine.recognizer()
        self._samples = 0
        self._ready: list[Heard] = []
        self._audio: list[np.ndarray] = []  # the rep as sent, and its words so far: for the second looks
        self._words: list[Word] = []

    def send(self, block: np.ndarray) -> None:
        self._samples += block.size
        self._audio.append(block)
        final = self._recognizer.accept(block)
        self._words += final
        self._ready.append(Heard(self._samples / RATE, final, self._recognizer.partial()))

    def heard(self) -> list[Heard]:
        ready, self._ready = self._ready, []
        return ready

    def finish(self, silences: Silences = ()) -> list[Heard]:
        final = self._recognizer.finish()
        looked = second_look(self._words + final, self._drill, self._engine, lambda start, end: clip_blocks(self._audio, start, end), silences)
        return self.heard() + [Heard(self._samples / RATE, final, [], last=True, looked=looked)]

    def close(self) -> None:
        self._recognizer.close()


class Ask(StrEnum):
    """What the parent asks of the child, for one stream."""

    START = "start"
    BLOCK = "block"
    FINISH = "finish"
    CLOSE = "close"


Payload = Drill | np.ndarray | Silences | None  # START comes with the drill, BLOCK with the audio, FINISH with the rep's silences


def _serve(recipe: Callable[[], Engine], requests: multiprocessing.Queue, replies: multiprocessing.Queue) -> None:
    """The child: load the engine, then decode streams (one at a time) until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle (it came blocked: see Twin)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    replies.cancel_join_thread()  # exiting never waits for a parent that stopped reading
    try:
        _decode_streams(recipe(), requests, replies)
    except Exception:  # the parent sees the child gone and decodes the rep itself: nothing to print here
        pass


def _requests(requests: multiprocessing.Queue) -> Iterator[tuple[int, Ask, Payload]]:
    """The parent's requests until it says stop, or until it is gone (killed: nobody says stop)."""
    parent = multiprocessing.parent_process()
    while True:
        try:
            request = requests.get(timeout=PARENT_CHECK_S)
        except queue.Empty:
            if parent.is_alive():
                continue
            return
        if request is None:
            return
        yield request


def _decode_streams(engine: Engine, requests: multiprocessing.Queue, replies: multiprocessing.Queue) -> None:
    """Say it is ready, then decode each stream as InlineDecoding does, sending back what it heard."""
    replies.put((None, None))
    decoding: InlineDecoding | None = None
    for stream, ask, payload in _requests(requests):
        if ask == Ask.START:
            if decoding is not None:
                decoding.close()
            decoding = InlineDecoding(engine, payload)
        elif ask == Ask.CLOSE:
            if decoding is not None:
                decoding.close()
            decoding = None  # (its audio goes now, not at the next rep)
        else:
            if ask == Ask.BLOCK:
                decoding.send(payload)
            for heard in decoding.finish(payload) if ask == Ask.FINISH else decoding.heard():
                replies.put((stream, heard))
            if ask == Ask.FINISH:
                decoding = None


class Twin:
    """A child process holding its own copy of an engine, decoding one live stream at a time."""

    def __init__(self, recipe: Callable[[], Engine]):
        context = multiprocessing.get_context("spawn")  # no fork: the app's threads stay out of it
        # A Ctrl-C while the child starts is not its to print; and the terminal closing (SIGHUP to the
        # whole group) is the parent's to handle: it killed multiprocessing's resource tracker, started
        # with the first queue, which then printed a traceback per queue. Both keep the mask they start with.
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGHUP})
        try:
            self._requests = context.Queue()
            self._requests.cancel_join_thread()  # exiting never waits on a child that has gone
            self._replies = context.Queue()
            self._process = context.Process(target=_serve, args=(recipe, self._requests, self._replies), daemon=True, name="voicedrill-decoder")
            with suppress(OSError):  # no memory or processes left for it: never ready, every rep decodes here
                self._process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        self._streams = 0
        self._ready = False

    def ready(self, timeout_s: float = READY_TIMEOUT_S) -> bool:
        """Wait until the child has loaded its engine; False if it could not (in time) or has stopped since."""
        deadline = time.monotonic() + timeout_s
        while not self._ready and time.monotonic() < deadline:
            try:
                self._replies.get(timeout=POLL_S)
                self._ready = True
            except queue.Empty:
                if not self._process.is_alive():
                    return False
        return self._ready and self._process.is_alive()

    def stream(self, drill: Drill) -> ProcessDecoding:
        """A new stream of a rep of `drill` (the child closes the previous one first)."""
        self._streams += 1
        return ProcessDecoding(self, self._streams, drill)

    def put(self, stream: int, ask: Ask, payload: Payload = None) -> None:
        """Send a request for `stream` (never waits: the queue's own thread writes it)."""
        self._requests.put((stream, ask, payload))

    def get(self, wait: bool) -> tuple[int | None, Heard | None]:
        """The next reply; raises queue.Empty when none came (at once, or within POLL_S)."""
        return self._replies.get(timeout=POLL_S) if wait else self._replies.get_nowait()

    def alive(self) -> bool:
        """The child process is running (it may still be loading)."""
        return self._process.is_alive()

    def close(self) -> None:
        """Stop the child (it finishes what it is doing first)."""
        if self._process.is_alive():
            self._requests.put(None)
            self._process.join(timeout=2.0)
        self.stop()

    def stop(self) -> None:
        """Stop the child now (it has stopped answering)."""
        for end in (self._process.terminate, self._process.kill):
            if self._process.is_alive():
                end()
                self._process.join(timeout=2.0)


class ProcessDecoding:
    """A stream decoded by a Twin: blocks go out at once, what was heard comes back when ready."""

    def __init__(self, twin: Twin, number: int, drill: Drill):
        self._twin = twin
        self._number = number
        self._sent = 0  # samples sent…
        self._heard = 0  # …and heard back
        self._answered = time.monotonic()  # when the child last answered
        self._open = True
        twin.put(number, Ask.START, drill)

    def send(self, block: np.ndarray) -> None:
        self._sent += block.size
        self._twin.put(self._number, Ask.BLOCK, block)

    def _collect(self, until_last: bool) -> list[Heard]:
        """Replies to this stream ready now; with `until_last`, every one up to the stream's end."""
        collected: list[Heard] = []
        deadline = time.monotonic() + FINISH_GRACE_S + (self._sent - self._heard) / RATE
        while True:
            try:
                stream, heard = self._twin.get(wait=until_last)
            except queue.Empty:
                behind_s = (self._sent - self._heard) / RATE
                gone = (until_last or behind_s > BACKLOG_S) and not self._twin.alive()
                stuck = behind_s > BACKLOG_S and time.monotonic() - self._answered > STALLED_S
                if gone or stuck or (until_last and time.monotonic() > deadline):
                    self._twin.stop()  # stuck or gone: the rest of the run decodes here
                    raise DecoderGone("the speech recogniser's process stopped answering") from None
                if until_last:
                    continue
                return collected
            self._answered = time.monotonic()  # (any answer: a child still working through a stream cut off earlier is alive)
            if stream != self._number:  # the ready signal, or the tail of a stream cut off earlier
                continue
            self._heard = round(heard.audio_s * RATE)
            collected.append(heard)
            if heard.last:
                return collected

    def heard(self) -> list[Heard]:
        return self._collect(until_last=False)

    def finish(self, silences: Silences = ()) -> list[Heard]:
        self._twin.put(self._number, Ask.FINISH, list(silences))
        self._open = False
        return self._collect(until_last=True)

    def close(self) -> None:
        if self._open:
            self._twin.put(self._number, Ask.CLOSE)
            self._open = False
