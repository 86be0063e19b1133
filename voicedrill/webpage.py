"""One self-contained HTML page for a rep or a session: timelines, scorecards, the per-rep table and trend.

Pictures are inline PNG data, styles inline; the page loads nothing from anywhere.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping, Sequence
from html import escape
from pathlib import Path

from .drills import titles
from .history import SavedRep, TeamRep
from .team import LEGEND, TeamRow, team_grids
from .plots import fluency_figure, png_bytes, progress_figure, rep_figure, team_figure
from .report import Grid, fact_lines, focus_line, pauses_grid, reps_grid, score_line, score_words, steps_grid, summary, summary_line, tip_lines

PAGE_STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1250px; color: #263238; padding: 0 1em; }
h1 { font-size: 1.5em; margin-bottom: .2em; } h2 { margin-top: 2em; border-bottom: 1px solid #cfd8dc; }
"""
REPORT_STYLE = """
.meta { color: #607d8b; } img { max-width: 100%; } table { border-collapse: collapse; margin: .6em 0; }
th, td { padding: .25em .7em; border-bottom: 1px solid #eceff1; text-align: left; } td.n { text-align: right; }
.ok { color: #2e7d32; } .missing, .flagged, .bad { color: #c62828; font-weight: 600; }
.out_of_order, .warn { color: #b26a00; font-weight: 600; } .repeated { color: #1565c0; } .score { font-size: 1.3em; font-weight: 700; }
.unclear { color: #90a4ae; } .focus { font-size: 1.15em; background: #fff8e1; padding: .5em .8em; border-left: 4px solid #ffb300; }
@media (max-width: 600px) {  /* a team row is a card, each figure named: at 390 px "time" and "fix first" were a swipe away */
  .team table, .team tbody, .team tr { display: block; }
  .team tr:first-child { display: none; }
  .team tr { border-top: 1px solid #cfd8dc; padding: .3em 0; }
  .team td, .team td.n { display: inline-block; border: none; padding: .05em .4em; text-align: left; }
  .team td::before { content: attr(data-label) ": "; color: #546e7a; }
  .team td:first-child, .team td:last-child { display: block; }
  .team td:first-child { font-weight: bold; }
  .team td:first-child::before { content: none; }
}
"""


def page(reps: Sequence[SavedRep]) -> str:
    """A rep's page, or with several reps of a session, the session's page."""
    return _document(title(reps), body(reps))


def _document(what: str, content: str) -> str:
    """A whole self-contained page around `content`."""
    return (f"<!doctype html>\n<html lang=en><head><meta charset=utf-8><meta name=viewport content='width=device-width, initial-scale=1'>"
            f"<title>voicedrill {escape(what)}</title>\n"
            f"<style>{PAGE_STYLE}{REPORT_STYLE}</style></head>\n<body>\n{content}\n</body></html>\n")


def title(reps: Sequence[SavedRep]) -> str:
    """What the page shows: rep 12, or session s3 — 10 reps."""
    first = reps[0]
    return f"rep {first.id}" if len(reps) == 1 else f"session s{first.session} — {len(reps)} reps"


def body(reps: Sequence[SavedRep]) -> str:
    """The page's content (the app shows it inside its own layout)."""
    first = reps[0]
    what = title(reps)
    parts = [
        f"<h1>voicedrill — {escape(titles().get(first.drill, first.drill))}, {escape(what)}</h1>",
        f"<p class=meta>{first.saved_at:%Y-%m-%d %H:%M} · {'a recording checked' if first.kind == 'check' else 'practised live'}"
        f"{' · ' + escape(first.user) if first.user else ''}</p>",
    ]
    if len(reps) > 1:
        parts += [run_table(reps), _image(png_bytes(progress_figure(reps)), "score, pace and longest pause per rep")]
    for rep in reps:
        parts.append(rep_section(rep, heading=len(reps) > 1))
    return "\n".join(parts)


def _image(png: bytes, alt: str) -> str:
    return f'<p><img alt="{escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}"></p>'


def _table(grid: Grid, links: Sequence[str] = ()) -> str:
    """A Grid as an HTML table; `links` are addresses for each row's first cell ("": none)."""
    head = "".join(f"<th>{escape(c)}</th>" for c in grid.columns)
    rows = []
    for number, row in enumerate(grid.rows):
        cells = []
        for column, cell in zip(grid.columns, row):
            text = " ".join(escape(w) if heard else f"<span class=unclear>{escape(w)}</span>" for w, heard in cell.words) or escape(cell.text)
            if links and links[number] and column == grid.columns[0]:
                text = f"<a href='{escape(links[number])}'>{text}</a>"
            classes = " ".join(c for c in ("n" if column in grid.right else "", cell.role) if c)
            label = f" data-label='{escape(column)}'"  # (a narrow screen shows a team row as a card, each figure named)
            cells.append(f"<td class='{classes}'{label}>{text}</td>" if classes else f"<td{label}>{text}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def run_table(reps: Sequence[SavedRep]) -> str:
    """A run's reps: the per-rep table, its summary line and the fluency curve."""
    info = summary([r.report for r in reps], [r.id or None for r in reps])
    curve = _image(png_bytes(fluency_figure(reps)), "the fluency curve: time and longest pause per rep, against your targets")
    grid = reps_grid(info)
    return f"<h2>Reps</h2>{_table(grid, [f'#rep-{row[0].text}' for row in grid.rows])}<p>{escape(summary_line(info))}</p>{curve}"


def rep_section(rep: SavedRep, heading: bool = False) -> str:
    """One rep: score, next-rep focus, timeline, steps and pauses, facts and tips."""
    report = rep.report
    out = [f"<h2 id='rep-{rep.id}'>{rep.called.capitalize()} — {score_words(report)}</h2>" if heading
           else f"<p class=score>{f'Score {report.score}/100' if report.scored else 'Not scored'}</p>"]
    if report.coaching:
        out.append(f"<p class=focus><b>Next rep:</b> {escape(focus_line(report))}</p>")
    out.append(_image(png_bytes(rep_figure(rep, report)), f"timeline of rep {rep.id}"))
    out.append(_table(steps_grid(report)))
    if report.pauses:
        out.append(_table(pauses_grid(report)))
    limits = f"Drill limits: speaking pace {rep.pace_wpm[0]:.0f}–{rep.pace_wpm[1]:.0f} words a minute, pauses between questions ≤ {rep.max_pause_s:g} s"
    facts = [*fact_lines(report, _mark), *(escape("Tip: " + t) for t in tip_lines(report)), escape(limits), escape(score_line(report))]
    out.append("<ul>" + "".join(f"<li>{f}</li>" for f in facts) + "</ul>")
    heard_by = f"{rep.engine}, {Path(rep.model).name or rep.model}"
    kept = Path(rep.audio) if rep.audio else None  # a live rep's kept audio: its run's folder too (every run has a rep-02.wav)
    recording = f"{kept.parent.name}/{kept.name}" if kept else Path(rep.source).name or rep.source
    out.append(f"<p class=meta>recording: {escape(recording)} · speech recogniser: {escape(heard_by)}</p>")
    return "\n".join(out)


def _mark(text: str, role: str = "") -> str:
    return f"<span class={role}>{escape(text)}</span>" if role else escape(text)


def team_page(rows: Sequence[TeamRow], reps: Sequence[TeamRep]) -> str:
    """The manager's page: the team table and its chart."""
    return _document("team", f"<h1>voicedrill — team practice</h1><div class=team>{team_body(rows, reps, titles=titles())}</div>")  # (drills by title, as the app names them)


def team_body(rows: Sequence[TeamRow], reps: Sequence[TeamRep], chart: Callable[[str], str] | None = None,
              titles: Mapping[str, str] | None = None, person: Callable[[TeamRow], str] | None = None) -> str:
    """A table and a chart per drill, then who has not practised today (each chart inline, or at the
    address `chart` gives a drill); `person` gives a row's name a link (the app's: to their progress
    on that drill)."""
    if not rows:
        return "<p>No reps saved yet (or none match).</p>"
    idle = sorted({r.user for r in rows} - {r.user for r in rows if r.today})
    line = f"<p>Not practised today: {escape(', '.join(idle))}</p>" if idle else "<p>Everyone has practised today.</p>"
    alt = "score and time from the first line to the last, rep by rep, per person"
    tables = ""
    for drill in dict.fromkeys(r.drill for r in rows):  # a table per drill, each row's name linked to its own person
        mine = [r for r in rows if r.drill == drill]
        grid, = team_grids(mine, titles)
        picture = (f'<p><img alt="{alt}" src="{escape(chart(drill))}"></p>' if chart
                   else _image(png_bytes(team_figure([r for r in reps if r.drill == drill], [r.user for r in reps])), alt))
        tables += f"<h2>{escape(grid.title)}</h2>{_table(grid, [person(r) for r in mine] if person else ())}{picture}"
    return tables + f"<p class=meta>{escape(LEGEND)}</p>" + line
