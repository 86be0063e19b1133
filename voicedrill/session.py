"""Driving the pipeline: a recorded rep through an engine into a report, and live runs of reps."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import tempfile
import threading
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import platformdirs

from . import history
from .analysis import analyse
from .asr import Engine, transcribe
from .audio import SilenceTracker, probe, stream_file
from .data import RepReport
from .customer import Customer
from .drills import Drill
from .errors import VoicedrillError
from .live import LiveEvent, LiveRep, LiveState
from .liveview import LiveView
from .report import render, to_dict
from .synth import Piece, Speaker, build_rep, write_wav

# espeak-ng's lone "Email?" is heard as "the" by pocketsphinx's en-us model (every voice and
# rate we tried), so the example says the drill's fuller email variant, which both engines hear.
EXAMPLE_LINES = {"email": "And what's the best email for you?"}
EXAMPLE_SLOW_STEP = "payment"  # the example hesitates before this step, to show a flagged pause


def check_file(path: str | Path, drill: Drill, engine: Engine, tracker: SilenceTracker | None = None) -> RepReport:
    """Transcribe a recorded rep and score it against the drill (`tracker` keeps its energy envelope)."""
    probe(path)  # fail on bad files before any decoding
    tracker = tracker or SilenceTracker()
    transcript = transcribe(engine, tracker.tee(stream_file(path)))
    return analyse(transcript.words, drill, engine.name, transcript.audio_s, tracker.silences())


def example_pieces(drill: Drill, pause_s: float = 0.3, slow_pause_s: float = 1.6) -> list[Piece]:
    """The drill said through once, with one hesitation over the limit before `payment`."""
    return [
        Piece(
            EXAMPLE_LINES.get(step.id, step.line),
            step.id,
            slow_pause_s if step.id == EXAMPLE_SLOW_STEP else pause_s,
        )
        for step in drill.steps
    ]


def example_rep(drill: Drill) -> Path:
    """A synthesised example rep of the drill, made once and kept in the user cache."""
    pieces = example_pieces(drill)
    recipe = hashlib.sha256(repr(pieces).encode()).hexdigest()[:10]  # a changed drill gets a new example
    path = Path(platformdirs.user_cache_dir("voicedrill")) / f"example-{drill.name}-{recipe}.wav"
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    audio, _ = build_rep(pieces)
    fd, tmp = tempfile.mkstemp(suffix=".wav", dir=path.parent)
    os.close(fd)
    try:
        write_wav(tmp, audio)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


@dataclass
class Keeper:
    """Where finished reps go: the history store (unless --no-save) and, if asked, a folder of files."""

    store: history.Store | None
    session: history.Session
    folder: Path | None = None  # rep-NN.json (and rep-NN.wav) per rep
    keep_audio: bool = False

    def keep(self, number: int, report: RepReport, rep: LiveRep, source: str) -> tuple[int | None, str]:
        """Save one rep; returns its number in the history (None if not saved there) and how to find it again."""
        audio = np.concatenate(rep.audio) if rep.audio else None
        saved = []
        rep_id = None
        if self.folder is not None:
            record = {
                "session": self.folder.name, "rep": number, "saved_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "drill": self.session.drill, "engine": self.session.engine, "model": self.session.model,
                "source": source, "report": to_dict(report),
            }
            path = history.write_rep_files(self.folder, number, record, audio if self.keep_audio else None)
            saved.append(str(path))
        if self.store is not None:
            wav = self.folder / f"rep-{number:02d}.wav" if self.folder is not None and audio is not None else None
            recording = str(wav) if wav else source if Path(source).is_file() else None
            rep_id = self.store.save_rep(self.session, number, report, source, rep.tracker.levels(history.LEVEL_STEP_S), recording)
            saved.insert(0, f"rep {rep_id}")
        return rep_id, ", ".join(saved) or "not saved (--no-save)"


@dataclass
class DrillRun:
    """The reps of one `voicedrill drill` run, as saved."""

    reports: list[RepReport] = field(default_factory=list)
    saved: list[str] = field(default_factory=list)  # where each rep went
    numbers: list[int] = field(default_factory=list)  # each rep's number, as `voicedrill report N` takes it
    interrupted: bool = False
    overflows: int = 0
    error: VoicedrillError | None = None  # the input failed mid-run (e.g. the microphone went away)


def run_drill(
    drill: Drill,
    engine: Engine,
    sources: Callable[[int], Iterable[np.ndarray]],
    reps: int,
    view: LiveView,
    speaker: Speaker,
    keeper: Keeper,
    customer: Customer | None = None,
) -> DrillRun:
    """Rep after rep on one loaded engine; each rep is saved before the next starts.

    Ctrl-C ends the run: the rep under way is dropped, the completed ones are kept. So does an
    input that fails mid-rep (a microphone unplugged) or a save that fails; the error is kept.
    """
    run = DrillRun()
    console = view.console
    try:
        for number in range(1, reps + 1):
            cue = f"Rep {number}" + (f" of {reps}" if reps > 1 else "") + " — go"
            console.print(f"[bold]{cue}[/]")
            speaker.say(cue.replace("—", ","))
            if notice := speaker.take_notice():
                console.print(notice, markup=False, soft_wrap=True)
            source = sources(number)
            rep = LiveRep(drill, engine, keeper.keep_audio, number)
            report = view.run(rep, source, f"rep {number}/{reps}", customer)
            run.overflows += getattr(source, "overflows", 0)
            with _no_interrupt():
                rep_id, where = keeper.keep(number, report, rep, getattr(source, "name", "microphone"))
                run.saved.append(where)
                run.reports.append(report)
                run.numbers.append(rep_id or number)
            render(report, console, title=f"Rep {number} — {drill.title}  (saved: {where})")
    except KeyboardInterrupt:
        run.interrupted = True
    except VoicedrillError as exc:
        run.interrupted = True
        run.error = exc
    return run


class EventLog:
    """The --events stream: one JSON object per line per live event, written as it happens."""

    def __init__(self, path: Path):
        try:
            self.file = open(path, "w", encoding="utf-8", buffering=1)
        except OSError as exc:
            raise VoicedrillError(f"{path}: cannot write the events file ({exc.strerror or exc})") from None
        self.path = path

    def __call__(self, state: LiveState, events: list[LiveEvent]) -> None:
        try:
            for event in events:
                self.file.write(json.dumps(event.to_dict(), ensure_ascii=False) + "\n")
        except OSError as exc:
            raise VoicedrillError(f"{self.path}: cannot write the events file ({exc.strerror or exc})") from None

    def close(self) -> None:
        self.file.close()


@contextmanager
def _no_interrupt():
    """Hold Ctrl-C while a rep is being saved; it takes effect right after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
