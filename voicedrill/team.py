"""The manager's view: per person and drill, who ran their reps and who is getting fluent. Pure:
saved reps in, one row per person and drill out (views only lay the rows out)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from .align import normalise
from .history import TeamRep, person_key
from .report import Cell, Grid, shown_name


@dataclass(frozen=True)
class TeamRow:
    """One person's practice at one drill over the chosen period."""

    user: str
    drill: str
    today: int  # reps since midnight
    week: int  # reps in the last 7 days
    reps: int  # reps in the period
    last_score: int | None  # (None: no rep scored)
    best_score: int | None
    time_first_s: float | None  # time from the first line to the last: the period's first rep said by the script and not rushed…
    time_last_s: float | None  # …and the newest
    common_problem: str | None  # what most reps were told to fix first ("pause before payment", "email", …)…
    problem_reps: int  # …and how many of the period's reps were told it


NO_NAME = "(no name)"  # a team row's name for reps saved without one


def team_rows(reps: Sequence[TeamRep], now: datetime) -> list[TeamRow]:
    """One row per (person, drill), most active this week first; `reps` oldest first."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    groups: dict[tuple[str, str], list[TeamRep]] = {}
    for rep in reps:  # a name is one person whatever its case (a history from before that rule may hold both spellings)
        groups.setdefault((person_key(rep.user or NO_NAME), rep.drill), []).append(rep)
    rows = []
    for (_, drill), mine in groups.items():
        user = mine[0].user or NO_NAME  # as they first wrote it
        times = [r.timed_s for r in mine if r.timed_s is not None and not r.rushed]  # (a rushed first rep made every steadier one look slower)
        scores = [r.score for r in mine if r.scored]  # (a rep not scored is no 0)
        problems = Counter(_alike(r.fix_first) for r in mine if r.fix_first)  # a phrase to avoid is one problem however the drill spelt it then
        newest = {_alike(r.fix_first): r.fix_first for r in mine if r.fix_first}
        top = problems.most_common(1)[0][0] if problems else None
        rows.append(TeamRow(
            user, drill,
            today=sum(r.saved_at >= midnight for r in mine),
            week=sum(r.saved_at >= now - timedelta(days=7) for r in mine),
            reps=len(mine),
            last_score=scores[-1] if scores else None,
            best_score=max(scores, default=None),
            time_first_s=times[0] if times else None,
            time_last_s=times[-1] if times else None,
            common_problem=None if top is None else newest[top],
            problem_reps=0 if top is None else problems[top],
        ))
    return sorted(rows, key=lambda r: (-r.week, person_key(r.user), r.drill))


def _score(score: int | None) -> str:
    return "—" if score is None else str(score)


def _alike(problem: str) -> str:
    """A problem as said whatever its case and punctuation (“so you want to do it” and “So you want to do it?”)."""
    return " ".join(normalise(problem))


def trend(row: TeamRow) -> Cell:
    """The time from the first line to the last, first → newest rep said by the script and not rushed, marked green when it came down (— : none)."""
    first, last = row.time_first_s, row.time_last_s
    if first is None or last is None:
        return Cell("—")
    if first == last:
        return Cell(f"{last:.1f}s")
    return Cell(f"{first:.1f}s → {last:.1f}s", "ok" if last < first else "warn")


def team_grids(rows: Sequence[TeamRow], titles: Mapping[str, str] | None = None) -> list[Grid]:
    """One table per drill (a manager reads a drill at a time; and it fits 80 columns), headed by
    its title where `titles` has it (drills.titles)."""
    drills = dict.fromkeys(r.drill for r in rows)
    columns = ("person", "today", "week", "reps", "last", "best", "time", "fix first")
    return [
        Grid(f"Team practice — {(titles or {}).get(drill, drill)}", columns, tuple(
            (Cell(shown_name(r.user, 16)), Cell(str(r.today), "bad" if r.today == 0 else ""), Cell(str(r.week)), Cell(str(r.reps)),
             Cell(_score(r.last_score)), Cell(_score(r.best_score)), trend(r), Cell(f"{r.problem_reps} of {r.reps}: {r.common_problem}" if r.common_problem else "—"))  # (the count first: "(2 | of 5)" split at 80 columns)
            for r in rows if r.drill == drill
        ), ("today", "week", "reps", "last", "best"))
        for drill in drills
    ]


LEGEND = ("today, week (last 7 days), reps (in the period): reps saved; last, best: scores; time: from the first line to the "
          "last, first → newest rep said by the script (every step, in order, no phrase to avoid) and not faster than the drill's pace (— : none in the period); fix first: what their reps were most "
          "often told to fix first, and in how many of their reps")
