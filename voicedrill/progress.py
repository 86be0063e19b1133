"""What the history shows: the sessions-and-reps table with sparkline trends, and one-row-per-rep exports."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from itertools import groupby

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .history import SavedRep, by_person
from .report import counted, shown_name, to_dict
from .targets import WHAT, bests, figure

SPARKS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float | None]) -> str:
    """One block character per value, scaled between the smallest and largest; gaps for missing values."""
    known = [v for v in values if v is not None]
    if not known:
        return ""
    low, high = min(known), max(known)
    scale = (len(SPARKS) - 1) / (high - low) if high > low else 0.0
    return "".join(" " if v is None else SPARKS[round((v - low) * scale) if scale else len(SPARKS) // 2] for v in values)


def render_history(reps: Sequence[SavedRep], console: Console) -> None:
    """Sessions and their reps, newest last, then the trend of the figures that matter."""
    if not reps:
        console.print("No reps saved yet (or none match). `voicedrill check` and `voicedrill drill` save every rep.")
        return
    table = Table(title="History", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1), collapse_padding=True, show_edge=False)
    everyone = by_person(reps)
    people = len(everyone) > 1  # a shared history: say whose each rep is
    for column in ("rep", "session", *(("who",) if people else ()), "when", "drill", "secs", "wpm", "pause", "order", "score"):
        table.add_column(column, justify="left" if column in ("session", "who", "when", "drill") else "right", no_wrap=column != "drill",
                         overflow="fold", min_width=len(column))  # (a drill's name folds: with "who", 80 columns cut the score off)
    for _, group in groupby(reps, key=lambda r: r.session):
        for r in group:
            report = r.report
            pause = "—" if report.longest_pause_s is None else f"{report.longest_pause_s:.2f}s"
            speech = report.pace.speech_wpm
            table.add_row(
                str(r.id), f"s{r.session}", *((Text(shown_name(r.user, 12)),) if people else ()), f"{r.saved_at:%m-%d %H:%M}", Text(r.drill),
                "—" if report.timed_s is None else f"{report.timed_s:.1f}s", "—" if speech is None else f"[red]{speech:.0f}[/]" if report.pace_off else f"{speech:.0f}",
                f"[red]{pause}[/]" if report.flagged_pauses else pause, str(report.order_errors), f"[bold]{report.score}[/]" if report.scored else "—",
            )
        table.add_section()
    console.print(table)
    for places in everyone:  # each person's own trend: others' reps are not their progress
        own = [reps[i] for i in places]
        if people:
            console.print(Text(f"{shown_name(own[0].user)}:"))  # (as first written)
        drills = list(dict.fromkeys(r.drill for r in own))
        for drill in drills:  # each drill's own: a hard close's 100 → a harder drill's first 16 is no trend
            mine = [r for r in own if r.drill == drill]
            if len(drills) > 1:
                console.print(Text(f"{drill}:"))
            _trend(mine, console)
            best = bests([r.report for r in mine])
            if best:
                labels = ("time ", "longest pause ", "")
                figures = [label + figure(what, value) for label, what, value in zip(labels, WHAT, best) if value is not None]
                console.print(Text(f"Personal bests, {drill}: " + ", ".join(figures)))
    console.print(
        f"{counted(len(reps), 'rep')} in {counted(len({r.session for r in reps}), 'session')}; secs = time from the first line to the last "
        "(— : not said by the script, so not timed), wpm = words a minute, pause = longest pause between questions, order = steps out of order. A picture: voicedrill report REP_OR_SESSION --html page.html",
        markup=False,
    )


def _trend(reps: Sequence[SavedRep], console: Console) -> None:
    """Sparklines of the figures that matter, first → last."""
    for name, values, fmt in (
        ("score", [r.report.score if r.report.scored else None for r in reps], "{:.0f}"),
        ("words a minute", [r.report.pace.speech_wpm if r.report.scored else None for r in reps], "{:.0f}"),
        ("longest pause", [r.report.longest_pause_s if r.report.scored else None for r in reps], "{:.2f}s"),
    ):  # (a rep not scored was heard against lines it did not say: as the charts, left out)
        known = [v for v in values if v is not None]
        ends = f"  {fmt.format(known[0])} → {fmt.format(known[-1])}" if known else ""
        console.print(f"{name:>14}  {sparkline(values)}{ends}", markup=False, highlight=False)


FIELDS = (
    "rep session rep_in_session kind saved_at user drill engine model source duration_s speech_wpm articulation_wpm "
    "longest_pause_s flagged_pauses order_ok order_errors steps_ok steps_missing steps fillers forbidden score"
).split()


def export_row(rep: SavedRep) -> dict:
    """One rep as a flat record; every figure is the one in its report."""
    report = rep.report
    return {
        "rep": rep.id,
        "session": rep.session,
        "rep_in_session": rep.number,
        "kind": rep.kind,
        "saved_at": rep.saved_at.isoformat(timespec="seconds"),
        "user": rep.user,
        "drill": rep.drill,
        "engine": rep.engine,
        "model": rep.model,
        "source": rep.source,
        "duration_s": _round(report.duration_s, 2),
        "speech_wpm": _round(report.pace.speech_wpm, 1),
        "articulation_wpm": _round(report.pace.articulation_wpm, 1),
        "longest_pause_s": _round(report.longest_pause_s, 2),
        "flagged_pauses": report.flagged_pauses,
        "order_ok": report.order_ok,
        "order_errors": report.order_errors,
        "steps_ok": report.steps_ok,
        "steps_missing": report.steps_missing,
        "steps": len(report.steps),
        "fillers": len(report.fillers),
        "forbidden": len(report.forbidden),
        "score": report.score if report.scored else None,  # (blank: a rep not scored is no 0 in a manager's average)
    }


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def export(reps: Sequence[SavedRep], fmt: str) -> str:
    """CSV with a header row, or JSON lines with the full report under "report"."""
    if fmt == "jsonl":
        return "".join(json.dumps({**export_row(r), "report": to_dict(r.report)}, ensure_ascii=False) + "\n" for r in reps)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(export_row(r) for r in reps)
    return out.getvalue()
