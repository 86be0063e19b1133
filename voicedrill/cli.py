"""Command line: argument parsing and error reporting only; the work lives in the stage modules."""

from __future__ import annotations

import argparse
import contextlib
import errno
import io
import os
import random
import re
import sys
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from rich.console import Console

from . import __version__
from .errors import VoicedrillError
from .files import reason
from .schema import DB_ENV, LARGEST_ID, db_path
from .stopping import exit_status, stop_on_signals

if TYPE_CHECKING:
    from .drills import Drill
    from .synth import Piece

EXIT_USER_ERROR = 2
T = TypeVar("T")
OUTPUT_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO)  # an output that cannot take what is printed
JSON_LINES = (".jsonl", ".json")  # export --out names that take JSON lines
CLEARLY_OVER_S = 0.1  # synth names a pause this much over the drill's limit or more: check surely flags it


class _Parser(argparse.ArgumentParser):
    """argparse with usage mistakes reported like every other error: one line, exit 2."""

    def error(self, message: str) -> None:
        self.exit(EXIT_USER_ERROR, f"voicedrill: error: {message} (see {self.prog} --help)\n")


def _number(low: float, high: float, whole: bool = False, zero: bool = False, unit: str = "") -> Callable[[str], float]:
    """An argparse type: a number in [low, high] (or 0, with `zero`, written as a 0: not a number too
    small for a float, such as 1e-400), said in words when it is not."""

    def parse(text: str) -> float:
        try:
            value = int(text) if whole else float(text)
        except ValueError:
            value = None
        if value is None or not (low <= value <= high or (zero and Decimal(text) == 0)):
            span = f"{low:g}–{high:g}{unit}" + (" (or 0)" if zero else "")
            raise argparse.ArgumentTypeError(f"{text!r} is not {'a whole number' if whole else 'a number'} in {span}")
        return value

    return parse


def _given(what: str, then: Callable[[str], T] = str) -> Callable[[str], T]:
    """An argparse type: a name that is not empty (`--model ''` read as the current folder, or as no
    model at all), turned into a value by `then`."""

    def parse(text: str) -> T:
        if not text.strip():
            raise argparse.ArgumentTypeError(f"is empty; give {what}")
        return then(text)

    return parse


def _output(what: str, *suffixes: str) -> Callable[[str], Path]:
    """An argparse type: a file name of the kind the option writes (files.named_as)."""
    from .files import named_as

    def parse(text: str) -> Path:
        try:
            return named_as(text, what, suffixes)
        except VoicedrillError as exc:
            raise argparse.ArgumentTypeError(exc.plain) from None

    return _given(f"a file name ending in {' or '.join(suffixes)}", parse)


FOLDER = _given("a folder", Path)
RECORDING = _given("a recording (WAV, FLAC or OGG)", Path)
DRILL = _given("a drill's name (voicedrill drills list) or a .toml file")
MODEL = _given("a vosk model folder")


PNG = _output("a PNG picture", ".png")
HTML = _output("a web page", ".html", ".htm")


def _person(text: str) -> str:
    """--user: a rep's name as it shows in the history and the team view."""
    from .history import person

    try:
        return person(text)
    except VoicedrillError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _at_least_one(text: str) -> int:
    """--last N: any positive whole number (more than there are reps means all of them)."""
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of reps (1 or more)")
    return min(int(text), LARGEST_ID)


def since(text: str, now: datetime | None = None) -> datetime:
    """`--since`: `2026-11-01`, `2026-11-01T09:30`, `today`, `yesterday`, `7d` or `2w` (local time).
    Further back than the calendar goes means from the beginning."""
    now = now or datetime.now().astimezone()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    words = {"today": midnight, "yesterday": midnight - timedelta(days=1)}
    if text in words:
        return words[text]
    if match := re.fullmatch(r"([0-9]+)([dw])", text):
        try:
            return midnight - timedelta(days=int(match[1]) * (7 if match[2] == "w" else 1))
        except OverflowError:
            return datetime.min.replace(tzinfo=timezone.utc)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: use a date like 2026-11-01, 'today', 'yesterday', or 7d / 2w") from None
    try:
        return moment if moment.tzinfo else moment.astimezone()
    except (OverflowError, ValueError, OSError):  # at the calendar's ends local time is unknown
        return moment.replace(tzinfo=timezone.utc)


def ref(text: str) -> tuple[str, int | None]:
    """REP_OR_SESSION: `12` or `#12` (a rep), `s3` (a session), `last` (the newest session, None)."""
    if text == "last":
        return "session", None
    for kind, pattern in (("rep", r"#?([0-9]+)"), ("session", r"[sS]([0-9]+)")):
        if match := re.fullmatch(pattern, text):
            if int(match[1]) > LARGEST_ID:
                raise argparse.ArgumentTypeError(f"no {kind} {text} in the history")
            return kind, int(match[1])
    raise argparse.ArgumentTypeError(f"{text!r} is not a rep or a session: use a rep number like 12, a session like s3, or 'last'")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="voicedrill", description="Practise the hard close out loud, offline.")
    parser.add_argument("--version", action="version", version=f"voicedrill {__version__}")
    parser.add_argument("--db", type=_given("a history file, or a team database postgresql://user@host/db"), default=None, metavar="FILE_OR_URL",
                        help="the history: a file, or a team database postgresql://user@host/db (default $VOICEDRILL_DB, else your own file)")
    commands = parser.add_subparsers(dest="command", required=True)

    check = commands.add_parser("check", help="score a recorded rep (WAV, FLAC or OGG)")
    check.add_argument("audio", nargs="?", type=RECORDING, help="the recording; omit with --example")
    check.add_argument("--example", action="store_true", help="check a synthesised example rep of the drill (not saved to your history)")
    _engine_options(check)
    check.add_argument("--json", action="store_true", help="print exactly one JSON object")
    check.add_argument("--no-save", action="store_true", help="do not keep this rep in the history")

    drill = commands.add_parser("drill", help="practise live: say the drill, rep after rep, with live feedback")
    _engine_options(drill)
    drill.add_argument("--reps", type=_number(1, 100, whole=True), default=1, help="how many reps, 1–100 (e.g. 10 for a fluency run)")
    drill.add_argument("--input", action="append", type=RECORDING, default=None, metavar="FILE",
                       help="feed a recording instead of the microphone (repeat for one file per rep, in turn: after the last, the first again)")
    drill.add_argument("--speed", type=_number(0.25, 100, zero=True), default=1.0,
                       help="with --input: 1 = real time, 4 = four times faster, 0 = as fast as possible")
    drill.add_argument("--keep-audio", action="store_true", help="also save each rep's audio (in --out, else the data folder)")
    drill.add_argument("--out", type=FOLDER, default=None, help="also write each rep as rep-NN.json (and .wav) into a new folder here")
    drill.add_argument("--no-save", action="store_true", help="do not keep these reps in the history")
    drill.add_argument("--no-speech", action="store_true", help="cues and customer lines on screen only, not spoken")
    drill.add_argument("--customer", action="store_true", help="a simulated customer says yes, answers each question and hesitates once")
    drill.add_argument("--seed", type=int, default=None, help="with --customer: choose which step the customer hesitates at")
    drill.add_argument("--events", type=_output("live events as JSON lines", ".jsonl", ".json", ".log"), default=None, metavar="FILE", help="write live events as JSON lines (steps, pause alarms, customer lines)")

    app = commands.add_parser("app", help="the voicedrill app: practice, progress and drills in your browser")
    app.add_argument("--host", type=_given("an address, such as 127.0.0.1"), default="127.0.0.1", help="address to serve on (default 127.0.0.1: this computer only)")
    app.add_argument("--port", type=_number(0, 65535, whole=True, zero=True), default=0, help="port (default: a free one)")
    app.add_argument("--no-browser", action="store_true", help="only serve; do not open the browser")
    app.add_argument("--input", action="append", type=RECORDING, default=[], metavar="FILE",
                     help="Start plays these recordings instead of the microphone, one per rep in turn, run after run (repeat for one file per rep)")
    app.add_argument("--speed", type=_number(0.25, 100, zero=True), default=1.0, help="with --input: 1 = real time, 0 = as fast as possible")
    _engine_options(app, drill=False)
    app.add_argument("--no-speech", action="store_true", help="cues and customer lines on screen only, not spoken")

    synth = commands.add_parser("synth", help="write the drill spoken by text-to-speech to a WAV file")
    synth.add_argument("out", type=_given("a file name ending in .wav"), help="output .wav path")
    synth.add_argument("--drill", type=DRILL, default="hard-close", help="drill name or .toml path")
    synth.add_argument("--voice", type=_given("a voice id, such as gmw/en-us"), default=None, help="text-to-speech voice id (default gmw/en-us)")
    synth.add_argument("--wpm", type=_number(60, 400, whole=True), default=None, help="speaking rate asked of the voice, 60–400 (default 170, or a rate paced within the drill's band)")
    synth.add_argument("--pause", type=_number(0, 30, unit=" s"), default=None,
                       help="seconds of silence between steps, 0–30 (default 0.3, kept under the drill's limits); a pause "
                       "over a limit is said as asked, to hear it flagged; where the drill requires a pause, at least 0.5 s over its minimum")

    past = commands.add_parser("history", help="your reps so far: sessions, figures and trend; --plot for a chart")
    _filters(past)
    past.add_argument("--last", type=_at_least_one, default=None, metavar="N", help="only the newest N reps")
    past.add_argument("--plot", type=PNG, default=None, metavar="PNG", help="write a chart of score, words a minute and longest pause")
    deleting = past.add_mutually_exclusive_group()
    deleting.add_argument("--delete", type=ref, default=None, metavar="REP_OR_SESSION", help="delete a rep (12) or a whole session (s3) from the history")
    deleting.add_argument("--delete-person", type=_person, default=None, metavar="NAME", help="delete every rep of one person (one who left the team) from the history")
    past.add_argument("--yes", action="store_true", help="with --delete or --delete-person: do not ask first (it asks only on a terminal)")

    report = commands.add_parser("report", help="a rep or a session as a scorecard, a web page (--html) or a timeline picture (--png)")
    report.add_argument("ref", type=ref, metavar="REP_OR_SESSION", help="a rep number (12), a session (s3) or 'last' (your newest session)")
    report.add_argument("--html", type=HTML, default=None, help="write one self-contained page")
    report.add_argument("--png", type=PNG, default=None, help="write the timeline picture")

    sync = commands.add_parser("sync", help="send this computer's reps to the team database (again: adds nothing)")
    sync.add_argument("--to", type=_given("the team database's address, postgresql://user@host/db"), required=True, metavar="URL", help="the team database, postgresql://user@host/db")

    team = commands.add_parser("team", help="the manager's view: per person and drill, reps today and this week, scores, time from the first line to the last")
    _filters(team)
    team.add_argument("--html", type=HTML, default=None, help="write one self-contained page")
    team.add_argument("--png", type=PNG, default=None, help="write a chart per drill of score and time from the first line to the last, per person")

    export = commands.add_parser("export", help="one row per rep, for spreadsheets and managers")
    export.add_argument("--format", choices=("csv", "jsonl"), default=None, help="csv or jsonl (with the full report); default: by --out's name, else csv")
    _filters(export)
    export.add_argument("--out", type=_output("a table of reps", ".csv", ".jsonl", ".json", ".txt"), default=None, help="write to this file instead of standard output")

    drills = commands.add_parser("drills", help="list, show and validate drills")
    drills_commands = drills.add_subparsers(dest="drills_command", required=True)
    drills_commands.add_parser("list", help="the drills you can practise")
    show = drills_commands.add_parser("show", help="a drill's script as a rep would read it")
    show.add_argument("drill", type=DRILL, help="drill name or .toml path")
    show.add_argument("--tips", action="store_true", help="also every tip the drill gives, as a rep will read it (for a manager editing [tips])")
    validate = drills_commands.add_parser("validate", help="check drill files; errors name file, line and field")
    validate.add_argument("files", nargs="+", type=_given("a drill file (.toml)"), help=".toml files, or drills' names as `drills list` shows them")

    model = commands.add_parser("model", help="find or download the vosk speech model")
    model_commands = model.add_subparsers(dest="model_command", required=True)
    download = model_commands.add_parser("download", help="download the small English vosk model")
    download.add_argument("--dir", type=FOLDER, default=None, help="where to unpack (default: voicedrill data folder)")
    download.add_argument("--url", type=_given("the address of the model's zip"), default=None, help="a mirror of the same zip (its size and SHA-256 are still checked)")
    where = model_commands.add_parser("path", help="say which model would be used and why")
    where.add_argument("--model", type=MODEL, default=None, help="a vosk model folder")
    return parser


def _engine_options(command: argparse.ArgumentParser, drill: bool = True) -> None:
    """--drill, --engine, --model, and --user: whose reps these are."""
    from .asr import ENGINES

    command.add_argument("--user", type=_person, default=None, metavar="NAME", help="whose reps these are (default $VOICEDRILL_USER, else your login name)")
    if drill:
        command.add_argument("--drill", type=DRILL, default="hard-close", help="drill name or .toml path (default hard-close)")
    command.add_argument("--engine", default="auto", choices=ENGINES, help="recogniser (auto: vosk if an English model is found)")
    command.add_argument("--model", type=MODEL, default=None, help="vosk model folder (else $VOICEDRILL_MODEL, models/, data folder)")


def _filters(command: argparse.ArgumentParser) -> None:
    command.add_argument("--drill", type=DRILL, default=None, help="only this drill")
    command.add_argument("--user", type=_person, default=None, metavar="NAME", help="only this person's reps")
    command.add_argument("--since", type=since, default=None, metavar="DATE", help="from this date: 2026-11-01, today, yesterday, 7d, 2w")


def main(argv: list[str] | None = None) -> int:
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        args = _parser().parse_args(argv)
    except SystemExit as done:  # --help, or a usage mistake already said in one line
        return done.code if isinstance(done.code, int) else EXIT_USER_ERROR
    except KeyboardInterrupt as stop:  # Ctrl-C (or SIGTERM, SIGHUP) while the commands load
        err.print("voicedrill: interrupted")
        return exit_status(stop)
    try:
        code = _run(args, err)
        sys.stdout.flush()  # what print() holds is written now, inside the handlers below, not at exit
        return code
    except VoicedrillError as exc:
        from .report import shown

        one_line = exc.said_to(args).replace("\r", "\\r").replace("\n", "\\n")  # a name with a newline in it stays on one line…
        one_line = shown(one_line)  # …and one with a terminal's escape codes is shown, not obeyed
        err.print(f"voicedrill: error: {one_line}", markup=False, soft_wrap=True)
        return EXIT_USER_ERROR
    except KeyboardInterrupt as stop:
        err.print("voicedrill: interrupted")
        return exit_status(stop)
    except BrokenPipeError:  # the reader stopped reading (`| head`): nothing more to say, status 1 as rich's own output gives
        _quiet_stdout()
        return 1
    except OSError as exc:  # standard output that cannot be written (`> /dev/full`); anything else is a fault to see
        if exc.filename is not None or exc.errno not in OUTPUT_ERRORS:
            raise
        _quiet_stdout()
        err.print(f"voicedrill: error: could not write the output: {reason(exc)}", markup=False, soft_wrap=True)
        return EXIT_USER_ERROR


def _quiet_stdout() -> None:
    """Point stdout at the null device, so what is left in its buffer is not written again on exit."""
    with contextlib.suppress(OSError, ValueError, io.UnsupportedOperation):  # (a test's captured stdout has no file)
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)


def _run(args: argparse.Namespace, err: Console) -> int:
    if not args.db:
        return _command(args, err)
    before = os.environ.get(DB_ENV)
    os.environ[DB_ENV] = args.db  # every history this command opens is this one
    try:
        return _command(args, err)
    finally:
        if before is None:
            del os.environ[DB_ENV]
        else:
            os.environ[DB_ENV] = before


def _command(args: argparse.Namespace, err: Console) -> int:
    from .files import keep_safe

    for suffix in ("", "-wal", "-shm"):  # no output replaces this computer's history, opened or not (synth, --no-save)
        keep_safe(f"{db_path()}{suffix}", "your history")
    if args.command == "sync":
        return _sync(args, err)
    if args.command == "check":
        return _check(args, err)
    if args.command == "synth":
        return _synth(args, err)
    if args.command == "drill":
        return _drill(args, err)
    if args.command == "drills":
        return _drills(args, err)
    if args.command == "app":
        return _app(args, err)
    if args.command in ("history", "report", "export", "team"):
        from . import history

        deleting = args.command == "history" and (args.delete is not None or args.delete_person is not None)
        store = history.open_store(write=deleting, create=False)  # no history: nothing to delete, none made
        try:
            return {"history": _history, "report": _report, "export": _export, "team": _team}[args.command](args, store, err)
        finally:
            _close(store, err)
    return _model(args, err)


def _close(store, err: Console) -> None:
    """Close the history and tell what it noted (reps skipped, reps taken in from pending files)."""
    store.close()
    for note in store.notes:
        err.print(f"voicedrill: note: {note}", markup=False, soft_wrap=True)


def _check(args: argparse.Namespace, err: Console) -> int:
    from . import history
    from .asr import load_engine
    from .audio import RATE, SilenceTracker, probe
    from .drills import load_drill
    from .report import render, to_json
    from .practice import ONLY_SHOWN, check_heard, example_note, example_rep, keep_check, score_file, with_targets
    from .stopping import interrupt_after

    if bool(args.audio) == bool(args.example):
        raise VoicedrillError("check needs an audio file or --example (not both)")
    drill = load_drill(args.drill)
    audio = example_rep(drill) if args.example else Path(args.audio)
    if args.example:  # not the rep's own: never in their history, never their target
        err.print(f"example rep: {audio} ({example_note(drill)}; not saved to your history)", markup=False)
    info = probe(audio)  # a bad file is refused before the model loads…
    if info.rate < RATE:
        err.print(f"note: {audio} is {info.rate} Hz (telephone quality); speech recognition is less reliable below 16 kHz", markup=False, soft_wrap=True)
    store = None if args.no_save or args.example else history.open_store(offline=True)  # …and so is an unusable history
    user = history.who(args.user)  # …and a bad name
    engine = load_engine(args.engine, args.model, drill)
    err.print(f"speech recogniser: {engine.description}", markup=False)
    tracker = SilenceTracker()
    report = check_heard(score_file(info, drill, engine, tracker), str(audio))
    session = history.Session.of("check", drill, engine.name, engine.model_name, user)
    with interrupt_after(lambda: True, store.hurry if store else None):  # transcribed: kept and shown with where it went, Ctrl-C or not
        report = with_targets(store, drill, report, user)
        try:
            saved = keep_check(store, session, info, report, tracker) if store is not None else None
        except VoicedrillError as exc:  # kept nowhere (every place full): shown at least, then said
            lost, saved = exc, None
        else:
            lost = None
        if args.json:
            print(to_json(report), flush=True)
        else:
            render(report, Console(highlight=False), title=f"{drill.title} — {audio.name}")
        if store is not None:
            _close(store, err)
        if saved is not None and saved.rep is not None:
            err.print(f"saved as rep {saved.rep} (voicedrill report {saved.rep} --html rep.html)", markup=False)
        elif saved is not None:
            err.print(f"voicedrill: {saved.waiting}", markup=False, soft_wrap=True)
    if lost:
        raise VoicedrillError(f"{lost}; {ONLY_SHOWN}")
    return 0


def _drill(args: argparse.Namespace, err: Console) -> int:
    from . import history
    from .asr import load_engine
    from .audio import probe
    from .customer import Customer
    from .drills import load_drill
    from .liveview import LiveView
    from .practice import EventLog, Keeper, file_sources, mic_sources, new_folder, run_drill, saved_line
    from .report import counted, render_summary
    from .synth import Speaker

    # every refusal comes before the model loads and before a session folder exists
    if args.seed is not None and not args.customer:  # (it was ignored without a word)
        raise VoicedrillError("--seed chooses where the simulated customer hesitates: add --customer")
    drill = load_drill(args.drill)
    if args.customer and not drill.has_customer:
        raise VoicedrillError(f"drill {drill.name!r} has no customer lines ([customer] cue, steps' answer)")
    sources = file_sources([probe(path) for path in args.input], args.speed) if args.input else mic_sources()
    store = None if args.no_save else history.open_store(offline=True)
    history.who(args.user)  # a bad name is said before anything loads
    events = EventLog(args.events) if args.events else None
    engine = load_engine(args.engine, args.model, drill)
    err.print(f"speech recogniser: {engine.description}", markup=False)
    folder = new_folder(args.out) if args.out or args.keep_audio else None
    keeper = Keeper(store, history.Session.of("drill", drill, engine.name, engine.model_name, args.user), folder, args.keep_audio)
    console = Console(highlight=False)
    speaker = Speaker(not args.no_speech)
    customer = Customer(drill, speaker, random.Random(args.seed)) if args.customer else None
    run = run_drill(drill, engine, sources, args.reps, LiveView(console, events), speaker, keeper, customer)
    if events:
        try:
            events.close()
        except VoicedrillError as exc:
            run.error = run.error or exc
    render_summary(run.reports, console, run.interrupted, run.numbers, targets=store is not None)
    if run.overflows:
        console.print(f"[yellow]{counted(run.overflows, 'audio block')} dropped by the input device (overflow)[/]")
    console.print(" ".join(filter(None, [run.cut_short, saved_line(run, keeper)])), markup=False, soft_wrap=True)
    if store is not None:
        _close(store, err)
    if run.error:
        raise run.error
    return run.status if run.interrupted else 0


def _app(args: argparse.Namespace, err: Console) -> int:
    from .app import serve
    from .app.runs import AppConfig
    from .audio import probe
    from .history import who

    who(args.user)  # a bad $VOICEDRILL_USER is said now, not after the first rep
    config = AppConfig([probe(path) for path in args.input], args.speed, args.engine, args.model, not args.no_speech, args.user)
    serve(config, args.host, int(args.port), not args.no_browser, lambda line: err.print(line, markup=False, soft_wrap=True))
    return 0


def _history(args: argparse.Namespace, store, err: Console) -> int:
    from .files import write_file
    from .report import counted
    from .history import who
    from .plots import png_bytes, progress_figure
    from .progress import render_history

    deleting = "--delete-person" if args.delete_person is not None else "--delete" if args.delete is not None else None
    narrowed = [option for option, value in (("--drill", args.drill), ("--since", args.since), ("--last", args.last), ("--plot", args.plot),
                                             ("--user", args.user if args.delete_person else None)) if value is not None]
    if deleting and narrowed:  # (--delete-person --drill x deleted every drill's reps, without a word: found by an attack)
        raise VoicedrillError(f"history {deleting} deletes {'every rep of that person, in every drill' if args.delete_person else 'that rep or session'}: "
                              f"{narrowed[0]} cannot narrow it or go with it; leave {narrowed[0]} out")
    if args.yes and not deleting:
        raise VoicedrillError("history --yes goes with --delete or --delete-person (it deletes without asking)")
    if deleting:
        if args.delete_person is not None:  # named as the history holds the name ("ben", asked as "BEN")
            kind, number = "user", store.spelt(args.delete_person)
        else:
            kind, number = store.resolve(*args.delete, user=who(args.user), anyones=False)  # 'last': only ever your own
        if number is None:  # (`--delete last --yes` with no session of one's own: a traceback)
            raise _not_there(kind, number)
        if not args.yes and sys.stdin is not None and sys.stdin.isatty():  # someone at a terminal: asked first (a script is not)
            if not sys.stderr.isatty():
                raise VoicedrillError(f"history {deleting} asks before it deletes, but its question cannot be shown here (error output is redirected); "
                                      "add --yes to delete without asking")
            if not _sure_to_delete(store, kind, number, who(args.user)):
                print("nothing deleted")
                return 0
        gone = store.delete(**{kind: number})
        if not gone:
            raise _not_there(kind, number)
        print(f"deleted {counted(gone, 'rep')} ({_named(kind, number)})")
        return 0
    reps = _selected(args, store, args.last)
    if args.plot:
        write_file(args.plot, png_bytes(progress_figure(reps)))
        err.print(f"wrote {args.plot}", markup=False)
        return 0
    render_history(reps, Console(highlight=False))
    return 0


def _sure_to_delete(store, kind: str, number: int | None, me: str) -> bool:
    """Asked on the terminal (on standard error: an answer is never written into a file the
    output goes to): what would go, whose it is when not `me`'s (a shared history), and that it
    cannot come back (a rep's number is never used again). Only "y" or "yes" deletes; Enter,
    anything else or the end of input keeps it."""
    from . import history
    from .report import counted

    count = store.count(**{kind: number}) if number is not None else 0
    if not count:
        raise _not_there(kind, number)
    noted = len(store.notes)
    readable = store.reps(**{kind: number})  # a damaged rep is counted, not described…
    del store.notes[noted:]  # …nor noted as left out: it is what would go
    damaged = f"{count - len(readable)} damaged" if len(readable) < count else ""
    what = [counted(count, "rep")] if kind != "rep" else []
    if readable:
        first, last = (f"{r.saved_at:%Y-%m-%d %H:%M}" for r in (readable[0], readable[-1]))
        what.append(f"{', '.join(dict.fromkeys(r.drill for r in readable))}, {first}" + ("" if first == last else f" to {last if kind == 'user' else last[-5:]}"))
        if theirs := history.others(readable, me):
            what[-1] += f", {' and '.join(theirs)}'s {'rep' if count == 1 else 'reps'}, not yours"
    said = " of ".join(what) + (f" ({damaged})" if damaged and what else damaged)
    sys.stderr.write(f"{_named(kind, number)[0].upper()}{_named(kind, number)[1:]}: {said}.\nDelete {'them' if kind == 'user' and count > 1 else 'it'}? It cannot be undone. [y/N] ")
    sys.stderr.flush()
    answer = sys.stdin.readline()
    if not answer.endswith("\n"):  # the end of input (Ctrl-D): what follows starts on a line of its own
        sys.stderr.write("\n")
    return answer.strip().lower() in ("y", "yes")


def _not_there(kind: str, number: int | str | None) -> VoicedrillError:
    """A rep, session or person the history does not hold, and where to look."""
    if kind == "user":
        return VoicedrillError(f"no rep of {number} in the history (voicedrill team lists everyone's names)")
    return VoicedrillError(f"no {_named(kind, number)} in the history (see voicedrill history)")


def _named(kind: str, number: int | str | None) -> str:
    """A rep, session or person's reps as the rep refers to them: rep 12, session s3, every rep of
    Ben (no number: there is no session)."""
    return "session" if number is None else f"every rep of {number}" if kind == "user" else f"rep {number}" if kind == "rep" else f"session s{number}"


def _selected(args: argparse.Namespace, store, last: int | None = None) -> list:
    """The stored reps that --drill and --since pick (the newest `last` of them)."""
    return store.reps(drill=args.drill, since=args.since, user=args.user, last=last)


def _report(args: argparse.Namespace, store, err: Console) -> int:
    from .files import write_file
    from .plots import png_bytes, rep_figure, session_figure
    from .report import render, render_summary, shown_name
    from .webpage import page
    from .history import who

    kind, number = store.resolve(*args.ref, user=who() if args.ref[1] is None else None)  # 'last': your own newest session
    reps = store.reps(**{kind: number}) if number is not None else []
    if not reps and store.damaged:
        note = store.notes.pop()  # said once, as the error
        raise VoicedrillError(note.replace("left out", "cannot be shown") + "; the other reps are fine")
    if not reps:
        raise _not_there(kind, number)
    reports = [r.report for r in reps]
    if args.html:
        write_file(args.html, page(reps).encode("utf-8"))
        err.print(f"wrote {args.html}", markup=False)
    if args.png:
        figure = rep_figure(reps[0], reports[0]) if len(reps) == 1 else session_figure(reps, reports)
        write_file(args.png, png_bytes(figure))
        err.print(f"wrote {args.png}", markup=False)
    if not (args.html or args.png):
        console = Console(highlight=False)
        for rep, report in zip(reps, reports):
            whose = f"{shown_name(rep.user)}, " if rep.user else ""
            render(report, console, title=f"{rep.called.capitalize()} — {rep.drill}, {whose}{rep.saved_at:%Y-%m-%d %H:%M}")
        if len(reps) > 1:
            render_summary(reports, console, numbers=[r.id for r in reps])
    return 0


def _sync(args: argparse.Namespace, err: Console) -> int:
    from . import history
    from .report import counted
    from .schema import is_url
    from .teamdb import PgStore

    if not is_url(args.to):
        raise VoicedrillError("--to needs a team database URL: postgresql://user@host/database")
    local = history.Store(write=False)
    try:
        records = list(local.records())
    finally:
        _close(local, err)
    team = PgStore(args.to)  # unreachable: one line (sync has nothing to do until it is back); reps waiting for it go in
    try:
        team.may_save()
        sent = sum(team.take(*record) is not None for record in records)
    finally:
        _close(team, err)
    if records:
        print(f"{counted(sent, 'rep')} sent to {team.path}; {len(records) - sent} were there already")
    else:
        print(f"this computer's history ({history.db_path()}) has no reps to send")
    return 0


def _team(args: argparse.Namespace, store, err: Console) -> int:
    from .files import write_file
    from .plots import png_bytes, team_figure
    from .report import counted, rich_table
    from .drills import titles
    from .team import LEGEND, team_grids, team_rows
    from .webpage import team_page

    reps = store.team_reps(drill=args.drill, since=args.since, user=args.user)
    rows = team_rows(reps, datetime.now().astimezone())
    if args.html:
        write_file(args.html, team_page(rows, reps).encode("utf-8"))
        err.print(f"wrote {args.html}", markup=False)
    if args.png:
        write_file(args.png, png_bytes(team_figure(reps)))
        err.print(f"wrote {args.png}", markup=False)
    if not (args.html or args.png):
        console = Console(highlight=False)
        if not rows:
            console.print("No reps saved yet (or none match --drill/--since/--user).")
            return 0
        for grid in team_grids(rows, titles()):
            console.print(rich_table(grid, compact=True))
        console.print(LEGEND, style="dim", markup=False)
        people = len({r.user for r in rows})
        console.print(f"{counted(people, 'person', 'people')}, {counted(len(reps), 'rep')}"
                      + (f" since {args.since.date().isoformat()}" if args.since else ""), markup=False)
    return 0


def _export(args: argparse.Namespace, store, err: Console) -> int:
    from .files import write_file
    from .report import counted
    from .progress import export

    named_jsonl = bool(args.out) and args.out.suffix.lower() in JSON_LINES
    form = args.format or ("jsonl" if named_jsonl else "csv")
    if args.out and args.format and named_jsonl != (form == "jsonl"):
        raise VoicedrillError(f"{args.out}: --format {form} writes {'JSON lines' if form == 'jsonl' else 'CSV'}; give a name ending in "
                              + (" or ".join(JSON_LINES) if form == "jsonl" else ".csv or .txt"))
    reps = _selected(args, store)
    text = export(reps, form)
    if args.out:
        write_file(args.out, text.encode("utf-8"))
        err.print(f"wrote {counted(len(reps), 'rep')} to {args.out}", markup=False)
    else:
        sys.stdout.write(text)
    return 0


def _drills(args: argparse.Namespace, err: Console) -> int:
    from .drills import find_drill, list_drills, load_drill, load_drill_file, usable
    from .report import render_drill_list, render_script, render_tips

    console = Console(highlight=False)
    if args.drills_command == "list":
        render_drill_list(list_drills(), console)
        return 0
    if args.drills_command == "show":
        drill = load_drill(args.drill)
        render_script(drill, console)
        if args.tips:
            render_tips(drill, console)
        return 0
    failed = 0
    for name in args.files:
        try:
            path = find_drill(name)  # a file, or a drill's name as `drills list` shows it
            drill = usable(path, load_drill_file(path))  # (a drill of your own a shipped one hides is no good either)
        except VoicedrillError as exc:
            for mistake in getattr(exc, "mistakes", (str(exc),)):  # every mistake in a drill, each on its line
                err.print(mistake, markup=False, soft_wrap=True)
            failed += 1
        else:
            console.print(f"{path}: ok ({drill.name}, {len(drill.steps)} steps)", markup=False, soft_wrap=True)
    return EXIT_USER_ERROR if failed else 0


def _synth(args: argparse.Namespace, err: Console) -> int:
    from .drills import load_drill
    from .audio import RATE
    from .files import destination, named_as, write_atomic
    from .practice import SAID_PAUSE_S, said_through, spoken
    from .synth import DEFAULT_VOICE, in_a_room, write_wav

    destination(named_as(args.out, "a WAV recording", (".wav",)))  # refused before the speech is made
    drill = load_drill(args.drill)
    pieces = said_through(drill, SAID_PAUSE_S if args.pause is None else args.pause, within_limits=args.pause is None)
    audio, segments, pace = spoken(drill, pieces, args.voice or DEFAULT_VOICE, args.wpm)
    audio = in_a_room(audio)
    write_atomic(args.out, lambda tmp: write_wav(tmp, audio))
    for segment in segments:
        err.print(f"{segment.start:6.2f}–{segment.end:6.2f}s  {drill.named(segment.label)}: {segment.text}", markup=False)
    low, high = drill.pace_wpm
    if pace is not None and not low <= pace <= high:
        err.print(f"Spoken at about {pace:.0f} words a minute, outside the drill's pace band ({low:g}–{high:g}): check will say so.", markup=False)
    if over := _over_limit(drill, pieces):
        err.print(over, markup=False, soft_wrap=False)
    err.print(f"wrote {args.out} ({len(audio) / RATE:.1f}s)", markup=False)
    return 0


def _over_limit(drill: Drill, pieces: list[Piece]) -> str:
    """The line naming a synthesised rep's pauses clearly over the drill's limit, which check will
    flag ("" if none); one just over it may measure under it (a word's quiet edges are speech)."""
    over: dict[tuple[float, float], list[str]] = {}  # (pause, limit) → the steps it comes before
    for before, piece in zip(pieces, pieces[1:]):
        high = drill.pause_limits(before.label, piece.label)[1]
        if piece.pause_before >= high + CLEARLY_OVER_S:
            over.setdefault((piece.pause_before, high), []).append(drill.named(piece.label))
    if not over:
        return ""
    many = sum(map(len, over.values())) > 1
    said = "; ".join(f"before {', '.join(labels)}: {gap:g}s, over the drill's {high:g}s limit" for (gap, high), labels in over.items())
    return f"Pause{'s' * many} {said} (check will flag {'them' if many else 'it'})."


def _model(args: argparse.Namespace, err: Console) -> int:
    from . import models

    if args.model_command == "path":
        found = models.resolve(args.model)
        if found is None:  # (not a mistake: the built-in recogniser is used; status 1, as `which` says "none")
            err.print("no vosk model here, so voicedrill uses pocketsphinx (built in). For vosk: voicedrill model download", markup=False)
            return 1
        print(found.path)
        err.print(f"({found.why})", markup=False)
        return 0
    dest = args.dir or models.user_models_dir()
    url = args.url or models.MODEL_URL
    target = models.download(dest, url)
    print(target)
    err.print(f"model ready: {target} — it is found automatically from now on", markup=False)
    return 0


if __name__ == "__main__":
    stop_on_signals()  # as the `voicedrill` command does
    sys.exit(main())
