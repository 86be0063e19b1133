"""Pictures of progress: a rep's timeline, and score / pace / pauses over the stored reps (matplotlib, headless)."""

from __future__ import annotations

import io
import warnings
import zlib
from collections.abc import Iterable, Sequence
from itertools import groupby

import matplotlib

matplotlib.use("Agg")  # no display needed, ever
matplotlib.rcParams["text.parse_math"] = False  # names and phrases are text: "pay $5 or $10" is no formula (and "$^$" failed the page)
warnings.filterwarnings("ignore", message="Glyph .* missing from font", category=UserWarning)  # a name in a script the font lacks: boxes, not a warning

import numpy as np  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402
from matplotlib.ticker import FuncFormatter, MaxNLocator  # noqa: E402

from .data import RepReport, Status  # noqa: E402
from .drills import titles  # noqa: E402
from .errors import VoicedrillError  # noqa: E402
from .report import counted, rep_name, score_words, shown_name  # noqa: E402
from .history import LEVEL_STEP_S, SavedRep, TeamRep, by_person, person_key  # noqa: E402
from .targets import WHAT  # noqa: E402

DPI = 100
LEGEND_MAX = 12  # people named in a chart's legend (the team's, the fluency curve's)
MIN_TIME_SPAN_S = 2.0  # the fluency curve's time axis spans at least this much
STATUS_COLOUR = {Status.OK: "#2e8b57", Status.MISSING: "#c0392b", Status.OUT_OF_ORDER: "#e6a100", Status.REPEATED: "#2a7fb8"}
FLAGGED, FINE, CUSTOMER = "#c0392b", "#2e8b57", "#9e9e9e"
PEOPLE_COLOURS = ("#1565c0", "#ef6c00", "#6a1b9a", "#00838f", "#ad1457", "#558b2f", "#4e342e", "#37474f")  # several people's lines in one chart


def _most_active(people: list[list[int]]) -> list[int]:
    """Which of by_person's people a chart's legend names: the LEGEND_MAX with most reps."""
    return sorted(range(len(people)), key=lambda k: -len(people[k]))[:LEGEND_MAX]


def people_colours(names: Iterable[str]) -> dict[str, str]:
    """A colour per person (by person_key), chosen from the name itself; of two people who would share
    one, the later in name order takes the next free (with more people than colours, some share).
    Given everyone in the history (Store.people), a person keeps their colour in every chart: each
    drill's on the team page, the progress page's."""
    colours: dict[str, str] = {}
    for key in sorted({person_key(name) for name in names}):
        start = zlib.crc32(key.encode("utf-8"))
        ring = [PEOPLE_COLOURS[(start + k) % len(PEOPLE_COLOURS)] for k in range(len(PEOPLE_COLOURS))]
        colours[key] = next((c for c in ring if c not in colours.values()), ring[0])
    return colours


LABEL_CHAR_IN = 0.075  # a character of an 8 pt label, in inches (with room between labels)
LABEL_ROW = 0.22  # a row of step labels, in the timeline's units


def _label_rows(labels: list[tuple[float, float]]) -> list[int]:
    """A row for each label (centre, width, in seconds, left to right), the lowest where it
    overlaps none before it: four short probes said in 4 s printed on top of each other."""
    ends: list[float] = []  # each row's right edge so far
    rows = []
    for centre, width in labels:
        row = next((i for i, right in enumerate(ends) if centre - width / 2 > right), len(ends))
        ends[row:row + 1] = [centre + width / 2]
        rows.append(row)
    return rows


def draw_timeline(ax: Axes, report: RepReport, levels: np.ndarray | None, span_s: float | None = None) -> None:
    """One rep on a time axis: energy, step spans, pauses between questions, fillers and forbidden phrases."""
    end = span_s or max(report.audio_s, 1.0)
    if levels is not None and levels.size:
        t = np.arange(levels.size) * LEVEL_STEP_S
        floor, peak = np.percentile(levels, 5), max(np.max(levels), np.percentile(levels, 5) + 1.0)
        height = np.clip((levels - floor) / (peak - floor), 0, 1) * 0.9
        ax.fill_between(t, -height / 2 + 0.45, height / 2 + 0.45, step="post", color="#b0bec5", lw=0)
    else:  # a rep imported without audio levels: show the words instead
        for w in report.words:
            ax.axvspan(w.start, w.end, ymin=0.35, ymax=0.55, color="#b0bec5", lw=0)
    for turn in report.turns:
        ax.axvspan(turn.turn.start, turn.turn.end, ymin=0.2, ymax=0.75, color=CUSTOMER, alpha=0.25, hatch="//", lw=0)
        ax.text((turn.turn.start + turn.turn.end) / 2, 0.9, "customer", ha="center", fontsize=7, color="#616161")
    spans = sorted((start, end, text, STATUS_COLOUR[step.status]) for step in report.steps if step.start is not None and step.end is not None
                   for start, end, text in [(step.start, step.end, step.named + ("" if step.status == Status.OK else f" ({step.loop or step.status.replace('_', ' ')})")),
                                            *((a, b, f"{step.named} (again)") for a, b in step.again)])
    inch_s = end / (ax.get_position().width * ax.figure.get_figwidth())  # seconds of the axis an inch of the figure takes
    rows = _label_rows([((a + b) / 2, len(text) * LABEL_CHAR_IN * inch_s) for a, b, text, _ in spans])
    for (start, stop, text, colour), row in zip(spans, rows):
        ax.add_patch(Rectangle((start, 1.0), stop - start, 0.28, color=colour, alpha=0.85, lw=0))
        ax.text((start + stop) / 2, 1.33 + LABEL_ROW * row, text, ha="center", va="bottom", fontsize=8, color=colour)
    missing = [s.named for s in report.steps if s.status == Status.MISSING and not s.optional]
    if missing:
        ax.text(1.0, 1.02, "missing: " + ", ".join(missing), transform=ax.transAxes, fontsize=8, color=STATUS_COLOUR[Status.MISSING], va="bottom", ha="right")
    for pause in report.pauses:
        left, right = pause.start, pause.end
        colour = FLAGGED if pause.flagged else FINE
        ax.annotate("", (max(right, left), -0.12), (left, -0.12), arrowprops={"arrowstyle": "<->", "color": colour, "lw": 1.4})
        ax.text((left + right) / 2, -0.22, f"{pause.gap_s:.2f}s" + (" !" if pause.flagged else ""), ha="center", va="top", fontsize=7, color=colour)
    for mark in report.fillers:
        ax.plot([mark.start], [0.95], marker="v", color="#e67e22", ms=7)
        ax.text(mark.start, 0.78, mark.text, fontsize=7, color="#e67e22", ha="center")
    for mark in report.forbidden:
        ax.axvspan(mark.start, max(mark.end, mark.start + 0.1), color=FLAGGED, alpha=0.2, lw=0)
        ax.plot([mark.start], [0.95], marker="X", color=FLAGGED, ms=8)
        ax.text(mark.start, 0.05, f"“{mark.text}”", fontsize=7, color=FLAGGED)
    ax.set_xlim(0, end)
    ax.set_ylim(-0.45, 1.6 + LABEL_ROW * max(rows, default=0))
    ax.set_yticks([])
    ax.set_xlabel("seconds")
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)


def rep_figure(rep: SavedRep, report: RepReport) -> Figure:
    """The timeline picture of one stored rep."""
    figure = Figure(figsize=(12, 3.2), dpi=DPI)
    ax = figure.add_subplot()
    draw_timeline(ax, report, rep.levels)
    ax.set_title(_title(rep, report), loc="left", fontsize=10)
    figure.tight_layout()
    return figure


def session_figure(reps: Sequence[SavedRep], reports: Sequence[RepReport]) -> Figure:
    """The reps of a session stacked on one time axis: watch them get shorter and the gaps close."""
    span = max(max(r.audio_s for r in reports), 1.0)
    figure = Figure(figsize=(12, 1.0 + 2.0 * len(reps)), dpi=DPI)
    axes = figure.subplots(len(reps), 1, sharex=True, squeeze=False)[:, 0]
    for ax, rep, report in zip(axes, reps, reports):
        draw_timeline(ax, report, rep.levels, span)
        ax.set_title(_title(rep, report), loc="left", fontsize=9)
        if ax is not axes[-1]:
            ax.set_xlabel("")
    figure.tight_layout()
    return figure


def _title(rep: SavedRep, report: RepReport) -> str:
    pace = report.pace.speech_wpm
    return (
        f"{rep.called} · {rep.saved_at:%Y-%m-%d %H:%M} · {titles().get(rep.drill, rep.drill)} · "
        f"{score_words(report)} · {'—' if pace is None else f'{pace:.0f}'} wpm"
    )


def fluency_figure(reps: Sequence[SavedRep], everyone: Iterable[str] = ()) -> Figure:
    """A run's fluency curve: time from the first line to the last and the longest pause, rep by rep,
    against each rep's personal target (where it had one) and the drill's pause limit. Several people's
    reps are a line each (one line through them all read as one person's curve). A rep not said by the
    script is off the curve, as its scorecard does not time it; its longest pause is still drawn, as
    the progress chart beside it draws it, hollow."""
    figure = Figure(figsize=(10, 4.5), dpi=DPI)
    time, pause = figure.subplots(2, 1, sharex=True)
    x = np.arange(1, len(reps) + 1)
    people = by_person(reps)
    several = len(people) > 1
    pause.axhline(reps[0].max_pause_s, color=FLAGGED, linestyle="dotted", lw=1, label="the drill's limit")
    off = [(x[i], r.report.longest_pause_s) for i, r in enumerate(reps)
           if r.report.judged_pause_s is None and r.report.longest_pause_s is not None and r.report.scored]  # (as the progress chart draws them)
    if off:
        pause.scatter(*zip(*off), s=28, facecolors="none", edgecolors="#90a4ae", zorder=3, label="not said by the script: not judged")
    legend = _most_active(people)
    colours = people_colours([*everyone, *(r.user for r in reps)])  # (`everyone` in the history: each keeps one colour in every chart)
    for ax, what, values in (
        (time, WHAT[0], [r.report.timed_s for r in reps]),  # (as its targets: reps said by the script)
        (pause, WHAT[1], [r.report.judged_pause_s for r in reps]),
    ):
        targets = [next((t.target for t in r.report.targets.results if t.what == what), np.nan) if r.report.targets else np.nan for r in reps]
        target_label = "each person's own target (dashed)" if several else "your target"
        for k, mine in enumerate(people):
            colour = colours[person_key(reps[mine[0]].user)] if several else "#37474f"
            ax.plot(x[mine], [np.nan if values[i] is None else values[i] for i in mine], marker="o", color=colour, lw=1.5,
                    label=shown_name(reps[mine[0]].user, 24) if several and ax is time and k in legend else None)
            theirs = [targets[i] for i in mine]
            if not np.all(np.isnan(theirs)):
                ax.step(x[mine], theirs, where="mid", color=colour if several else "#2e7d32", linestyle="dashed", lw=1.2, label=target_label)
                target_label = None
        if ax.get_legend_handles_labels()[0]:  # (upper right covered a last rep's long pause; several names, the line itself)
            ax.legend(fontsize=8, frameon=False, **({"loc": "upper left", "bbox_to_anchor": (1.01, 1.0)} if several else {"loc": "best"}))
        ax.set_ylabel("seconds")
        ax.set_title(what, loc="left", fontsize=9)
        if all(v is None for v in values):  # (an empty frame from −1 to 1 s said nothing)
            ax.text(0.5, 0.5, f"no rep here was said by the script yet (every step, in order, no phrase to avoid), so none is {'timed' if ax is time else 'judged'}",
                    ha="center", va="center", transform=ax.transAxes, color="#607d8b", fontsize=9, bbox={"facecolor": "white", "edgecolor": "none"})
            if ax is time or not off:
                ax.set_yticks([])
    low, high = time.get_ylim()
    if high - low < MIN_TIME_SPAN_S:  # a tenth of a second between reps is not drawn as a climb
        middle = (low + high) / 2
        time.set_ylim(middle - MIN_TIME_SPAN_S / 2, middle + MIN_TIME_SPAN_S / 2)
    pause.set_xlabel("rep (numbered as in the table)")
    pause.set_xticks(x, [rep_name(r.id) for r in reps])
    figure.tight_layout()
    return figure


PROGRESS_AXES_IN = 8.7  # the progress chart's plotting width, inches (10 in less the labels at its left)
SESSION_CHAR_IN, LABEL_GAP_IN = 0.06, 0.15  # a character of a session's label at 7 pt, and room between two labels, inches


def progress_figure(reps: Sequence[SavedRep]) -> Figure:
    """Score, speech wpm and longest pause, one point per rep; each session a band; the drill's limits drawn in."""
    if not reps:
        raise VoicedrillError("no reps to plot: save some with voicedrill check or voicedrill drill (or widen --drill/--since)")
    figure = Figure(figsize=(10, 7.5), dpi=DPI)
    score, wpm, pause = figure.subplots(3, 1, sharex=True)
    x = np.arange(len(reps))
    position = 0
    reps_per_in = len(reps) / PROGRESS_AXES_IN
    labelled_to = -np.inf  # where the last session's label ends, in reps
    for band, (session, group) in enumerate(groupby(reps, key=lambda r: r.session)):
        group = list(group)
        xs = x[position:position + len(group)]
        first = group[0]
        left, right = xs[0] - 0.45, xs[-1] + 0.45
        for ax in (score, wpm, pause):
            if band % 2:
                ax.axvspan(left, right, color="#eceff1", lw=0, zorder=0)
        wpm.fill_between([left, right], *first.pace_wpm, color="#c8e6c9", alpha=0.6, lw=0, zorder=1)
        pause.hlines(first.max_pause_s, left, right, colors=FLAGGED, linestyles="dashed", lw=1, zorder=1)
        label = f"s{session} {first.saved_at:%m-%d}"
        half = (SESSION_CHAR_IN * len(label) + LABEL_GAP_IN) / 2 * reps_per_in
        if (left + right) / 2 - half >= labelled_to:  # sessions too narrow for their labels: every few labelled
            score.text((left + right) / 2, 103, label, ha="center", fontsize=7, color="#546e7a")
            labelled_to = (left + right) / 2 + half
        for ax, values in (
            (score, [r.report.score if r.report.scored else np.nan for r in group]),
            (wpm, [np.nan if r.report.pace.speech_wpm is None or not r.report.scored else r.report.pace.speech_wpm for r in group]),
            (pause, [np.nan if r.report.longest_pause_s is None or not r.report.scored else r.report.longest_pause_s for r in group]),
        ):  # (a rep not scored was heard against lines it did not say: its pace and pauses plotted as a clean rep's)
            ax.plot(xs, values, marker="o", ms=4, color="#1565c0", lw=1.2, zorder=3)
        for xi in [xi for xi, r in zip(xs, group) if not r.report.scored]:  # (a blank in the score line said nothing)
            score.text(xi, 4, "not scored", ha="center", va="bottom", fontsize=7, color="#607d8b")
        for ax, off in ((pause, [(xi, r.report.longest_pause_s) for xi, r in zip(xs, group) if r.report.flagged_pauses and r.report.scored]),
                        (wpm, [(xi, r.report.pace.speech_wpm) for xi, r in zip(xs, group) if r.report.pace_off])):
            if off:  # (a pause too long was red, a rushed rep a plain dot: found by a manager)
                ax.scatter(*zip(*off), color=FLAGGED, s=22, zorder=4)
        position += len(group)
    score.set_ylim(0, 110)
    score.set_ylabel("score")
    wpm.set_ylabel("words a minute")
    pause.set_ylabel("longest pause (s)")
    highest = max([r.report.longest_pause_s or 0.0 for r in reps if r.report.scored] + [r.max_pause_s for r in reps])  # (as drawn)
    pause.set_ylim(0, highest * 1.15)
    pause.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))  # (min 1: one rep each was ticked 0.5, 0.6 … 1.5)
    pause.xaxis.set_major_formatter(FuncFormatter(lambda value, _: str(reps[int(value)].id) if value == int(value) and 0 <= value < len(reps) else ""))
    bands = "shaded bands: sessions; " if len({r.session for r in reps}) > 1 else ""  # (one session has no band to see)
    pause.set_xlabel(f"reps, oldest first, numbered as in the table ({bands}green: pace band; dashed: pause limit; red: outside them)")
    pause.set_xlim(-0.6, len(reps) - 0.4)
    titled = titles()
    drills = sorted({titled.get(r.drill, r.drill) for r in reps})
    figure.suptitle(f"voicedrill progress — {', '.join(drills)} — {counted(len(reps), 'rep')}", fontsize=11)
    figure.tight_layout()
    return figure


def png_bytes(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def team_figure(reps: Sequence[TeamRep], everyone: Iterable[str] = ()) -> Figure:
    """Score and time from the first line to the last, rep by rep, one line per person, a pair of
    panels per drill (one axis mixed drills, a person a colour per drill: found by a manager); a
    person has one colour in every chart given `everyone` in the history (people_colours), and each legend
    names its LEGEND_MAX most active."""
    if not reps:
        raise VoicedrillError("no reps to plot: none match --drill/--since/--user")
    drills = list(dict.fromkeys(r.drill for r in reps))
    colours = people_colours([*everyone, *(r.user for r in reps)])
    figure = Figure(figsize=(11, 6.5 * len(drills)), dpi=DPI)
    axes = figure.subplots(2 * len(drills), 1)
    titled = titles()
    for k, shown in enumerate(drills):
        title = f"{titled.get(shown, shown)}: " if len(drills) > 1 else ""
        _team_panels(axes[2 * k], axes[2 * k + 1], [r for r in reps if r.drill == shown], colours, title)
    figure.suptitle(f"voicedrill team — {counted(len(by_person(reps)), 'person', 'people')}, {counted(len(reps), 'rep')}", fontsize=11)
    figure.tight_layout()
    return figure


def _team_panels(score: Axes, time: Axes, reps: Sequence[TeamRep], colours: dict[str, str], title: str) -> None:
    """One drill's score and time panels: a line per person (named as they first wrote it), their reps oldest first."""
    people = sorted(by_person(reps), key=lambda mine: person_key(reps[mine[0]].user))
    active = _most_active(people)
    time.sharex(score)
    for k, mine in enumerate(people):
        x = np.arange(1, len(mine) + 1)
        colour = colours[person_key(reps[mine[0]].user)]
        score.plot(x, [reps[i].score if reps[i].scored else np.nan for i in mine], marker="o", ms=3, lw=1.3, color=colour,
                   label=shown_name(reps[mine[0]].user, 24) if k in active else None)
        time.plot(x, [np.nan if reps[i].timed_s is None or reps[i].rushed else reps[i].timed_s for i in mine], marker="o", ms=3, lw=1.3, color=colour)
    score.set_ylim(0, 105)
    score.set_ylabel("score")
    score.set_title(f"{title}score", loc="left", fontsize=9)
    score.tick_params(labelbottom=False)
    score.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False, title_fontsize=8,
                 title=f"the {len(active)} with most reps (of {len(people)})" if len(people) > len(active) else None)
    time.set_ylabel("seconds")
    time.set_title(f"{title}time from the first line to the last (reps said by the script, not rushed)", loc="left", fontsize=9)
    time.set_xlabel("each person's reps, oldest first")
    time.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))  # (min 1: one rep each was ticked 0.5, 0.6 … 1.5)
    time.set_xlim(0.5, max(len(m) for m in people) + 0.5)
