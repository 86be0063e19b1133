"""One self-contained HTML page for a rep or a session: timelines, scorecards, the per-rep table and trend.

Pictures are inline PNG data, styles inline; the page loads nothing from anywhere.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from html import escape

from .data import RepReport
from .history import SavedRep
from .plots import png_bytes, progress_figure, rep_figure
from .report import fact_lines, fmt_seconds, score_line, summary, summary_line

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1250px; color: #263238; padding: 0 1em; }
h1 { font-size: 1.5em; margin-bottom: .2em; } h2 { margin-top: 2em; border-bottom: 1px solid #cfd8dc; }
.meta { color: #607d8b; } img { max-width: 100%; } table { border-collapse: collapse; margin: .6em 0; }
th, td { padding: .25em .7em; border-bottom: 1px solid #eceff1; text-align: left; } td.n { text-align: right; }
.ok { color: #2e7d32; } .missing, .flagged, .bad { color: #c62828; font-weight: 600; }
.out_of_order, .warn { color: #b26a00; font-weight: 600; } .repeated { color: #1565c0; } .score { font-size: 1.3em; font-weight: 700; }
"""


def page(reps: Sequence[SavedRep], reports: Sequence[RepReport]) -> str:
    """A rep's page, or with several reps of a session, the session's page."""
    first = reps[0]
    what = f"rep {first.id}" if len(reps) == 1 else f"session s{first.session} — {len(reps)} reps"
    parts = [
        f"<h1>voicedrill — {escape(first.drill)}, {escape(what)}</h1>",
        f"<p class=meta>{first.saved_at:%Y-%m-%d %H:%M} · engine {escape(first.engine)} ({escape(first.model)})"
        f" · {escape(first.kind)}{' · ' + escape(first.user) if first.user else ''}</p>",
    ]
    if len(reps) > 1:
        parts += [_session_table(reps, reports), _image(png_bytes(progress_figure(reps)), "score, pace and longest pause per rep")]
    for rep, report in zip(reps, reports):
        parts.append(_rep_section(rep, report, heading=len(reps) > 1))
    body = "\n".join(parts)
    return f"<!doctype html>\n<html lang=en><head><meta charset=utf-8><title>voicedrill {escape(what)}</title>\n<style>{STYLE}</style></head>\n<body>\n{body}\n</body></html>\n"


def _image(png: bytes, alt: str) -> str:
    return f'<p><img alt="{escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}"></p>'


def _session_table(reps: Sequence[SavedRep], reports: Sequence[RepReport]) -> str:
    info = summary(list(reports), [r.id for r in reps])
    rows = "".join(
        f"<tr><td><a href='#rep-{r.id}'>{r.number}</a></td><td>{r.saved_at:%H:%M:%S}</td><td class=n>{fmt_seconds(r.duration_s)}</td>"
        f"<td class=n>{_n(r.speech_wpm)}</td><td class=n>{fmt_seconds(r.longest_pause_s)}</td><td class=n>{r.order_errors}</td>"
        f"<td class=n><b>{r.score}</b></td></tr>"
        for r in reps
    )
    line = summary_line(info)
    return (
        "<h2>Reps</h2><table><tr><th>rep</th><th>time</th><th>duration</th><th>speech wpm</th><th>longest pause</th>"
        f"<th>order errors</th><th>score</th></tr>{rows}</table><p>{escape(line)}</p>"
    )


def _rep_section(rep: SavedRep, report: RepReport, heading: bool) -> str:
    out = [f"<h2 id='rep-{rep.id}'>Rep {rep.number} (rep {rep.id}) — score {report.score}</h2>" if heading else f"<p class=score>Score {report.score}/100</p>"]
    out.append(_image(png_bytes(rep_figure(rep, report)), f"timeline of rep {rep.id}"))
    out.append("<table><tr><th>step</th><th>status</th><th>start</th><th>end</th><th>wpm</th><th>heard</th></tr>")
    for s in report.steps:
        status = s.status.replace("_", " ") + (f" ×{s.count}" if s.count > 1 else "")
        out.append(
            f"<tr><td>{escape(s.id)}</td><td class={s.status}>{status}</td><td class=n>{fmt_seconds(s.start)}</td>"
            f"<td class=n>{fmt_seconds(s.end)}</td><td class=n>{_n(s.wpm)}</td><td>{escape(s.heard)}</td></tr>"
        )
    out.append("</table>")
    if report.pauses:
        out.append("<table><tr><th>pause between questions</th><th>gap</th><th>allowed</th></tr>")
        for p in report.pauses:
            allowed = f"{p.min_s:g}–{p.max_s:g}s" if p.min_s else f"≤ {p.max_s:g}s"
            out.append(
                f"<tr><td>{escape(p.from_step)} → {escape(p.to_step)}</td>"
                f"<td class='n {'flagged' if p.flagged else 'ok'}'>{p.gap_s:.2f}s</td><td class=n>{allowed}</td></tr>"
            )
        out.append("</table>")
    limits = f"Drill limits: pace {rep.pace_wpm[0]:.0f}–{rep.pace_wpm[1]:.0f} wpm, pauses between questions ≤ {rep.max_pause_s:g} s"
    facts = [*fact_lines(report, _mark), escape(limits), escape(score_line(report))]
    out.append("<ul>" + "".join(f"<li>{f}</li>" for f in facts) + "</ul>")
    out.append(f"<p class=meta>source: {escape(rep.source)}</p>")
    return "\n".join(out)


def _mark(text: str, role: str = "") -> str:
    return f"<span class={role}>{escape(text)}</span>" if role else escape(text)


def _n(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}"
