"""Driving the pipeline: a recorded rep through an engine into a report, and live runs of reps."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol

import numpy as np
import platformdirs

from . import history
from .align import normalise
from .analysis import analyse
from .asr import Engine, Transcript, transcribe
from .audio import AudioInfo, FileSource, MicSource, SilenceTracker, Silences, clip_file, stream_file
from .data import RepReport, Word
from .decoding import Twin
from .customer import Customer
from .drills import Drill
from .errors import VoicedrillError
from .files import destination, reason, write_atomic, write_file
from .live import LiveEvent, LiveRep, LiveState
from .metrics import any_clear, words_per_minute
from .report import counted, to_dict
from .second_look import second_look
from .stopping import exit_status, interrupt_after
from .synth import DEFAULT_VOICE, ROOM_SEED, ROOM_TONE, Piece, Segment, Speaker, build_rep, in_a_room, write_wav
from .targets import RECENT, judged

ONLY_SHOWN = "the scorecard above is all there is of this rep"  # said of a rep kept nowhere (every place full)


def score_file(source: str | Path | AudioInfo, drill: Drill, engine: Engine, tracker: SilenceTracker | None = None) -> RepReport:
    """Transcribe a recorded rep and score it against the drill (`tracker` keeps its energy envelope)."""
    tracker = tracker or SilenceTracker()
    transcript, words, silences = hear_file(source, drill, engine, tracker)
    return analyse(words, drill, engine.name, transcript.audio_s, silences, hushes=tracker.hushes())


def hear_file(source: str | Path | AudioInfo, drill: Drill, engine: Engine, tracker: SilenceTracker) -> tuple[Transcript, list[Word], Silences]:
    """A recorded rep's transcript, its words once a missing step is listened for again (second_look),
    and its silences, which `tracker` measures on the way."""
    transcript = transcribe(engine, tracker.tee(stream_file(source)))  # a bad file fails before any decoding
    silences = tracker.silences()
    return transcript, second_look(transcript.words, drill, engine, lambda start, end: clip_file(source, start, end), silences), silences


def heard_something(report: RepReport, what: str, advice: str) -> RepReport:
    """The report, unless no word was heard clearly and no step found (a muted microphone, a silent
    file, a faint guess at a sound: one "you" under 0.1 sure read as a rep at 353 words a minute):
    that is no rep, so it is refused in one line (`what` happened; `advice`: what to do), never saved."""
    if not any_clear(report.words) and report.nothing_heard:
        seconds = f"{report.audio_s:.1f}".rstrip("0").rstrip(".")
        raise VoicedrillError(f"{what}: no word was heard clearly in {seconds} s, so nothing was scored or saved; {advice}")
    return report


def check_heard(report: RepReport, recording: str) -> RepReport:
    """A checked recording's report, refused if nothing was heard in it."""
    return heard_something(report, recording, "is it a recording of the drill said out loud?")


def with_targets(store: history.Store | None, drill: Drill, report: RepReport, user: str) -> RepReport:
    """The report judged against this person's own recent best at this drill (no history: no targets).
    A history that cannot be read now will not take the rep either: it goes to a pending file."""
    if store is None:
        return report
    try:
        past = store.reps(drill=drill.name, user=user, last=RECENT * 3)
    except VoicedrillError as exc:
        store.problem = store.problem or str(exc).split("; ")[0]
        return report
    return judged(report, [r.report for r in past])


def keep_check(store: history.Store, session: history.Session, info: AudioInfo, report: RepReport, tracker: SilenceTracker,
               source: str | None = None) -> history.Saved:
    """A checked recording into the history, as `session` (a check's session of one) or a pending
    file; `source` names it (default: its full path)."""
    path = str(info.path.resolve())
    return store.save_rep(session, 1, report, source or path, tracker.levels(history.LEVEL_STEP_S), path)


def file_sources(infos: list[AudioInfo], speed: float) -> Callable[[int], FileSource]:
    """Rep N plays the Nth recording, in turn (after the last, the first again, as the app plays
    them); speed 0 = as fast as possible."""
    return lambda number: FileSource(infos[(number - 1) % len(infos)], speed=speed or None)


def mic_sources() -> Callable[[int], MicSource]:
    """Every rep from the microphone; a missing one is refused now, before anything loads."""
    MicSource()
    return lambda number: MicSource()


REQUIRED_MARGIN_S = 0.5  # a pause the drill requires is said this much over its minimum
SAID_PAUSE_S = 0.3  # the silence between lines of synth's rep and the example rep
SPOKEN_WPM, MIN_SPOKEN_WPM, MAX_SPOKEN_WPM = 170, 60, 400  # synth's speaking rate (what espeak-ng is asked for), by default and at most
HESITATION_OVER_S = 0.6  # the example rep's hesitation is this much over its limit: clearly flagged


def said_through(drill: Drill, pause_s: float, example: bool = False, within_limits: bool = True) -> list[Piece]:
    """The drill said through once, each line after `pause_s` of silence — or, where the drill
    requires a pause ("take a pause before concern"), at least half a second over its minimum and
    under its maximum (midway when they are closer), and where it allows less than `pause_s`,
    half of what it allows. `within_limits` False: `pause_s` as asked wherever it is at least what
    the drill requires (to hear a long pause flagged). `example`: each step's example line. An
    optional step (the concern, said when they hesitate) is left out: this customer says yes."""
    said = [step for step in drill.steps if not step.optional]
    pieces = []
    for before, step in zip([None, *said], said):
        low, high = drill.pause_limits(before.id, step.id) if before else (0.0, pause_s)
        if low:
            gap = max(pause_s, low + REQUIRED_MARGIN_S)
            if gap > high - REQUIRED_MARGIN_S and (within_limits or gap > pause_s):
                gap = (low + high) / 2
        else:
            gap = pause_s if pause_s <= high or not within_limits else high / 2
        pieces.append(Piece(step.example_line if example else step.line, step.id, gap))
    return pieces


def spoken(drill: Drill, pieces: list[Piece], voice: str = DEFAULT_VOICE, wpm: int | None = None) -> tuple[np.ndarray, list[Segment], float | None]:
    """The pieces spoken at `wpm`, or by default at SPOKEN_WPM unless that is outside the drill's pace
    band, then at a rate paced mid-band (a manager's drill paced 100–140 was spoken at 186 words a
    minute and its example scored "too fast"); also the pace it was spoken at, as check measures it
    (words over the time from the first to the last)."""
    rate = wpm or SPOKEN_WPM
    audio, segments = build_rep(pieces, voice, rate)
    pace = _pace_of(segments)
    low, high = drill.pace_wpm
    tries = [(audio, segments, pace)]
    while wpm is None and pace is not None and not low <= pace <= high and len(tries) < 3:  # (a rate's pace is not proportional to it: espeak's pauses at commas keep their length)
        rate = min(MAX_SPOKEN_WPM, max(MIN_SPOKEN_WPM, round(rate * (low + high) / 2 / pace)))
        audio, segments = build_rep(pieces, voice, rate)
        tries.append((audio, segments, pace := _pace_of(segments)))
    return min(tries, key=lambda t: 0.0 if t[2] is None else abs(t[2] - (low + high) / 2))  # (a rate asked for: its one try)


def _pace_of(segments: list[Segment]) -> float | None:
    """Words a minute from the first word of `segments` to the last."""
    return words_per_minute(sum(len(normalise(s.text)) for s in segments), segments[-1].end - segments[0].start) if segments else None


def example_pieces(drill: Drill, pause_s: float = SAID_PAUSE_S) -> list[Piece]:
    """The drill said through (each step's example line), with one hesitation HESITATION_OVER_S
    over the drill's pause limit, to show a flagged pause: before the first of the steps that
    come last (else the last step), or, if a pause rule of the drill's own governs that gap,
    before the last step no rule governs. A drill whose every gap has a rule has no hesitation."""
    pieces = said_through(drill, pause_s, example=True)
    free = [i for i in range(1, len(pieces)) if drill.pause_limits(pieces[i - 1].label, pieces[i].label) == (0.0, drill.max_pause_s)]
    if not free:
        return pieces
    first_last = next((i for i, p in enumerate(pieces) if p.label in drill.last), len(pieces) - 1)
    slow = first_last if first_last in free else free[-1]
    return [replace(p, pause_before=drill.max_pause_s + HESITATION_OVER_S) if i == slow else p for i, p in enumerate(pieces)]


def example_note(drill: Drill) -> str:
    """What the example rep says, so its flagged pause reads as meant: "every step in order, with a
    1.6 s hesitation before payment to show a long pause flagged"."""
    pieces = example_pieces(drill)
    slow = next((p for p in pieces if p.pause_before == drill.max_pause_s + HESITATION_OVER_S), None)
    said = "every step in order, each with its example line"
    return said if slow is None else f"{said}, with a hesitation of about {slow.pause_before:g} s before {drill.named(slow.label)} on purpose, to show a long pause flagged"


def example_rep(drill: Drill) -> Path:
    """A synthesised example rep of the drill, made once and kept in the user cache."""
    pieces = example_pieces(drill)
    recipe = hashlib.sha256(repr((pieces, drill.pace_wpm, ROOM_TONE, ROOM_SEED)).encode()).hexdigest()[:10]  # a changed drill (its pace too) or room gets a new example
    folder = Path(platformdirs.user_cache_dir("voicedrill"))
    path = folder / f"example-{drill.name}-{recipe}.wav"
    if path.is_file():
        return path
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise VoicedrillError(f"cannot make the example rep in {folder} ({reason(exc)}); free space there or set XDG_CACHE_HOME") from None
    audio = in_a_room(spoken(drill, pieces)[0])
    write_atomic(path, lambda tmp: write_wav(tmp, audio))
    return path


def new_folder(root: Path | None = None) -> Path:
    """A fresh folder for one run's files (--out, --keep-audio), named by its start time."""
    root = root or history.data_dir() / "recordings"
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    if root.exists() and not root.is_dir():
        raise VoicedrillError(f"{root} is a file, not a folder: --out takes a folder, where each run gets a folder of its own")
    try:
        root.mkdir(parents=True, exist_ok=True)
        for n in range(100):
            folder = root / (stamp if n == 0 else f"{stamp}-{n}")
            try:
                folder.mkdir()
                return folder
            except FileExistsError:
                continue
    except OSError as exc:
        raise VoicedrillError(f"cannot create a folder for this run's files in {root} ({reason(exc)}); choose another with --out") from None
    raise VoicedrillError(f"too many runs started this second in {root}")


@dataclass
class Keeper:
    """Where finished reps go: the history store (unless --no-save) and, if asked, a folder of files."""

    store: history.Store | None
    session: history.Session
    folder: Path | None = None  # rep-NN.json (and rep-NN.wav) per rep
    keep_audio: bool = False
    problem_told: bool = False
    files_failed: bool = False  # some rep files could not be written to the folder
    waiting: dict[Path, Kept] = field(default_factory=dict)  # this run's reps in pending files

    def keep(self, number: int, report: RepReport, rep: LiveRep, source: str) -> Kept:
        """Save one rep: to the folder if asked, and to the history, else to a pending file. A
        failure in one place never costs the rep the others."""
        audio = np.concatenate(rep.audio) if self.keep_audio and rep.audio else None
        kept = Kept()
        wav = None
        if self.folder is not None:
            record = {
                "session": self.folder.name, "rep": number, "saved_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "drill": self.session.drill, "engine": self.session.engine, "model": self.session.model,
                "source": source, "report": to_dict(report),
            }
            try:  # each file whole or not at all; the record first, so a disk with no room for the audio keeps it
                write_file(self.folder / f"rep-{number:02d}.json", json.dumps(record, ensure_ascii=False, indent=1).encode("utf-8"))
                kept.places.append(str(self.folder / f"rep-{number:02d}.json"))
                if audio is not None:
                    write_atomic(self.folder / f"rep-{number:02d}.wav", lambda tmp: write_wav(tmp, audio))
                    wav = self.folder / f"rep-{number:02d}.wav"
            except VoicedrillError as exc:
                kept.problems.append(str(exc))
                self.files_failed = True
        if self.store is not None:
            recording = str(wav) if wav else source if Path(source).is_file() else None
            saved = self.store.save_rep(self.session, number, report, source, rep.tracker.levels(history.LEVEL_STEP_S), recording)
            kept.places.insert(0, "")
            kept.went(saved.rep, saved.pending)
            if saved.sent:
                kept.notes.append(f"The history answers again. Now in it: {counted(len(saved.sent), 'rep')} kept on this computer meanwhile.")
            for path, rep_id in saved.sent.items():
                if path in self.waiting:
                    self.waiting.pop(path).went(rep_id, None)
            if saved.pending:
                self.waiting[saved.pending] = kept
                if not self.problem_told:
                    kept.problems.append(saved.waiting)
                    self.problem_told = True
        return kept


@dataclass
class Kept:
    """Where one rep went, and what went wrong on the way (said once, in words)."""

    rep_id: int | None = None  # its number in the history
    pending: Path | None = None  # or the file it waits in
    places: list[str] = field(default_factory=list)  # the history's place first
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # good news about saving (waiting reps sent)

    def went(self, rep_id: int | None, pending: Path | None) -> None:
        """Where the history has the rep now: its number, or the pending file it waits in."""
        self.rep_id, self.pending = rep_id, pending
        self.places[0] = f"rep {rep_id}" if rep_id else "waiting on this computer"

    @property
    def where(self) -> str:
        return ", ".join(self.places) or ("not saved" if self.problems else "not saved (--no-save)")


def saved_line(run: DrillRun, keeper: Keeper) -> str:
    """Where the run's reps went, counted per place."""
    if not run.saved:
        if isinstance(run.unkept, Path):
            return f"nothing was saved in your history; the last rep is only in {run.unkept}"
        return "nothing was saved" if run.unkept else "no rep was finished, so nothing was saved"
    folder = [f"{keeper.folder} (some files could not be written, see above)" if keeper.files_failed else str(keeper.folder)] if keeper.folder is not None else []
    if keeper.store is None:
        return f"{counted(len(run.saved), 'rep')} saved in {folder[0]}" if folder else f"{counted(len(run.saved), 'rep')} not saved (--no-save)"
    if not run.pending:
        session = f"s{keeper.session.id}"
        places = " and in ".join([f"your history as session {session}", *folder])
        return f"{counted(len(run.saved), 'rep')} saved in {places}.\nA page of them: voicedrill report {session} --html session.html"  # (a line of its own: never wrapped mid-command)
    session = f"your history as session s{keeper.session.id}" if keeper.session.id else "your history"
    places = [f"{len(run.saved) - len(run.pending)} saved in {session}"] if len(run.saved) > len(run.pending) else []
    places.append(f"{len(run.pending)} waiting in {run.pending[0].parent} (they go into the history {keeper.store.UNTIL})")
    return f"{counted(len(run.saved), 'rep')} finished: " + "; ".join(places + [f"files in {f}" for f in folder])


@dataclass
class DrillRun:
    """The reps of one `voicedrill drill` run, as saved."""

    reports: list[RepReport] = field(default_factory=list)
    kept: list[Kept] = field(default_factory=list)  # where each rep went (a waiting rep's place changes when it goes in)
    interrupted: bool = False
    status: int = 130  # the shell's status for a run a signal stopped (130: Ctrl-C)
    dropped: int | None = None  # the rep stopped before its handoff (not scored or saved)
    unkept: int | Path | None = None  # the rep scored and shown, kept neither in the history nor waiting for it: its number, or its --out file
    overflows: int = 0
    error: VoicedrillError | None = None  # the input failed mid-run (e.g. the microphone went away)
    asked: int = 1  # the reps the run was to have

    @property
    def cut_short(self) -> str:
        """A run of several reps an error ended early, in words ("" otherwise): "The run stopped at rep 7 of 10." """
        done = len(self.reports)  # (a rep scored but not kept, whose save failed, is where it stopped)
        return f"The run stopped at rep {done + 1} of {self.asked}." if self.error and self.asked > 1 and done < self.asked else ""

    @property
    def saved(self) -> list[str]:
        """Where each rep went, in words."""
        return [k.where for k in self.kept]

    @property
    def numbers(self) -> list[int | None]:
        """Each rep's number, as `voicedrill report N` takes it: None while it waits to go in; a rep
        not kept in the history at all (--no-save) has its place in the run."""
        return [k.rep_id if k.rep_id or k.pending else n for n, k in enumerate(self.kept, 1)]

    @property
    def pending(self) -> list[Path]:
        """The reps the history could not take yet (a file another voicedrill took in is gone)."""
        return [k.pending for k in self.kept if k.pending and k.pending.exists()]


class Screen(Protocol):
    """A front end for a run of reps: the terminal (liveview.LiveView) or the app."""

    def cue(self, text: str) -> None:
        """Show the cue that starts a rep."""

    def notice(self, text: str) -> None:
        """Show one line about the run (e.g. speech output unavailable)."""

    def run(self, rep: LiveRep, source: Iterable[np.ndarray], title: str, customer: Customer | None = None) -> RepReport:
        """Drive one rep from its source, showing it live; return its scorecard."""

    def scored(self, number: int, report: RepReport, kept: Kept, title: str) -> None:
        """Show a finished rep's scorecard and where it was saved."""

    def wants_more(self) -> bool:
        """False once the rep asked the run to stop after the rep under way."""


def run_drill(
    drill: Drill,
    engine: Engine,
    sources: Callable[[int], Iterable[np.ndarray]],
    reps: int,
    screen: Screen,
    speaker: Speaker,
    keeper: Keeper,
    customer: Customer | None = None,
) -> DrillRun:
    """Rep after rep on one loaded engine; each rep is saved before the next starts.

    Ctrl-C ends the run: the rep under way is dropped (once its audio is over, it is scored and kept
    first), the completed ones are kept. So does an
    input that fails mid-rep (a microphone unplugged) or a save that fails; the error is kept. A
    rep the screen stopped (the app's Stop) is kept if it reached the handoff, else dropped too:
    an unfinished rep would be scored as skipped steps the rep never had the chance to say.
    """
    run = DrillRun(asked=reps)
    twin: Twin | None = None  # decodes paced reps beside the live loop (started for the first one)
    try:
        for number in range(1, reps + 1):
            if not screen.wants_more():
                run.interrupted = True
                break
            source = sources(number)
            # the simulated customer takes the floor from the words heard so far, so they must be
            # up to the block: with it, reps decode here (measured: beside, it spoke over "Email?")
            paced = getattr(source, "paced", False) and engine.recipe is not None and customer is None
            if paced and twin is None:
                twin = Twin(engine.recipe)
            beside = twin if paced and twin.ready() else None  # one that failed or stalled: decoded here
            cue = f"Rep {number}" + (f" of {reps}" if reps > 1 else "") + " — go"
            screen.cue(cue)
            speaker.say(cue.replace("—", ","))
            if notice := speaker.take_notice():
                screen.notice(notice)
            rep = LiveRep(drill, engine, number, beside)
            with interrupt_after(lambda: rep.ended_itself, keeper.store.hurry if keeper.store else None):  # a rep whose audio is over is scored, kept and shown, Ctrl-C or not
                report = with_targets(keeper.store, drill, screen.run(rep, source, f"rep {number}/{reps}", customer), keeper.session.user)
                if not screen.wants_more() and not (report.words and (report.reached_end or rep.ended_itself)):
                    run.interrupted = True  # stopped before a word, or mid-rep: nothing to score
                    run.dropped = number if report.words else None
                    break
                name = getattr(source, "name", None)  # a recording's; else the microphone
                heard_something(report, f"rep {number} ({name})" if name else f"rep {number}", "is it a recording of the drill said out loud?" if name
                                else "check that the microphone is on and not muted, then start again")
                run.overflows += getattr(source, "overflows", 0)
                try:
                    kept = keeper.keep(number, report, rep, getattr(source, "name", "microphone"))
                except VoicedrillError as exc:  # not in the history, nor waiting for it (every place full): shown, and the run stops
                    filed = keeper.folder / f"rep-{number:02d}.json" if keeper.folder is not None else None
                    run.unkept = filed if filed is not None and filed.is_file() else number
                    only = f"the rep is only in {filed}" if isinstance(run.unkept, Path) else ONLY_SHOWN
                    screen.scored(number, report, Kept(problems=[f"{exc}; {only}"]), f"This run's rep {number} — {drill.title}  (not in your history)")
                    raise
                run.reports.append(report)
                run.kept.append(kept)
                saved = f"saved as {kept.where}" if kept.rep_id else f"saved: {kept.where}" if kept.places else "not saved: --no-save"
                screen.scored(number, report, kept, f"This run's rep {number} — {drill.title}  ({saved})")  # ("Rep 2 … saved: rep 16" read as two reps)
    except KeyboardInterrupt as stop:  # Ctrl-C, SIGTERM or SIGHUP
        run.interrupted = True
        run.status = exit_status(stop)
    except VoicedrillError as exc:
        run.interrupted = True
        run.error = exc
    finally:
        if twin is not None:
            twin.close()
    return run


class EventLog:
    """The --events stream: one JSON object per line per live event, written as it happens."""

    def __init__(self, path: Path):
        try:
            self.target = destination(path)  # not a pipe, a device, the history or a recording
        except VoicedrillError as exc:
            raise VoicedrillError(f"the events file: {exc}") from None
        if not os.access(self.target if self.target.exists() else self.target.parent, os.W_OK):
            raise VoicedrillError(f"{path}: cannot write the events file (permission denied)")
        self.path = path
        self.file = None  # opened at the first event: a run refused before it starts leaves the file as it was
        self.problem: str | None = None  # why the events stopped (the run goes on: no rep is lost to its log)

    def __call__(self, state: LiveState, events: list[LiveEvent]) -> None:
        """Write the events; a file that cannot take them stops, never the run (see close)."""
        if self.problem:
            return
        try:
            if self.file is None:
                self.file = open(self.target, "w", encoding="utf-8", buffering=1)
            for event in events:
                self.file.write(json.dumps(event.to_dict(), ensure_ascii=False) + "\n")
        except OSError as exc:
            self.problem = f"{self.path}: the events file stopped in rep {state.rep} ({reason(exc)}); the run went on without it"
            if self.file is not None:
                with suppress(OSError):
                    self.file.close()

    def close(self) -> None:
        """Close the file; raise the problem that stopped it, if one did (said once, after the run)."""
        try:
            if self.file is not None:
                self.file.close()
        except OSError as exc:
            self.problem = self.problem or f"{self.path}: the last events could not be written ({reason(exc)})"
        if self.problem:
            raise VoicedrillError(self.problem)
