"""Report stage: the rep report as a rich terminal scorecard or as one JSON object."""

from __future__ import annotations

import json
import math
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich import box
from rich.table import Table
from rich.text import Text

from .align import marked_line
from .data import (Coaching, counted, CustomerTurn, Mark, Pace, Pause, RepReport, ScorePart, Status, StepResult, Target, Targets, Tip, TurnKind,
                   TurnResult, Word)
from .drills import Drill, Order, listed_problem
from .errors import VoicedrillError
from .metrics import tip_examples
from .targets import FORMERLY, UNJUDGED, WHAT, figure

def _t(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def to_dict(report: RepReport) -> dict:
    """The documented JSON shape (times in seconds from the start of the audio)."""
    return {
        "drill": report.drill,
        "engine": report.engine,
        "audio_s": _t(report.audio_s),
        "duration_s": _t(report.duration_s),
        "words": [{"w": w.text, "start": _t(w.start), "end": _t(w.end), "conf": _t(w.conf)} for w in report.words],
        "steps": [
            {
                "id": s.id,
                "status": s.status,
                "start": _t(s.start),
                "end": _t(s.end),
                "heard": s.heard,
                "wpm": None if s.wpm is None else round(s.wpm),
                "count": s.count,
                "match": s.match,
                "optional": s.optional,
                "line": s.line,
                "title": s.named,
                "loop": s.loop,
                "said_as": s.said_as,
                "again": [[_t(a), _t(b)] for a, b in s.again],
            }
            for s in report.steps
        ],
        "order_ok": report.order_ok,
        "order_notes": list(report.order_notes),
        "pauses": [
            {"from": p.from_step, "to": p.to_step, "gap_s": _t(p.gap_s), "flagged": p.flagged, "min_s": p.min_s, "max_s": p.max_s,
             "start": _t(p.start), "end": _t(p.end)}
            for p in report.pauses
        ],
        "pace": {"speech_wpm": _t(report.pace.speech_wpm, 1), "articulation_wpm": _t(report.pace.articulation_wpm, 1)},
        "fillers": [{"w": m.text, "start": _t(m.start), "end": _t(m.end)} for m in report.fillers],
        "forbidden": [{"phrase": m.text, "start": _t(m.start), "end": _t(m.end)} for m in report.forbidden],
        "extra": [{"text": m.text, "start": _t(m.start), "end": _t(m.end)} for m in report.extra],
        "customer": [
            {
                "kind": t.turn.kind,
                "after": t.turn.after,
                "text": t.turn.text,
                "start": _t(t.turn.start),
                "end": _t(t.turn.end),
                "latency_s": _t(t.latency_s),
                "continued": t.continued,
                "reply": t.reply,
                "limit_s": t.limit_s,
                "in_time": t.in_time,
                "forbidden": list(t.forbidden),
                "answered": t.answered,
            }
            for t in report.turns
        ],
        "score": report.score,
        "score_parts": [{"part": p.name, "points": p.points, "max": p.max_points, "why": p.why} for p in report.score_parts],
        "coaching": None if report.coaching is None else {
            "focus": report.coaching.focus,
            "tips": [{"about": t.about, "tip": t.tip, "points": t.points} for t in report.coaching.tips],
            "unlike": report.coaching.unlike,
        },
        "targets": None if report.targets is None else {
            "from_reps": report.targets.from_reps,
            "results": [{"what": t.what, "target": _t(t.target), "value": _t(t.value), "met": t.met} for t in report.targets.results],
        },
    }


def from_dict(data: dict) -> RepReport:
    """A stored report back as a RepReport (the inverse of to_dict, at its rounding); a damaged one
    (a figure that is not a number, a text that is not text, a list that holds no objects) raises ValueError."""
    try:
        return _checked(_report(data))
    except (AttributeError, IndexError) as exc:  # ("customer": "x" has no .get): damaged, like any other
        raise ValueError(f"not a report: {exc}") from None


def _checked(report: RepReport) -> RepReport:
    numbers = [report.audio_s, report.score, *(t for p in report.pauses for t in (p.gap_s, p.start, p.end)), *(p.points for p in report.score_parts),
               *(t for w in report.words for t in (w.start, w.end)), *(t for s in report.steps for span in s.again for t in span)]
    maybe = [report.duration_s, report.pace.speech_wpm, report.pace.articulation_wpm, *(v for s in report.steps for v in (s.start, s.end, s.wpm))]
    texts = [report.drill, report.engine, *(s.id for s in report.steps), *(s.title for s in report.steps), *(s.loop for s in report.steps), *(s.heard for s in report.steps), *(w.text for w in report.words),
             *(p.why for p in report.score_parts)]
    if not (all(_is_number(v) for v in numbers) and all(v is None or _is_number(v) for v in maybe) and all(isinstance(t, str) for t in texts)):
        raise ValueError("a damaged report")
    return report


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _report(data: dict) -> RepReport:

    def marks(items: list[dict], key: str) -> tuple[Mark, ...]:
        return tuple(Mark(m[key], m["start"], m.get("end", m["start"])) for m in items)

    steps = {s["id"]: s for s in data["steps"]}  # a report stored before pauses kept their place: between the steps' first sayings
    return RepReport(
        drill=data["drill"],
        engine=data["engine"],
        audio_s=data["audio_s"],
        words=tuple(Word(w["w"], w["start"], w["end"], w["conf"]) for w in data["words"]),
        steps=tuple(
            StepResult(s["id"], Status(s["status"]), s["start"], s["end"], s["heard"], s["wpm"], s["count"], s["match"], s["optional"], s.get("line", ""),
                       tuple((a, b) for a, b in s.get("again", ())), s.get("title", ""), s.get("loop", ""), s.get("said_as", ""))
            for s in data["steps"]
        ),
        order_ok=data["order_ok"],
        order_notes=tuple(data["order_notes"]),
        pauses=tuple(Pause(p["from"], p["to"], p["gap_s"], p["flagged"], p.get("start", steps[p["from"]]["end"]), p.get("end", steps[p["to"]]["start"]),
                           p["min_s"], p["max_s"]) for p in data["pauses"]),
        pace=Pace(data["pace"]["speech_wpm"], data["pace"]["articulation_wpm"]),
        duration_s=data["duration_s"],
        fillers=marks(data["fillers"], "w"),
        forbidden=marks(data["forbidden"], "phrase"),
        extra=marks(data["extra"], "text"),
        score=data["score"],
        score_parts=tuple(ScorePart(p["part"], p["points"], p["max"], p["why"]) for p in data["score_parts"]),
        turns=tuple(_turn(t) for t in data.get("customer", [])),
        coaching=_coaching(data.get("coaching")),
        targets=_targets(data.get("targets")),
    )


def _targets(data: dict | None) -> Targets | None:
    if data is None:
        return None
    return Targets(data["from_reps"], tuple(Target(FORMERLY.get(t["what"], t["what"]), t["target"], t["value"], t["met"]) for t in data["results"]))


def _coaching(data: dict | None) -> Coaching | None:
    """Stored coaching (reports saved before coaching existed have none)."""
    if data is None:
        return None
    return Coaching(data["focus"], tuple(Tip(t["about"], t["tip"], t.get("points", 0.0)) for t in data["tips"]), data.get("unlike", False))


def _turn(t: dict) -> TurnResult:
    """A stored customer turn; reports saved before verdicts were stored had a fixed 1 s limit."""
    limit = t.get("limit_s", 1.0)
    in_time = t.get("in_time", t["latency_s"] is not None and t["latency_s"] <= limit)
    turn = CustomerTurn(TurnKind(t["kind"]), t["after"], t["text"], t["start"], t["end"])
    return TurnResult(turn, t["latency_s"], t["continued"], t["reply"], limit, in_time, tuple(t.get("forbidden", ())), t.get("answered", True))


def to_json(report: RepReport) -> str:
    return json.dumps(to_dict(report), ensure_ascii=False)


def plain(c: str) -> bool:
    """A character that shows as itself: printable, and not a format code (text direction, zero width)."""
    return c.isprintable() and unicodedata.category(c) != "Cf"


def shown(text: str) -> str:
    """Text as a terminal shows it, not obeys it: control and direction codes (a terminal's escape
    codes among them) as "?"."""
    return "".join(c if plain(c) else "?" for c in text)


def shown_name(name: str, width: int = 20) -> str:
    """A person's name for a table or chart: control and direction codes shown as "?" (a name may
    come from anyone's database role), at most `width` characters."""
    clean = shown(name) or "(no name)"
    return clean if len(clean) <= width else clean[: width - 1] + "…"


def fmt_seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}s"


@dataclass(frozen=True)
class Cell:
    """One table cell as text, with how to show it: a role ("ok", "bad", "warn") or a step status.
    `words`, when given, are the text word by word with whether each was heard (the rest show as unclear)."""

    text: str
    role: str = ""
    words: tuple[tuple[str, bool], ...] = ()


STATUS_LABEL = {Status.OK: "said", Status.MISSING: "skipped", Status.OUT_OF_ORDER: "out of order", Status.REPEATED: "said twice"}
WAITING = "waiting"  # in place of the number of a rep the history could not take yet
TREND_STEADY = 0.5  # score points a rep: less than this either way is holding steady
DIP_POINTS = 5  # a rep this far under both the first and the last is a dip (70, 69, 70 holds steady)
PART_LABEL = {"steps": "steps said", "order": "in order", "flow": "pauses between questions", "pace": "speaking pace",
              "clean": "words to avoid and fillers"}


def script_words(step: StepResult) -> tuple[tuple[str, bool], ...]:
    """The step's wording as said (its line, or the variant most like what was heard) word by word,
    each marked heard or not (raw recogniser words are never shown)."""
    return marked_line(step.said_as or step.line, step.heard)


@dataclass(frozen=True)
class Grid:
    """A table's rows built once; `rich_table` and the web page each only lay them out."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    right: tuple[str, ...] = ()  # columns of figures, aligned right


def _status_cell(step: StepResult) -> Cell:
    """A step's verdict in words: an optional step left out was not needed, not "skipped" in red
    on a rep that scored 100 (found by a new user)."""
    if step.verdict == "not_needed":
        return Cell("not needed")
    if step.loop:  # the first soft close was where it belongs: what broke the loop was later
        return Cell(step.loop, step.status)
    return Cell(f"said {step.count} times" if step.status == Status.REPEATED and step.count > 2 else STATUS_LABEL[step.status], step.status)


def steps_grid(report: RepReport, title: str = "") -> Grid:
    rows = tuple(
        (Cell(s.named), _status_cell(s), Cell(fmt_seconds(s.start)),
         Cell(s.line or s.heard, words=script_words(s) if s.line and s.status != Status.MISSING else ()))
        for s in report.steps
    )
    return Grid(title or report.drill, ("step", "", "at", "the line (grey: not heard clearly)"), rows, ("at",))


def pauses_grid(report: RepReport) -> Grid:
    """Each pause between questions against what the drill allows, said in words too (not only in red)."""
    rows = tuple(
        (Cell(f"{report.named(p.from_step)} → {report.named(p.to_step)}"), Cell(f"{p.gap_s:.2f}s", "bad" if p.flagged else "ok"),
         Cell(f"{p.min_s:g}–{p.max_s:g}s" if p.min_s else f"≤ {p.max_s:g}s"),
         Cell(("too short" if p.too_short else "too long") if p.flagged else "ok", "bad" if p.flagged else "ok"))
        for p in report.pauses
    )
    return Grid("Pauses between questions", ("between", "pause", "allowed", ""), rows, ("pause", "allowed"))


def _beaten(targets: Targets | None) -> str:
    """How many of the rep's own targets it met ("not yet": targets start after MIN_REPS reps by the script)."""
    return "not yet" if targets is None else f"{sum(t.met for t in targets.results)} of {len(targets.results)}"


def rep_name(number: int | None) -> str:
    """A rep's number as a table shows it; a rep still waiting to go into the history has none yet."""
    return str(number) if number else WAITING


def reps_grid(info: dict, title: str = "Reps", targets: bool = True) -> Grid:
    """The per-rep table of a run or a session (`info` from summary()); without `targets` (a run
    kept out of the history, --no-save: no rep is judged against it), no "targets met" column,
    whose "not yet" said the history held too few reps."""
    rows = tuple(
        (Cell(rep_name(r["rep"])), Cell("not timed" if r["timed_s"] is None else f"{r['timed_s']:.1f}s"), Cell("—" if r["speech_wpm"] is None else f"{r['speech_wpm']:.0f}", "bad" if r["pace_off"] else ""),
         Cell(fmt_seconds(r["longest_pause_s"]), "bad" if r["flagged_pauses"] else ""), Cell(str(r["order_errors"])),
         Cell(_beaten(r["targets"]), "ok" if r["targets"] and all(t.met for t in r["targets"].results) else ""),
         Cell("not scored" if r["score"] is None else str(r["score"])))
        for r in info["rows"]
    )
    columns = ("rep", "time", "words a minute", "longest pause", "out of order", "targets met", "score")
    if not targets:
        keep = [i for i, column in enumerate(columns) if column != "targets met"]
        rows, columns = tuple(tuple(row[i] for i in keep) for row in rows), tuple(columns[i] for i in keep)
    return Grid(title, columns, rows, columns)


STYLE = {"ok": "green", "bad": "bold red", "warn": "yellow", Status.MISSING: "red", Status.OUT_OF_ORDER: "yellow", Status.REPEATED: "cyan"}


def rich_table(grid: Grid, compact: bool = False) -> Table:
    """The grid as a terminal table; `compact`: a rule under the header only and only the last column
    wraps, for wide grids at 80 columns."""
    style = {"box": box.SIMPLE_HEAD, "padding": (0, 1), "pad_edge": False, "show_edge": False} if compact else {}
    table = Table(title=Text(grid.title), title_justify="left", expand=False, **style)
    for column in grid.columns:
        table.add_column(column, overflow="fold", justify="right" if column in grid.right else "left", no_wrap=compact and column != grid.columns[-1])
    for row in grid.rows:
        table.add_row(*(_rich_cell(cell) for cell in row))
    return table


def _rich_cell(cell: Cell) -> Text:
    if not cell.words:
        return Text(cell.text, style=STYLE.get(cell.role, ""))
    text = Text()
    for i, (word, heard) in enumerate(cell.words):
        text.append(("" if i == 0 else " ") + word, style="" if heard else "dim")
    return text


def render(report: RepReport, console: Console, title: str = "") -> None:
    """A scorecard a rep can read at a glance: the one thing to change, steps, pauses, facts, tips, score."""
    if report.coaching:
        console.print(Text("Next rep: ", style="bold") + Text(focus_line(report)))
    console.print(rich_table(steps_grid(report, shown(title))))  # (a file's name may hold a terminal's escape codes)
    if report.pauses:
        console.print(rich_table(pauses_grid(report)))
    for line in fact_lines(report, _rich_mark):
        console.print(line)
    tips = Table.grid()  # a tip that wraps stays under its bullet
    tips.add_column(width=4)
    tips.add_column()
    for tip in tip_lines(report):
        tips.add_row("  •", Text(tip))
    if tips.row_count:
        console.print(tips)
    head, _, parts = score_line(report).partition(" — ")
    console.print(f"[bold]{escape(head)}[/]" + (f" — {escape(parts)}" if parts else ""))


def focus_line(report: RepReport) -> str:
    """The one change worth most next rep, with the points it is worth: the costliest tip's (a clean
    rep's focus costs none; a rep asked whether it is the drill meant, or with nothing of the
    script heard, is told no points)."""
    tips = report.coaching.tips if report.coaching else ()
    counted = tips and not report.unlike and not report.nothing_heard
    return report.coaching.focus + (f" (−{tips[0].points:g})" if counted else "")


def tip_lines(report: RepReport) -> list[str]:
    """Every tip but the focus (shown first: the costliest), costliest first."""
    tips = report.coaching.tips if report.coaching else ()
    return [f"{t.tip} (−{t.points:g})" for t in tips[1:]]


def _rich_mark(text: str, role: str = "") -> str:
    return f"[{STYLE[role]}]{escape(text)}[/]" if role else escape(text)


def fact_lines(report: RepReport, mark: Callable[[str, str], str]) -> list[str]:
    """The scorecard's sentences under the tables, for any medium: `mark(text, role)` escapes the
    text and styles it ("ok", "bad", "warn"; "" plain)."""
    pace = report.pace

    def plain(text: str) -> str:
        return mark(text, "")

    def listed(label: str, marks: tuple, role: str, sep: str = ", ") -> str:
        return plain(f"{label}: ") + plain(sep).join(mark(f"“{m.text}”", role) + plain(f" at {m.start:.1f}s") for m in marks)

    lines = [] if report.nothing_heard else [  # nothing to put in order or time
        plain("In order: ") + (mark("yes", "ok") if report.order_ok else mark("; ".join(report.order_notes), "warn")),
        plain(
            f"Speaking pace: {pace.speech_wpm or 0:.0f} words a minute, {fmt_seconds(report.duration_s)} from the first"
            f" line to the last{', the customer left out' if report.turns else ''} ({report.audio_s:.1f}s recorded)"
        ),
    ]
    if report.forbidden:
        lines.append(listed("Words to avoid", report.forbidden, "bad"))
    if report.fillers:
        lines.append(listed("Filler words", report.fillers, ""))
    if report.extra:
        lines.append(plain(f"Said off the script: {counted(len(report.extra), 'stretch', 'stretches')}, starting at ")
                     + plain(", ".join(f"{m.start:.1f}s" for m in report.extra)))
    if not report.words:
        lines.append(mark(f"No speech was recognised in this audio ({report.audio_s:.1f}s recorded).", "warn"))
    if report.targets:
        beaten = sum(t.met for t in report.targets.results)
        lines.append(plain(f"Your targets (your best of your last {counted(report.targets.from_reps, 'rep')} said by the script): ") + plain("; ").join(
            plain(f"{t.what} ") + mark(figure(t.what, t.value) + (" ✓" if t.met else ""), "ok" if t.met else "warn")
            + plain(f", target {figure(t.what, t.target)}")
            for t in report.targets.results) + plain(f" — {beaten} of {len(report.targets.results)} met")
            + plain(f". {UNJUDGED}" if any(t.value is None and t.what in WHAT[:2] for t in report.targets.results) else ""))
    for t in report.turns:
        latency = "no reply" if t.latency_s is None else f"back in {t.latency_s:.2f}s (limit {t.limit_s:g}s)" + ("" if t.in_time else ": too slow, answer at once")
        said = f" (“{t.reply}”)" if t.turn.kind == TurnKind.HESITATION and t.reply else ""
        onward = mark(" — the sequence stopped here", "bad") if not t.continued else "" if t.answered else mark(" — not answered: you went straight on", "bad")
        slips = mark(" — said " + ", ".join(f"“{p}”" for p in t.forbidden), "bad") if t.forbidden else ""
        lines.append(plain(f"Customer {t.turn.kind} “{t.turn.text}”: ") + mark(latency, "ok" if t.in_time else "bad") + plain(said) + onward + slips)
    return lines


def score_words(report: RepReport) -> str:
    """The rep's score as a heading says it: "score 85", or "not scored" (a rep of another drill,
    asked whether it is the one meant: its 0 is no score)."""
    return f"score {report.score}" if report.scored else "not scored"


def score_line(report: RepReport) -> str:
    if not report.scored and report.score_parts:  # every part says why, the one reason: said once ("Score 0/100" beside it read as a score)
        why = report.score_parts[0].why
        return why[:1].upper() + why[1:] + "."
    if report.nothing_heard and report.score_parts:  # every part scored 0 for the one reason
        return f"Score {report.score}/100 — {report.score_parts[0].why}"
    parts = "; ".join(f"{PART_LABEL.get(p.name, p.name)} {p.points:g} of {p.max_points} points ({p.why})" for p in report.score_parts)
    return f"Score {report.score}/100 — {parts}"


def render_drill_list(found: list[tuple[Path, Drill | VoicedrillError]], console: Console) -> None:
    """The drills a rep can practise, and the files that are broken (with why)."""
    table = Table(title="Drills", title_justify="left")
    table.add_column("name", no_wrap=True)
    table.add_column("steps", justify="right")
    table.add_column("what it trains")
    for path, drill in found:
        if isinstance(drill, VoicedrillError):
            table.add_row(path.name, "—", Text(listed_problem(path, drill), style="red"))
        else:
            table.add_row(drill.name, str(len(drill.steps)), Text(drill.title))
    console.print(table)
    folders = sorted({str(path.parent) for path, _ in found})
    console.print(Text("From: " + ", ".join(folders) + " — voicedrill drills show NAME for the script"), soft_wrap=True)


def _seconds(value: float) -> str:
    """Seconds in words: 1 second, 1.5 seconds."""
    return f"{value:g} second" + ("" if value == 1 else "s")


def step_notes(drill: Drill, step_id: str) -> list[str]:
    """What a rep should know about one step beyond its line, in words: a pause the drill asks
    for before it, its own pause limit, the steps it may swap with, whether it may be left out."""
    notes = []
    step = drill.step(step_id)
    ids = [s.id for s in drill.steps]
    before = ids[ids.index(step_id) - 1] if ids.index(step_id) else None
    for rule in [r for r in drill.pause_rules if r.to_step == step_id]:  # (soft → name, with an optional concern between)
        after = "" if rule.from_step == before else f"after {drill.named(rule.from_step)}, "
        low, high = drill.pause_limits(rule.from_step, step_id)
        if low:
            notes.append(f"{after}take a pause of at least {_seconds(low)} before it")
        if high != drill.max_pause_s:
            notes.append(f"{after}the pause before it may be up to {_seconds(high)}")
    if step.group:
        notes.append("in any order with " + ", ".join(s.named for s in drill.steps if s.group == step.group and s.id != step_id))
    if step.optional:
        notes.append("may be left out")
    if step.repeat:  # in the written order, until a later required step is said (align.judge_order)
        later = next((s.named for s in drill.steps[ids.index(step_id) + 1 :] if not s.optional
                      and drill.order_rank(s.id) > drill.order_rank(step_id)), None) if drill.order == Order.STRICT else None
        answers = [s.named for s in drill.steps if s.optional]  # (judge_order: going back after one is the loop)
        notes.append(f"may be said again before {later}" + (f", or after {' or '.join(answers)}" if answers else "") if later else "may be said again")
    return notes


def drill_rules(drill: Drill) -> list[str]:
    """A drill's rules as a rep reads them before practising."""
    rules = ["the steps in the order written" if drill.order == Order.STRICT else "the steps in any order",
             f"pauses between questions at most {_seconds(drill.max_pause_s)}, unless a step says otherwise",
             f"speaking pace {drill.pace_wpm[0]:.0f}–{drill.pace_wpm[1]:.0f} words a minute"]
    if drill.last:
        rules.append(" then ".join(map(drill.named, drill.last)) + " always last")
    return rules


def render_script(drill: Drill, console: Console) -> None:
    """A drill as a rep reads it before practising: the lines in order, and the rules."""
    console.print(f"[bold]{escape(drill.title)}[/]" + (f"  [dim](from {escape(drill.source)})[/]" if drill.source else ""))
    if drill.description:
        console.print(Text(drill.description, style="italic"))
    lines = Table.grid(padding=(0, 1))  # a wrapped line keeps its indent
    lines.add_column(justify="right")
    lines.add_column()
    for number, step in enumerate(drill.steps, start=1):
        said = Text.assemble((step.named, "bold"), "  ", step.line)
        if notes := step_notes(drill, step.id):
            said.append(f"\n({'; '.join(notes)})", style="yellow")
        if step.variants:
            said.append("\nor: " + " / ".join(step.variants), style="dim")
        lines.add_row(f"{number}.", said)
    console.print(lines)
    console.print(Text("Rules: " + "; ".join(drill_rules(drill)) + "."))
    if drill.forbidden:
        console.print(Text("Never say: " + ", ".join(f"“{p}”" for p in drill.forbidden)))


def render_tips(drill: Drill, console: Console) -> None:
    """Every tip the drill gives, as a rep will read it (example figures filled in), each under
    when it is given: the drill's own [tips] and steps' tips, else voicedrill's."""
    console.print(Text("What a rep is told (with example figures), from the drill's [tips] or voicedrill's own:", style="bold"))
    tips = Table.grid(padding=(0, 1))  # a wrapped tip keeps its indent
    tips.add_column()
    for when, tip in tip_examples(drill):
        tips.add_row(Text.assemble((f"{when}:", "yellow"), "\n", tip))
    console.print(tips)


def rep_row(report: RepReport) -> dict:
    """The headline figures of a rep: duration, speech wpm, longest pause, order errors, score."""
    return {
        "duration_s": report.duration_s,
        "speech_wpm": report.pace.speech_wpm,
        "longest_pause_s": report.longest_pause_s,
        "order_errors": report.order_errors,
        "score": report.score,
    }


TREND_REPS = 3  # a trend is told from this many reps (two climbing 20 points were "starting to flow": first → last says it)
TREND_WINDOW = 10  # …and from the latest this many scored reps (a dip 30 reps ago was still told as today's): a run's ten


def summary(reports: list[RepReport], numbers: list[int | None] | None = None) -> dict:
    """First vs last, best rep and trend (score points per rep, least squares, from TREND_REPS reps;
    the trend and the lowest rep from the latest TREND_WINDOW scored: `recent` reps from
    `recent_first`, a dip among them judged against `recent_from`, the score just before them).

    `numbers` are the reps' numbers as `voicedrill report N` takes them (default 1, 2, …; None: a
    rep still waiting to go into the history)."""
    numbers = numbers or list(range(1, len(reports) + 1))
    rows = [{"rep": n} | rep_row(r) | {"score": r.score if r.scored else None, "flagged_pauses": r.flagged_pauses, "pace_off": r.pace_off, "targets": r.targets,
                                       "timed_s": r.timed_s}  # (the time as the history and the fluency chart take it: said by the script)
            for n, r in zip(numbers, reports)]  # (a rep not scored: its 0 is no score)
    numbers, scores = [n for n, r in zip(numbers, reports) if r.scored], [r.score for r in reports if r.scored]  # (a rep not scored has no score to compare)
    result: dict = {"reps": len(reports), "rows": rows, "scored": len(scores)}
    recent = scores[-TREND_WINDOW:]
    if scores:
        best = max(range(len(scores)), key=lambda i: (scores[i], -i))
        low = len(scores) - len(recent) + min(range(len(recent)), key=lambda i: (recent[i], i))
        result |= {"first_score": scores[0], "last_score": scores[-1], "best_rep": numbers[best], "best_score": scores[best],
                   "low_rep": numbers[low], "low_score": scores[low], "recent": len(recent), "recent_first": recent[0],
                   "recent_from": scores[-len(recent) - 1] if len(scores) > len(recent) else scores[0]}  # (a dip first in the window was a climb)
    if len(recent) >= TREND_REPS:
        x = range(len(recent))
        mean_x, mean_y = sum(x) / len(recent), sum(recent) / len(recent)
        slope = sum((i - mean_x) * (y - mean_y) for i, y in zip(x, recent)) / sum((i - mean_x) ** 2 for i in x)
        result["trend_per_rep"] = round(slope, 2)
    return result


def render_summary(reports: list[RepReport], console: Console, interrupted: bool = False, numbers: list[int] | None = None,
                   targets: bool = True) -> None:
    """The run's table and closing line; nothing before a rep is finished (the saved line says so)."""
    if not reports:
        return
    info = summary(reports, numbers)
    console.print(rich_table(reps_grid(info, "Reps" + (" (stopped early)" if interrupted else ""), targets)))
    console.print(summary_line(info, interrupted))


def summary_line(info: dict, stopped: bool = False) -> str:
    """First vs last, the best rep and the trend, in words (`info` from summary(), at least one rep;
    `stopped`: the run ended before its last rep)."""
    scored = info.get("scored", info.get("reps"))  # (summary() counts both)
    if scored == 0:
        return f"{'This rep was' if info['reps'] == 1 else 'None of these reps was'} scored: little of what was said is like this drill's lines."
    best = f"rep {info['best_rep']}" if info["best_rep"] else "a rep waiting on this computer"
    if scored == 1:
        return f"Score {info['best_score']} ({best})." + ("" if stopped else " A run of ten reps shows how it flows from rep to rep.")
    line = f"First rep {info['first_score']} → last rep {info['last_score']}; best: {best} ({info['best_score']})"
    if "trend_per_rep" in info:
        trend = info["trend_per_rep"]
        start = info.get("recent_from", info["first_score"])  # (a dip first in the window was "climbing")
        line += f"; over the last {info['recent']} scored reps, " if "recent" in info and info["recent"] < scored else "; "
        rise = info["last_score"] - info.get("recent_first", info["first_score"])  # (90, then 40 climbing to 85, climbs)
        dip = info["low_score"] <= min(start, info["last_score"]) - DIP_POINTS  # (100, 85, 100 was "holding steady at 100")
        if dip and min(start, info["last_score"]) >= 100:
            low = f"rep {info['low_rep']}" if info["low_rep"] else "a rep waiting on this computer"
            line += f"back to 100 after a dip to {info['low_score']} ({low}) — say the next one just like the last"
        elif abs(trend) >= TREND_STEADY and (trend * rise < 0 or rise == 0 and info["last_score"] < 100) or dip and abs(trend) < TREND_STEADY:
            line += "up and down from rep to rep — pick one tip and fix it on the next rep"  # (36 → 86 was "slipping"; 90, 60, 90 "holding steady")
        elif trend >= TREND_STEADY:
            line += f"climbing about {trend:.1f} points a rep — it's starting to flow"
        elif trend <= -TREND_STEADY:
            line += f"slipping about {-trend:.1f} points a rep — fix what the last rep's “Next rep” says before you go faster"
        elif info["last_score"] >= 100:
            line += "holding steady at 100 — keep it flowing, faster and more natural each time"
        else:
            line += "holding steady — pick one tip and fix it on the next rep"
    return line
