"""The app's engine room: one loaded model, one practice run or check at a time, and the live
messages of a run broadcast to every open page.

A run is the same `practice.run_drill` the terminal uses; its screen (`WebScreen`) turns the live
state and events into messages instead of drawing them.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

import numpy as np

from .. import history
from ..asr import Engine, load_engine
from ..audio import AudioInfo, MicSource, SilenceTracker
from ..customer import Customer
from ..data import RepReport
from ..drills import Drill
from ..errors import InUse, VoicedrillError
from ..live import UNHEARD_ASK, LiveRep, LiveState, LiveEvent, run_rep
from ..practice import DrillRun, Kept, Keeper, check_heard, file_sources, keep_check, run_drill, saved_line, score_file, with_targets
from ..report import counted, focus_line
from ..synth import Speaker
from ..webpage import rep_section, run_table

STATE_PER_S = 12  # live state messages a second (events go at once)
CHECK_BUSY = "a practice run is under way: stop it (or let it finish), then check the recording"
CHECKING = "another recording is being checked: try again when it is done"


STOPPED = "the app stopped before the run could begin; start it again when the app is back"
NOT_BEGUN = "stopped before the run began (the history was still being opened)"


def _settle(future: Future[None], exc: BaseException | None = None) -> bool:
    """Give `future` its outcome (`exc`, else done) unless it has one already; whether this did."""
    try:
        future.set_exception(exc) if exc is not None else future.set_result(None)
    except InvalidStateError:
        return False
    return True


class Busy(InUse):
    """The engine is taken by a run or a check."""


class Broadcast:
    """Messages from the run's thread to every open event stream; a page opened mid-run is first
    sent what the run has said so far."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._streams: list[tuple[asyncio.AbstractEventLoop, asyncio.Queue]] = []
        self._said: list[dict] = []  # the current run's messages, for a page that opens late
        self._state: dict | None = None  # only the newest live state is replayed
        self._closed = False

    def publish(self, message: dict) -> None:
        """Send a message to every stream, stamped with the wall-clock time it was sent (`sent`).

        A page opened later is sent the run under way: its messages so far, and the live state only
        while a rep speaks (after a rep ends, its scorecard is the last word)."""
        message = message | {"sent": round(time.time(), 3)}
        kind = message["type"]
        with self._lock:
            if kind == "run_start":
                self._said = []
            if kind == "state":
                self._state = message
            else:
                self._said.append(message)
            if kind in ("rep_start", "rep_end", "scorecard", "run_start", "run_end"):
                self._state = None
            if kind == "run_end":
                self._said = []  # the run is over: a new page starts clean
            for loop, queue in self._streams:
                loop.call_soon_threadsafe(queue.put_nowait, message)

    def close(self) -> None:
        """End every stream (the app is stopping): each is sent None, its last message, and so is
        one opened after (a page reconnecting while the server stops)."""
        with self._lock:
            self._closed = True
            for loop, queue in self._streams:
                loop.call_soon_threadsafe(queue.put_nowait, None)

    def subscribe(self) -> asyncio.Queue:
        """A queue of messages for one event stream (call from the event loop)."""
        queue: asyncio.Queue = asyncio.Queue()
        with self._lock:
            for message in self._said + ([self._state] if self._state else []) + ([None] if self._closed else []):
                queue.put_nowait(message)
            self._streams.append((asyncio.get_running_loop(), queue))
        return queue

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        with self._lock:
            self._streams = [(loop, q) for loop, q in self._streams if q is not queue]


def state_message(state: LiveState) -> dict:
    """What the practice page shows while the rep speaks."""
    turn = state.customer_speaking()
    return {
        "type": "state", "rep": state.rep, "t": round(state.audio_s, 2),
        "current": state.current_step(required=True), "heard": sorted(state.heard), "out_of_order": sorted(state.out_of_order), "early": sorted(state.early), "early_note": state.early_note(),
        "pause_s": round(state.pause_s, 2), "limits": state.pause_limits, "alarm": state.alarm, "resumed": state.resumed,
        "words": [list(pair) for pair in state.said_line()],  # the last line said, as the script has it: [word, caught]
        "customer": turn.text if turn else None,
        "unheard": UNHEARD_ASK if state.unheard else None,  # nothing heard yet, well into the rep
    }


@dataclass
class WebScreen:
    """A run's screen in the app (practice.Screen): every update becomes a message."""

    broadcast: Broadcast
    drill: Drill
    reps: int
    keeper: Keeper
    stopping: threading.Event
    shown: list[tuple[history.SavedRep, Kept]] = field(default_factory=list)  # each rep, and where it went (a waiting rep gets its number later)
    _source: object = None
    _rep: LiveRep | None = None
    _sent_at: float = 0.0

    def cue(self, text: str) -> None:
        self.broadcast.publish({"type": "cue", "text": text})

    def notice(self, text: str) -> None:
        self.broadcast.publish({"type": "notice", "text": text})

    def run(self, rep: LiveRep, source: Iterable[np.ndarray], title: str, customer: Customer | None = None) -> RepReport:
        self._rep, self._source = rep, source
        if self.stopping.is_set():  # Stop came between reps
            self.stop()
        return run_rep(rep, source, self._update, customer)

    def _update(self, state: LiveState, events: list[LiveEvent]) -> None:
        for event in events:
            self.broadcast.publish(event.to_dict())
        now = time.monotonic()
        if events or now - self._sent_at >= 1 / STATE_PER_S:
            self._sent_at = now
            self.broadcast.publish(state_message(state))

    def scored(self, number: int, report: RepReport, kept: Kept, title: str) -> None:
        """The scorecard (the same section as the rep's page) and, in a run of several, the table so far."""
        source = getattr(self._source, "name", "microphone")
        shown = shown_rep(self.keeper.session, number, self.reps, report, kept.rep_id, source, self._rep.tracker if self._rep else None)
        self.shown.append((shown, kept))
        so_far = [replace(rep, id=k.rep_id or 0) for rep, k in self.shown]  # 0: still waiting
        self.broadcast.publish({
            "type": "scorecard", "rep": number, "id": kept.rep_id, "score": report.score, "scored": report.scored, "saved": kept.where,
            "focus": focus_line(report) if report.coaching else "",
            "problems": kept.problems, "notes": kept.notes, "steps": {s.id: s.verdict for s in report.steps},
            "html": rep_section(shown), "run_html": run_table(so_far) if self.reps > 1 else "",
        })

    def wants_more(self) -> bool:
        return not self.stopping.is_set()

    def stop(self) -> None:
        """End the rep under way now (it is scored and kept) and start no other."""
        self.stopping.set()
        if self._source is not None and hasattr(self._source, "stop"):
            self._source.stop()


def shown_rep(session: history.Session, number: int, reps: int, report: RepReport, rep_id: int | None, source: str,
              tracker: SilenceTracker | None) -> history.SavedRep:
    """The rep as its page shows it, whether it went into the history or waits in a pending file."""
    return history.SavedRep(
        rep_id or 0, session.id or 0, number, reps, datetime.now().astimezone(), session.kind, session.drill, session.engine,
        session.model, session.user, source, None, session.pace_wpm, session.max_pause_s, report,
        tracker.levels(history.LEVEL_STEP_S) if tracker else None,
    )


@dataclass
class AppConfig:
    """How `voicedrill app` was started."""

    inputs: list[AudioInfo] = field(default_factory=list)  # --input recordings stand in for the microphone
    speed: float = 1.0  # how fast they are fed (0: as fast as possible)
    engine: str = "auto"
    model: str | None = None
    speech: bool = True  # cues and the customer said aloud
    user: str | None = None  # whose reps (--user; default $VOICEDRILL_USER, else the login name)


class Practice:
    """The one engine of the app process and what runs on it: a run of reps or a check."""

    def __init__(self, config: AppConfig, broadcast: Broadcast):
        self.config = config
        self.broadcast = broadcast
        self._busy = threading.Lock()
        self._checking = False  # the engine is taken by a check (else, when taken, by a run)
        self._store: history.Store | None = None  # the history the run or check under way keeps its reps in
        self._opening: Future[None] | None = None  # the run under way's history, being opened (done once it is)
        self._winding = False  # the app is stopping: every history opened from now on is hurried
        self._engine: tuple[str, Engine] | None = None  # (which drill it was built for, the engine)
        self._loading = threading.Lock()
        self.screen: WebScreen | None = None
        self.thread: threading.Thread | None = None
        self._stopping = threading.Event()  # Stop pressed for the run under way (also before its screen exists)
        self._played = itertools.count(1)  # the reps fed from --input recordings since the app started
        self.outcome = ""  # where the last run's or check's reps went (the app says it if it stops under one)

    def engine(self, drill: Drill) -> Engine:
        """The engine, loaded once; pocketsphinx is loaded again when the drill changes (its
        language model is the drill's script), vosk never."""
        key = repr(drill.script_lines())
        with self._loading:
            if self._engine is None or (self._engine[0] != key and self._engine[1].name != "vosk"):
                self._engine = (key, load_engine(self.config.engine, self.config.model, drill))
            return self._engine[1]

    def sources(self, source: str) -> Callable[[int], Iterable[np.ndarray]]:
        """'file': the --input recordings in turn, one per rep run after run (the next Start plays
        the next one, not the first again; after the last, the first); else a microphone by its
        device number."""
        if source == "file":
            if not self.config.inputs:
                raise VoicedrillError("no recordings to play: start the app with --input rep.wav to practise without a microphone")
            play = file_sources(self.config.inputs, self.config.speed)
            return lambda number: play(next(self._played))
        device = int(source) if source.isdigit() else None
        MicSource(device)  # refused now if it cannot record
        return lambda number: MicSource(device)

    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def busy(self) -> bool:
        """The engine is taken: a run, or a check."""
        return self._busy.locked()

    def start(self, drill: Drill, reps: int, customer: bool, source: str) -> Future[None]:
        """Start a run of `reps` reps on its own thread; Busy if the engine is taken. The future
        is done once the run's history is open, or says why it could not be (a role that may
        only read, a history locked by another program, the app stopping): said in the answer to
        Start, not after it on the stream."""
        if customer and not drill.has_customer:
            raise VoicedrillError(f"drill {drill.name!r} has no customer lines, so it cannot be practised with the customer")
        sources = self.sources(source)
        if not self._busy.acquire(blocking=False):
            raise self._taken("a run is under way: stop it first")
        opened: Future[None] = Future()
        self._opening = opened
        try:
            self._stopping = threading.Event()
            self.screen = None
            self.outcome = ""
            self.thread = threading.Thread(target=self._run, args=(opened, drill, reps, customer, sources), daemon=True, name="practice")
            self.thread.start()
        except BaseException:
            self._busy.release()
            raise
        return opened

    def _run(self, opened: Future[None], drill: Drill, reps: int, customer: bool, sources: Callable[[int], Iterable[np.ndarray]]) -> None:
        """The run, on its own thread: its history opened (`opened` says whether it could be), then its reps."""
        try:
            store = self._opened()
        except BaseException as exc:
            self._store = None
            self._busy.release()
            _settle(opened, exc)
            return
        if not _settle(opened):  # the app stopped while the history was being opened: nothing was heard
            store.close()
            self._store = None
            self._busy.release()
            return
        try:
            self.broadcast.publish({"type": "run_start", "drill": drill.name, "reps": reps, "customer": customer,
                                    "steps": [{"id": s.id, "title": s.named, "line": s.line, "optional": s.optional} for s in drill.steps]})
            engine = self.engine(drill)
            keeper = Keeper(store, history.Session.of("drill", drill, engine.name, engine.model_name, self.config.user))
            speaker = Speaker(self.config.speech)
            self.screen = WebScreen(self.broadcast, drill, reps, keeper, self._stopping)
            simulated = Customer(drill, speaker, random.Random()) if customer else None
            run = run_drill(drill, engine, sources, reps, self.screen, speaker, keeper, simulated)
            self._finish(run, keeper, drill)
        except VoicedrillError as exc:
            self.outcome = exc.plain
            self.broadcast.publish({"type": "run_end", "saved": "", "error": exc.plain})
        except Exception:
            self.broadcast.publish({"type": "run_end", "saved": "", "error": "the run stopped on an internal error (details in the app's terminal)"})
            raise
        finally:
            store.close()
            self._store = None
            self._busy.release()

    def stop(self) -> bool:
        """Ask the run to end after scoring the rep under way; False when nothing runs. A run still
        opening its history (locked by another program) is answered at once, and never begins."""
        if not self.running():
            return False
        if self._opening is not None:
            _settle(self._opening, InUse(NOT_BEGUN))
        self._stopping.set()
        if self.screen is not None:
            self.screen.stop()
        return True

    def wind_down(self, timeout_s: float) -> bool:
        """The app is stopping: the run is stopped, and a rep being scored and kept (a run's, or a
        check's) is waited for, at most `timeout_s`; False if it was still going. A stop took the
        run's thread with it: a rep whose audio was over, waiting for a locked history, was lost.
        A team database that does not answer is hurried: the rep waits in a pending file. A run
        still opening its history (locked by another program) has heard nothing: not waited for."""
        self._winding = True
        if self.running() and self._opening is not None and (_settle(self._opening, InUse(STOPPED)) or self._opening.exception() is not None):
            return True  # (the run never began: its history was not opened, or a Stop cut it short)
        self.stop()
        if (store := self._store) is not None:
            store.hurry()
        if not self._busy.acquire(timeout=timeout_s):
            return False
        self._busy.release()
        return True

    def session_under_way(self) -> int | None:
        """The history session the run under way saves into (None: no run, or no rep saved yet)."""
        return self.screen.keeper.session.id if self.running() and self.screen is not None else None

    def _opened(self) -> history.Store:
        """The history, opened for the run or check under way (hurried if the app is stopping)."""
        self._store = history.open_store(offline=True)
        if self._winding:
            self._store.hurry()
        return self._store

    def _finish(self, run: DrillRun, keeper: Keeper, drill: Drill) -> None:
        count = len(run.saved)
        saved = saved_line(run, keeper) if run.pending else f"{counted(count, 'rep')} saved to your progress" if count else ""
        if run.dropped:  # (not numbered: the run's table numbers reps as the history does; the drill's last step: soft-to-hard has no handoff)
            last = [s.named for s in drill.steps if not s.optional][-1]
            saved = " ".join([saved.rstrip(".") + "." if saved else "", f"The last rep was stopped before its last step ({last}), so it was not scored or saved."]).strip()
        saved = " ".join(filter(None, [run.cut_short, saved]))  # (a silent seventh rep of ten ended the run; nothing said so)
        self.outcome = " ".join(filter(None, [saved, run.error.plain if run.error else ""]))
        self.broadcast.publish({
            "type": "run_end", "saved": saved,  # (the run's first → last line is under its table, run_html)
            "error": run.error.plain if run.error else None,
        })

    def refuse_if_running(self) -> None:
        """Busy while a run (or another check) holds the engine."""
        if self.running() or self.busy():
            raise self._taken(CHECK_BUSY)

    def _taken(self, during_run: str) -> Busy:
        """Why the engine is taken: a run under way (said as `during_run`), or another recording
        being checked (six checks at once were each told a run was under way)."""
        return Busy(CHECKING if self._checking else during_run)  # (a run's thread may not have started yet)

    def check(self, audio: AudioInfo, drill: Drill, name: str) -> tuple[RepReport, history.Saved, history.SavedRep]:
        """A recording scored and kept as `voicedrill check` does it (`name`: as the rep uploaded it);
        also the rep as its page shows it (for a rep that waits for the history)."""
        if not self._busy.acquire(blocking=False):
            raise self._taken(CHECK_BUSY)
        self._checking = True
        self.outcome = ""
        store = None
        try:
            store = self._opened()
            engine = self.engine(drill)
            tracker = SilenceTracker()
            user = history.who(self.config.user)
            report = with_targets(store, drill, check_heard(score_file(audio, drill, engine, tracker), str(audio.path)), user)
            session = history.Session.of("check", drill, engine.name, engine.model_name, user)
            saved = keep_check(store, session, audio, report, tracker, name)
            self.outcome = f"the recording checked ({name}) was saved as rep {saved.rep}" if saved.rep else f"the recording checked ({name}): {saved.waiting}"
            return report, saved, shown_rep(session, 1, 1, report, saved.rep, name, tracker)
        finally:
            if store is not None:
                store.close()
            self._store = None
            self._checking = False
            self._busy.release()


def uploads_dir() -> Path:
    """Where recordings uploaded for a check are kept (the rep's page links its recording)."""
    return history.data_dir() / "recordings" / "uploads"
