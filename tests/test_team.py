"""Who practised: reps carry the rep's name (--user, $VOICEDRILL_USER, login), and `voicedrill team`
shows each person and drill — reps today and this week, last and best score, the time from the first line to the last, what
to fix first."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from voicedrill.history import Session, Store
from voicedrill.synth import Piece
from voicedrill.team import team_grids, team_rows

from test_history import sample_report


@pytest.fixture
def store(tmp_path):
    opened = Store(tmp_path / "team.db")
    yield opened
    opened.close()


def test_rows_count_today_and_the_week_and_follow_the_time(store, drill):
    ana, ben = (Session.of("drill", drill, "fake", "none", name) for name in ("ana", "ben"))
    for number, gap in enumerate((0.9, 0.6, 0.3), 1):
        store.save_rep(ana, number, sample_report(drill, gap), "mic")
    store.save_rep(ben, 1, sample_report(drill, 0.3, skip="email"), "mic")
    reps = store.team_reps()
    assert [r.user for r in store.team_reps(user="ben")] == ["ben"]
    now = reps[-1].saved_at
    earlier = [replace(r, saved_at=now - timedelta(days=3)) if i == 0 else r for i, r in enumerate(reps)]  # Ana's first rep: 3 days ago
    rows = {r.user: r for r in team_rows(earlier, now)}
    assert (rows["ana"].today, rows["ana"].week, rows["ana"].reps) == (2, 3, 3)
    assert rows["ana"].time_first_s > rows["ana"].time_last_s  # getting fluent
    assert rows["ben"].time_first_s is None and rows["ben"].common_problem == "skipped email"
    assert (rows["ana"].common_problem, rows["ana"].problem_reps) == ("speaking pace", 1)
    assert rows["ana"].best_score >= rows["ana"].last_score
    grid, = team_grids(list(rows.values()))
    time = grid.columns.index("time")
    assert grid.rows[0][time].role == "ok" and "→" in grid.rows[0][time].text
    assert grid.rows[1][grid.columns.index("fix first")].text == "1 of 1: skipped email"  # how many of their reps were told it (a manager read one rep's as everyone's)
    assert team_rows(reps, datetime.now().astimezone() + timedelta(days=10))[0].week == 0


def test_two_spellings_of_one_name_in_an_older_history_are_one_person(store, drill):
    """A history from before a name was one person whatever its case may hold "Émile" and "émile"
    as two sessions' names: history and targets read them as one person, the team view as two
    (found by a review). One row, under the name as first written."""
    for name in ("Émile", "Ana"):
        store.save_rep(Session.of("drill", drill, "fake", "none", name), 1, sample_report(drill), "mic")
    reps = store.team_reps()
    older = [reps[0], replace(reps[0], user="émile"), reps[1]]  # as an older history stored them
    assert [(r.user, r.reps) for r in team_rows(older, reps[-1].saved_at)] == [("Émile", 2), ("Ana", 1)]


def test_a_phrase_to_avoid_spelt_two_ways_over_time_is_one_problem(store, drill):
    """The shipped drills once wrote their phrases to avoid in lower case ("so you want to do it"),
    now as said ("So you want to do it?"): a person's reps either side are told of one problem."""
    store.save_rep(Session.of("drill", drill, "fake", "none", "ana"), 1, sample_report(drill), "mic")
    rep = store.team_reps()[0]
    said = ["“so you want to do it”", "skipped email", "“So you want to do it?”"]
    rows = team_rows([replace(rep, fix_first=f) for f in said], rep.saved_at)
    assert rows[0].common_problem == "“So you want to do it?”"  # the newest spelling


def test_team_shows_each_person_from_real_checks(cli, make_rep, drill, tmp_path, monkeypatch):
    monkeypatch.setenv("VOICEDRILL_DB", str(tmp_path / "floor.db"))
    rep, _ = make_rep([Piece(s.example_line, s.id, 0.6) for s in drill.steps], "team-rep")
    monkeypatch.setenv("VOICEDRILL_USER", "Dana Q")
    assert cli("check", rep)[0] == 0
    monkeypatch.delenv("VOICEDRILL_USER")
    assert cli("check", rep, "--user", "eli")[0] == 0
    code, out, _ = cli("team")
    assert code == 0 and "Dana Q" in out and "eli" in out and "2 people, 2 reps" in out
    code, out, _ = cli("team", "--user", "eli")
    assert "Dana Q" not in out and "1 person, 1 rep" in out
    assert cli("export")[1].count("Dana Q") == 1
    code, out, _ = cli("history")
    assert code == 0 and " who " in out and "Dana Q" in out and "eli" in out  # a shared history says whose each rep is
    assert out.count("score  ▅  ") == 2 and out.count("Personal bests, hard-close: ") == 2  # each person's own trend
    assert out.index("Dana Q:") < out.index("eli:")
    code, _, err = cli("team", "--html", tmp_path / "team.html", "--png", tmp_path / "team.png")
    page = (tmp_path / "team.html").read_text()
    assert code == 0 and "Dana Q" in page and "data:image/png;base64" in page
    assert (tmp_path / "team.png").read_bytes()[:4] == b"\x89PNG"
    cli.refused(["check", rep, "--user", ""], "a name of 1 to 64 printable characters")
    cli.refused(["team", "--user", "a\nb"], "a name of 1 to 64 printable characters")


def test_team_reads_an_older_history_as_it_is(tmp_path, drill, history_bytes, cli, monkeypatch):
    import sqlite3

    db = tmp_path / "old.db"
    db.write_bytes(history_bytes)
    with sqlite3.connect(db) as con:  # schema 2: before the headline columns
        for statement in ("ALTER TABLE reps DROP COLUMN timed_s", "ALTER TABLE reps DROP COLUMN fix_first", "PRAGMA user_version = 2"):
            con.execute(statement)
    before = db.read_bytes()
    monkeypatch.setenv("VOICEDRILL_DB", str(db))
    code, out, _ = cli("team")
    assert code == 0 and "29 reps" in out and db.read_bytes() == before  # read, not upgraded


def test_a_rep_not_scored_is_no_last_or_best_score(store, drill):
    """A rep of another drill is asked whether it is the drill meant and not scored: its 0 was the
    person's "last" score and a dip on the team chart (found by a new user)."""
    report = replace(sample_report(drill), score=80)
    session = Session.of("drill", drill, "fake", "none", "ana")
    store.save_rep(session, 1, report, "mic")
    saved = store.save_rep(session, 2, replace(report, score=0, coaching=replace(report.coaching, unlike=True)), "mic")
    assert saved.rep and not saved.pending  # (kept in the history: a review's change had sent it to a pending file)
    rep, other = store.team_reps()
    assert rep.scored and not other.scored
    row, = team_rows([rep, other], rep.saved_at)
    assert (row.last_score, row.best_score, row.reps) == (80, 80, 2)
    row, = team_rows([other], rep.saved_at)
    assert (row.last_score, row.best_score) == (None, None)
    grid, = team_grids([row])
    assert [grid.rows[0][grid.columns.index(c)].text for c in ("last", "best")] == ["—", "—"]



def test_a_row_with_no_name_is_not_linked(store, drill):
    """Reps saved with no name are "(no name)" on the team page; its link opened an empty page (a
    fault attack): no page can pick those reps, so the name is not a link."""
    from voicedrill.app.server import _their_progress
    from voicedrill.webpage import team_body

    store.save_rep(Session.of("drill", drill, "fake", "none", "ana"), 1, sample_report(drill), "mic")
    rep = store.team_reps()[0]
    rows = team_rows([rep, replace(rep, user="")], rep.saved_at)
    page = team_body(rows, [rep], lambda drill: f"/team.png?drill={drill}", person=_their_progress)
    assert "<a href='/history?drill=hard-close&amp;who=ana'>ana</a>" in page and "<td data-label='person'>(no name)</td>" in page


def test_the_team_chart_numbers_reps_in_whole_numbers(store, drill):
    """One rep each: the chart's rep axis read 0.5, 0.6 … 1.5 (seen on the team page)."""
    from voicedrill.plots import team_figure

    for name in ("ana", "carla"):
        store.save_rep(Session.of("drill", drill, "fake", "none", name), 1, sample_report(drill), "mic")
    axis = team_figure(store.team_reps()).axes[-1]
    ticks = [t for t in axis.get_xticks() if axis.get_xlim()[0] <= t <= axis.get_xlim()[1]]
    assert ticks == [1.0]


def test_the_team_chart_gives_each_drill_its_panels_and_each_person_one_colour(store, drill):
    """Two drills shared one axis, a person a colour per drill ("ana · The hard close", "ana · Micro
    commitment": found by a manager): a pair of panels per drill, under its own table on the page,
    and a person one colour in all of them."""
    from voicedrill.drills import load_drill
    from voicedrill.plots import team_figure
    from voicedrill.webpage import team_body

    micro = load_drill("micro-commitment")
    for name, which in (("ana", drill), ("ben", drill), ("ben", micro)):
        store.save_rep(Session.of("drill", which, "fake", "none", name), 1, sample_report(which), "mic")
    reps = store.team_reps()
    figure = team_figure(reps)
    titles = [ax.get_title(loc="left") for ax in figure.axes]
    assert len(figure.axes) == 4 and titles[0].startswith("The hard close sequence: ") and "micro" in titles[2].lower(), titles
    colours = {ax.get_title(loc="left").split(":")[0]: {line.get_label(): line.get_color() for line in ax.get_lines()} for ax in figure.axes[::2]}
    hard, other = colours.values()
    assert set(hard) == {"ana", "ben"} and set(other) == {"ben"} and hard["ben"] == other["ben"] != hard["ana"]
    alone = team_figure([r for r in reps if r.drill == "micro-commitment"])  # the app's chart of one drill: ben as in every chart
    assert len(alone.axes) == 2 and alone.axes[0].get_lines()[0].get_color() == hard["ben"]
    hard_reps = store.team_reps(drill="hard-close")
    again = team_figure([*hard_reps, replace(hard_reps[0], user="ANA")])  # as an older history may spell one person (a review)
    assert [line.get_label() for line in again.axes[0].get_lines()] == ["ana", "ben"] and "2 people" in again.texts[0].get_text()
    page = team_body(team_rows(reps, reps[-1].saved_at), reps, lambda d: f"/team.png?drill={d}")
    assert page.index("/team.png?drill=hard-close") < page.index("Team practice — micro-commitment") < page.index("/team.png?drill=micro-commitment")


def test_a_person_keeps_their_colour_in_every_drills_chart_even_where_names_clash(store, drill):
    """"ben" and "carl" fall on one colour: carl took the next free one beside ben, and the first
    alone, so he was purple in one drill's chart and orange in another's (found by a review). Given
    everyone in the history (Store.people), as the app's charts are, he keeps one."""
    from voicedrill.drills import load_drill
    from voicedrill.plots import people_colours, team_figure

    assert people_colours(["ben", "carl"])["carl"] != people_colours(["carl"])["carl"]  # the clash this is about
    micro = load_drill("micro-commitment")
    for name, which in (("ben", drill), ("carl", drill), ("carl", micro)):
        store.save_rep(Session.of("drill", which, "fake", "none", name), 1, sample_report(which), "mic")
    everyone = store.people()
    assert sorted(everyone) == ["ben", "carl"]
    colour = {}
    for which in ("hard-close", "micro-commitment"):
        lines = team_figure(store.team_reps(drill=which), everyone).axes[0].get_lines()
        colour[which] = {line.get_label(): line.get_color() for line in lines}
    assert colour["hard-close"]["carl"] == colour["micro-commitment"]["carl"] != colour["hard-close"]["ben"]
