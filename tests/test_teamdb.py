"""The history on both stores — an SQLite file and a real PostgreSQL server started for the tests —
with the same tests: saving and reading, numbers never reused, refusals, concurrent writers; then
what only a server has: going away mid-run, `voicedrill sync`, credentials never printed."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest

from voicedrill.errors import VoicedrillError
from voicedrill.history import Session, Store
from voicedrill.report import from_dict, to_dict
from voicedrill.teamdb import WRITE_LOCK, PgStore

from test_history import sample_report


@pytest.fixture(params=["sqlite", "postgres"])
def target(request, tmp_path):
    """Where a history lives: a fresh file, or a fresh database on the test server."""
    if request.param == "sqlite":
        return tmp_path / "history.db"
    return request.getfixturevalue("postgres").new_database()


def open_at(target, **options) -> Store:
    return PgStore(target, **options) if isinstance(target, str) else Store(target, **options)


def test_reps_saved_read_and_deleted_alike(target, drill):
    store = open_at(target)
    ana = Session.of("drill", drill, "fake", "none", "ana")
    saved = [store.save_rep(ana, n, sample_report(drill, 0.3 + n / 10), "mic", [-40.0, -20.5, -90.0]) for n in (1, 2, 3)]
    ben = Session.of("check", drill, "fake", "none", "ben")
    store.save_rep(ben, 1, sample_report(drill), "rep.wav")
    assert [s.rep for s in saved] == [1, 2, 3] and (ana.id, ben.id) == (1, 2)
    reps = store.reps()
    assert [(r.id, r.session, r.number, r.user) for r in reps] == [(1, 1, 1, "ana"), (2, 1, 2, "ana"), (3, 1, 3, "ana"), (4, 2, 1, "ben")]
    assert reps[1].report == from_dict(to_dict(sample_report(drill, 0.5))) and list(reps[0].levels) == [-40.0, -20.5, -90.0]
    assert [r.id for r in store.reps(user="ben")] == [4] and [r.id for r in store.reps(last=2)] == [3, 4]
    assert store.resolve("session", None) == ("session", 2)
    assert store.delete(rep=4) == 1 and store.delete(session=1) == 3 and store.reps() == []
    again = Session.of("drill", drill, "fake", "none", "ana")
    assert store.save_rep(again, 1, sample_report(drill), "mic").rep == 5 and again.id == 3  # numbers are never reused
    store.close()
    reopened = open_at(target)
    assert [r.id for r in reopened.reps()] == [5]
    reopened.close()


def test_every_rep_of_a_person_who_left_is_deleted_and_no_one_elses(target, drill):
    """A manager removes one who left: every rep of theirs, in every session and drill, whatever the
    case they are asked by; their sessions go; nobody else's rep; numbers are not used again."""
    store = open_at(target)
    for name, number in (("Ben", 1), ("ana", 1), ("ben", 2), ("Bena", 1)):
        store.save_rep(Session.of("drill", drill, "fake", "none", name), number, sample_report(drill), "mic")
    assert store.count(user="BEN") == 2 and store.delete(user="BEN") == 2
    assert [(r.id, r.user) for r in store.reps()] == [(2, "ana"), (4, "Bena")]
    assert store.delete(user="ben") == 0 and store.count(user="ben") == 0
    assert store.resolve("session", None, user="ben", anyones=False) == ("session", None)  # their sessions went with them
    with pytest.raises(ValueError):  # naming nobody never deletes everyone
        store.delete()
    assert store.save_rep(Session.of("drill", drill, "fake", "none", "Ben"), 1, sample_report(drill), "mic").rep == 5
    store.close()


def test_one_person_whatever_the_case_of_their_name(target, drill):
    """"ana" after "Ana" is the same person: saved under the first spelling, found by any. So is
    "émile" after "Émile" (two people on this computer, one on the team database: found by an attack)."""
    store = open_at(target)
    for name in ("Ana", "ana", "Bo", "Émile", "émile"):
        store.save_rep(Session.of("drill", drill, "fake", "none", name), 1, sample_report(drill), "mic")
    assert [r.user for r in store.reps()] == ["Ana", "Ana", "Bo", "Émile", "Émile"]
    assert len(store.reps(user="ANA")) == 2 and store.resolve("session", None, user="aNa", anyones=False) == ("session", 2)
    assert len(store.reps(user="ÉMILE")) == 2
    store.close()


def test_a_newer_or_foreign_schema_is_refused_and_left_alone(target, drill):
    open_at(target).close()
    if isinstance(target, str):
        with psycopg.connect(target, autocommit=True) as db:
            db.execute("UPDATE voicedrill_schema SET version = 99")
    else:
        import sqlite3

        with sqlite3.connect(target) as db:
            db.execute("PRAGMA user_version = 99")
    with pytest.raises(VoicedrillError, match="newer voicedrill"):
        open_at(target)


def test_a_rushed_or_jumbled_rep_is_no_time_of_the_teams_trend_and_an_older_history_is_mended(target, drill):
    """The team's time, first → newest, took every complete rep: a rushed first rep (236 wpm) made
    every steadier rep after it look slower (orange), and a rep with its steps out of order counted
    (found by a review). It now takes a rep's time as its progress does (said by the script), and
    not a rushed one's; a slow rep's time is true, and counts. A history saved before keeps no rep's
    old time when it is upgraded, a damaged report's included."""
    from voicedrill.team import team_rows, trend

    rushed = sample_report(drill, word_s=0.22)
    jumbled = replace(sample_report(drill, 0.4), order_ok=False)
    slow, steady = sample_report(drill, 0.9), sample_report(drill, 0.3)
    assert rushed.timed_s < steady.timed_s < slow.timed_s and jumbled.timed_s is None and not slow.pace_in_band
    store = open_at(target)
    ana = Session.of("drill", drill, "fake", "none", "ana")
    for number, report in enumerate((rushed, jumbled, slow, steady, steady), 1):
        store.save_rep(ana, number, report, "mic")
    store.close()
    older = ("ALTER TABLE reps RENAME COLUMN timed_s TO handoff_s", "UPDATE reps SET handoff_s = duration_s",  # schema 3: every complete rep's time
             "UPDATE reps SET report = 'not a report' WHERE id = 5",
             "UPDATE voicedrill_schema SET version = 3" if isinstance(target, str) else "PRAGMA user_version = 3")
    if isinstance(target, str):
        with psycopg.connect(target, autocommit=True) as db:
            for statement in older:
                db.execute(statement)
    else:
        import sqlite3

        with sqlite3.connect(target) as db:
            for statement in older:
                db.execute(statement)
    for write in (False, True):  # read as it is (from the reports: rep 5 left out), then upgraded (rep 5 has no time)
        store = open_at(target, write=write)
        reps = store.team_reps()
        store.close()
        assert [(r.timed_s, r.rushed) for r in reps[:4]] == [(rushed.timed_s, True), (None, False), (slow.timed_s, False), (steady.timed_s, False)]
        assert len(reps) == (5 if write else 4) and (not write or reps[4].timed_s is None)
        row, = team_rows(reps, reps[-1].saved_at)
        assert (row.time_first_s, row.time_last_s) == (slow.timed_s, steady.timed_s)
        assert trend(row).role == "ok"  # came down: green


def test_another_programs_database_is_refused(postgres):
    url = postgres.new_database()
    with psycopg.connect(url, autocommit=True) as db:
        db.execute("CREATE TABLE customers (name text)")
    with pytest.raises(VoicedrillError, match="another program's tables"):
        PgStore(url)
    with psycopg.connect(url) as db:
        tables = {r[0] for r in db.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert tables == {"customers"}


def test_twenty_writers_at_once_lose_nothing(target, drill):
    """The load test: 20 concurrent writers × 50 reps (SQLite: 20 × 10), every rep present exactly once."""
    per_writer = 50 if isinstance(target, str) else 10
    open_at(target).close()
    report = sample_report(drill)

    def writer(n: int) -> list[int]:
        store = open_at(target, timeout_s=60)
        session = Session.of("drill", drill, "fake", "none", f"rep{n}")
        numbers = [store.save_rep(session, k, report, "mic").rep for k in range(1, per_writer + 1)]
        store.close()
        return numbers

    with ThreadPoolExecutor(20) as pool:
        numbers = [n for batch in pool.map(writer, range(20)) for n in batch]
    store = open_at(target)
    reps = store.reps()
    store.close()
    assert None not in numbers and sorted(numbers) == [r.id for r in reps] == list(range(1, 20 * per_writer + 1))
    assert {(r.user, r.number) for r in reps} == {(f"rep{n}", k) for n in range(20) for k in range(1, per_writer + 1)}


def test_the_server_going_away_mid_run_loses_nothing(postgres, drill, monkeypatch, tmp_path):
    url = postgres.new_database()
    store = PgStore(url)
    session = Session.of("drill", drill, "fake", "none", "ana")
    assert store.save_rep(session, 1, sample_report(drill), "mic").rep == 1
    postgres.stop()
    try:
        waiting = [store.save_rep(session, n, sample_report(drill), "mic") for n in (2, 3)]
        assert all(w.rep is None and w.pending.is_file() for w in waiting)
        assert "cannot be reached" in waiting[0].waiting and "voicedrill@127.0.0.1" in waiting[0].waiting
        store.close()
        with pytest.raises(VoicedrillError, match="cannot be reached"):
            PgStore(url, write=False)  # still down: nothing to read, and the reps keep waiting
        offline = PgStore(url, offline=True)  # opened to practise: this rep waits too
        assert offline.save_rep(session, 4, sample_report(drill), "mic").pending.is_file() and offline.reps() == []
        offline.close()
        assert all(w.pending.is_file() for w in waiting)
    finally:
        postgres.start()
    back = PgStore(url)
    assert back.notes == ["Now in the history: 3 reps kept earlier in pending files"]
    assert [(r.session, r.number) for r in back.reps()] == [(1, 1), (1, 2), (1, 3), (1, 4)]
    assert not any(w.pending.exists() for w in waiting)
    back.close()


class Relay:
    """A loopback relay to the test server that can go quiet: it keeps every connection and passes
    nothing on, either way (a server that stops answering, or a network that drops without a word,
    as a laptop sees it). Stopping the server's processes is no such test: the kernel wakes a
    stopped process group when one of its backends exits."""

    def __init__(self, postgres):
        self.port = postgres.port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.quiet = threading.Event()
        self.held = threading.Event()  # something was sent while quiet (a statement the server never sees)
        self.trap: bytes | None = None  # goes quiet as a client sends this
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, direct: str) -> str:
        """The same database, through the relay."""
        return direct.replace(f":{self.port}/", f":{self.listener.getsockname()[1]}/")

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:  # closed
                return
            upstream = socket.create_connection(("127.0.0.1", self.port))
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pass, args=(source, target), daemon=True).start()

    def _pass(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                if self.trap is not None and self.trap in data:
                    self.quiet.set()
                if self.quiet.is_set():
                    self.held.set()
                while self.quiet.is_set():
                    time.sleep(0.02)
                target.sendall(data)
        except OSError:
            pass
        finally:
            target.close()


@pytest.fixture
def relay(postgres):
    relay = Relay(postgres)
    yield relay
    relay.quiet.clear()
    relay.listener.close()


@pytest.fixture
def quick_to_give_up(monkeypatch):
    from voicedrill import teamdb

    monkeypatch.setattr(teamdb, "ANSWER_S", 1.0)
    monkeypatch.setattr(teamdb, "READ_ANSWER_S", 1.0)


def test_a_server_that_stops_answering_mid_save_keeps_the_rep_waiting_not_the_rep(postgres, relay, drill, quick_to_give_up):
    """A server that stops answering held a check, a run or the app for as long as it lasted, deaf
    to SIGTERM (found by a fault attack). A statement it does not answer is given up: the rep
    waits in a pending file, and goes in once the server answers again."""
    url = postgres.new_database()
    store = PgStore(relay.url(url), timeout_s=1.0)
    session = Session.of("drill", drill, "fake", "none", "ana")
    assert store.save_rep(session, 1, sample_report(drill), "mic").rep == 1
    relay.quiet.set()
    started = time.monotonic()
    with pytest.raises(VoicedrillError, match=r"cannot be reached \(it did not answer for 1 s\)"):  # not psycopg's "closed unexpectedly"
        store.reps()  # a read given up too (a run reading its targets goes on without them: practice.with_targets)
    waiting = store.save_rep(session, 2, sample_report(drill), "mic")
    assert waiting.rep is None and waiting.pending.is_file() and "cannot be reached" in waiting.waiting
    assert time.monotonic() - started < 30
    store.close()
    relay.quiet.clear()
    back = PgStore(relay.url(url))  # (reps wait for the server as they reached it: here, through the relay)
    assert [(r.session, r.number) for r in back.reps()] == [(1, 1), (1, 2)] and not waiting.pending.exists()
    back.close()


def test_a_hurried_store_gives_up_a_statement_under_way_and_the_next_in_seconds(postgres, relay, drill):
    """The app stopping, or Ctrl-C while a rep is kept, hurries the store from another thread: a
    read the silent server holds is given up in seconds, not READ_ANSWER_S, and so is a save after it."""
    url = postgres.new_database()
    store = PgStore(relay.url(url), timeout_s=1.0)
    relay.quiet.set()
    with ThreadPoolExecutor(1) as pool:
        reading = pool.submit(store.reps)
        time.sleep(1.0)
        asked = time.monotonic()
        store.hurry()
        time.sleep(1.5)
        store.hurry()  # Ctrl-C pressed again put the stop off 2 s each time (found by a fault attack): the first ask counts
        with pytest.raises(VoicedrillError, match="cannot be reached"):
            reading.result(timeout=30)
        assert time.monotonic() - asked < 3.2
    waiting = store.save_rep(Session.of("drill", drill, "fake", "none", "ana"), 1, sample_report(drill), "mic")
    assert waiting.rep is None and waiting.pending.is_file()
    assert time.monotonic() - asked < 8
    store.close()
    relay.quiet.clear()
    back = PgStore(relay.url(url))  # the rep that waited goes in
    assert len(back.reps()) == 1 and not waiting.pending.exists()
    back.close()


def test_ctrl_c_while_a_silent_server_reads_a_checks_targets_stops_in_seconds(postgres, relay, pieces, make_rep):
    """Ctrl-C while a server that stopped answering read the rep's targets: check held the stop
    (the rep is kept first) for the read's full minute (found by a fault attack). The history is
    hurried: the rep waits in a pending file and check stops within seconds."""
    url = postgres.new_database()
    PgStore(url).close()
    path, _ = make_rep(pieces, "clean")
    run = subprocess.Popen([sys.executable, "-u", "-m", "voicedrill.cli", "check", str(path), "--engine", "pocketsphinx"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "VOICEDRILL_DB": relay.url(url)})
    try:
        assert run.stderr.readline().startswith("speech recogniser:")  # the history is open
        relay.quiet.set()
        assert relay.held.wait(120)  # transcribed: the targets' read went out, and no answer comes
        time.sleep(0.5)
        asked = time.monotonic()
        run.send_signal(signal.SIGINT)
        out, err = run.communicate(timeout=40)
    finally:
        run.kill()
    assert time.monotonic() - asked < 4.5, err  # (2 s given the read, and no new connection asked for)
    assert run.returncode == 130 and "Score " in out and "cannot be reached" in err, (out, err)
    relay.quiet.clear()
    back = PgStore(relay.url(url))  # the rep that waited goes in
    assert len(back.reps()) == 1
    back.close()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_while_a_silent_server_reads_the_history_ends_at_once_in_one_line(postgres, relay, drill, signum):
    """`history` on a server that stopped answering took 10 s to stop on Ctrl-C, and printed
    psycopg's "query cancellation failed" and "closing connection" (found by a fault attack): its
    statement is cut, no cancel is sent to a server that will not hear it."""
    url = postgres.new_database()
    PgStore(url).close()
    relay.trap = b"FROM reps r JOIN sessions s"  # the history's read goes unanswered
    run = subprocess.Popen([sys.executable, "-u", "-m", "voicedrill.cli", "history"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, env={**os.environ, "VOICEDRILL_DB": relay.url(url)})
    try:
        assert relay.held.wait(60)
        time.sleep(0.3)
        asked = time.monotonic()
        run.send_signal(signum)
        out, err = run.communicate(timeout=30)
    finally:
        run.kill()
    assert time.monotonic() - asked < 2.5, err
    assert run.returncode == 128 + signum and err == "voicedrill: interrupted\n", err


def test_a_server_that_stops_answering_as_a_run_opens_it_keeps_the_runs_reps_waiting(postgres, relay, drill, quick_to_give_up, monkeypatch):
    """Let in, then no answer while the schema is checked: check and drill said "cannot be
    reached" and stopped, where practice goes on (found by a review)."""
    url = postgres.new_database()
    PgStore(url).close()
    checked = PgStore._migrate
    monkeypatch.setattr(PgStore, "_migrate", lambda store: (relay.quiet.set(), checked(store)))
    store = PgStore(relay.url(url), timeout_s=1.0, offline=True)
    assert "cannot be reached" in store.problem
    waiting = store.save_rep(Session.of("check", drill, "fake", "none", "ana"), 1, sample_report(drill), "rep.wav")
    assert waiting.rep is None and waiting.pending.is_file()
    store.close()
    relay.quiet.clear()
    monkeypatch.undo()
    back = PgStore(relay.url(url))
    assert len(back.reps()) == 1
    back.close()


def test_a_name_with_a_nul_goes_into_a_team_database(postgres, drill):
    """PostgreSQL's text holds no NUL: a rep named with one (uploaded before the app cleaned names,
    or synced from a laptop's history) waited for good (found by a review)."""
    store = PgStore(postgres.new_database())
    assert store.save_rep(Session.of("check", drill, "fake", "none", "ana"), 1, sample_report(drill), "a\x00b.wav").rep == 1
    assert [r.source for r in store.reps()] == ["a?b.wav"]
    store.close()


def test_reps_that_waited_go_in_when_the_server_answers_again_mid_run(postgres, drill, monkeypatch):
    """A run goes on while the server is away; at the first rep after it is back, the reps that
    waited go in first, in order, in the run's session, and the run's screen is told so."""
    from types import SimpleNamespace

    from voicedrill import teamdb
    from voicedrill.practice import DrillRun, Keeper

    monkeypatch.setattr(teamdb, "RETRY_S", 0)
    url = postgres.new_database()
    keeper = Keeper(PgStore(url), Session.of("drill", drill, "fake", "none", "ana"))
    rep = SimpleNamespace(audio=[], tracker=SimpleNamespace(levels=lambda step: [-30.0]))
    run = DrillRun()
    run.kept.append(keeper.keep(1, sample_report(drill), rep, "mic"))
    postgres.stop()
    try:
        run.kept += [keeper.keep(n, sample_report(drill), rep, "mic") for n in (2, 3)]
        waiting = run.pending
        assert len(waiting) == 2 and all(p.is_file() for p in waiting) and run.numbers == [1, None, None]
        assert "cannot be reached" in run.kept[1].problems[0] and "once the team database answers again" in run.kept[1].problems[0]
        assert run.kept[2].problems == []  # told once
    finally:
        postgres.start()
    assert [r.id for r in keeper.store.reps()] == [1]  # a read finds the server back (the rep's targets are read first)…
    run.kept.append(keeper.keep(4, sample_report(drill), rep, "mic"))  # …and the save sends the waiting reps before its own
    assert run.kept[3].notes == ["The history answers again. Now in it: 2 reps kept on this computer meanwhile."]
    assert keeper.store.notes == []  # said once, by the run
    assert run.pending == [] and not any(p.exists() for p in waiting)
    assert run.numbers == [1, 2, 3, 4] and run.saved == ["rep 1", "rep 2", "rep 3", "rep 4"]
    reps = keeper.store.reps()
    assert [(r.id, r.session, r.number) for r in reps] == [(1, 1, 1), (2, 1, 2), (3, 1, 3), (4, 1, 4)]
    keeper.store.close()


def test_the_apps_run_table_numbers_waiting_reps_once_they_go_in(postgres, drill, monkeypatch):
    """In the app, a rep that waits for the server is listed as waiting, then by its history number
    from the scorecard after the server is back (no "rep 0", no reload needed)."""
    import re
    import threading
    from types import SimpleNamespace

    from voicedrill import teamdb
    from voicedrill.app.runs import WebScreen
    from voicedrill.practice import Keeper

    monkeypatch.setattr(teamdb, "RETRY_S", 0)
    url = postgres.new_database()
    earlier = Keeper(PgStore(url), Session.of("drill", drill, "fake", "none", "ana"))
    rep = SimpleNamespace(audio=[], tracker=SimpleNamespace(levels=lambda step: [-30.0]))
    earlier.keep(1, sample_report(drill), rep, "mic")  # someone's rep 1: this run's numbers start at 2
    earlier.store.close()
    keeper = Keeper(PgStore(url), Session.of("drill", drill, "fake", "none", "ana"))
    said: list[dict] = []
    screen = WebScreen(SimpleNamespace(publish=said.append), drill, 3, keeper, threading.Event())

    def listed() -> list[str]:
        return re.findall(r"<a href='#rep-(\w+)'>", said[-1]["run_html"])

    screen.scored(1, sample_report(drill), keeper.keep(1, sample_report(drill), rep, "mic"), "")
    postgres.stop()
    try:
        screen.scored(2, sample_report(drill), keeper.keep(2, sample_report(drill), rep, "mic"), "")
        assert said[-1]["saved"] == "waiting on this computer" and listed() == ["2", "waiting"]
    finally:
        postgres.start()
    keeper.store.reps()  # the server is found back
    screen.scored(3, sample_report(drill), keeper.keep(3, sample_report(drill), rep, "mic"), "")
    assert listed() == ["2", "3", "4"] and said[-1]["id"] == 4
    keeper.store.close()


def test_reps_wait_for_the_database_however_its_url_is_written(postgres, drill):
    """Kept while the server was away under one spelling of the URL, found under another: the
    other scheme name, a password added, the default port spelled out."""
    url = postgres.new_database()
    PgStore(url).close()
    postgres.stop()
    try:
        offline = PgStore(url, offline=True)
        assert offline.save_rep(Session.of("drill", drill, "fake", "none", "ana"), 1, sample_report(drill), "mic").pending.is_file()
        offline.close()
    finally:
        postgres.start()
    other = url.replace("postgresql://voicedrill@", "postgres://voicedrill:secret@")
    back = PgStore(other)
    assert back.notes == ["Now in the history: 1 rep kept earlier in pending files"] and len(back.reps()) == 1
    back.close()


@pytest.mark.parametrize("message, away", [
    ("connection failed: connection to server at \"127.0.0.1\", port 5 failed: Connection refused", True),
    ("failed to resolve host 'teamdb.example.com': [Errno -3] Temporary failure in name resolution", True),
    ("connection timeout expired", True),
    ("failed to resolve host 'temdb.example.com': [Errno -2] Name or service not known", False),
    ("connection failed: connection to server at \"127.0.0.1\", port 5 failed: fe_sendauth: no password supplied", False),
    ("connection failed: connection to server at \"127.0.0.1\", port 5 failed: FATAL:  password authentication failed for user \"ana\"", False),
    ("connection failed: connection to server at \"127.0.0.1\", port 5 failed: FATAL:  database \"team\" does not exist", False),
])
def test_only_a_server_out_of_reach_keeps_reps_waiting(message, away):
    """No network (the name cannot be looked up now) or no server: practice goes on and reps wait. A
    missing or wrong password, a misspelt server name or no such database: said at once — waiting
    would never end."""
    from voicedrill.teamdb import unreachable

    assert unreachable(psycopg.OperationalError(message)) is away


def test_sync_sends_local_reps_once(postgres, drill, cli, tmp_path, monkeypatch):
    local = tmp_path / "laptop.db"
    store = Store(local)
    for user in ("ana", "ben"):
        session = Session.of("drill", drill, "fake", "none", user)
        for n in (1, 2):
            store.save_rep(session, n, sample_report(drill), "mic", [-30.0])
    store.close()
    monkeypatch.setenv("VOICEDRILL_DB", str(local))
    url = postgres.new_database()
    code, out, _ = cli("sync", "--to", url)
    assert code == 0 and out.startswith("4 reps sent")
    code, out, _ = cli("sync", "--to", url)
    assert code == 0 and out.startswith("0 reps sent") and "4 were there already" in out
    code, out, _ = cli("--db", url, "team")
    assert code == 0 and "ana" in out and "ben" in out and "2 people, 4 reps" in out
    team = PgStore(url)
    assert sorted((r.user, r.number) for r in team.reps()) == [("ana", 1), ("ana", 2), ("ben", 1), ("ben", 2)]
    team.close()


def test_credentials_are_never_printed(postgres, cli, drill, make_rep):
    secret = postgres.url("nosuchdb", password="s3cret-pw")
    err = cli.refused(["--db", secret, "history"], "team database")
    assert "s3cret" not in err and "voicedrill:***@127.0.0.1" in err
    err = cli.refused(["sync", "--to", secret.replace(str(postgres.port), "1")], "cannot be reached")
    assert "s3cret" not in err
    cli.refused(["sync", "--to", "/tmp/x.db"], "needs a team database URL")


def test_writers_wait_for_each_other_and_give_up_in_words(postgres, drill):
    url = postgres.new_database()
    PgStore(url).close()
    holder = psycopg.connect(url)
    holder.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))  # another writer mid-save
    try:
        with pytest.raises(VoicedrillError, match="busy"):
            PgStore(url, timeout_s=0.5)
    finally:
        holder.rollback()
        holder.close()
    PgStore(url, timeout_s=0.5).close()  # free again


ROLES = """
CREATE ROLE reps NOLOGIN;
GRANT SELECT, INSERT ON sessions, reps TO reps;
GRANT SELECT, INSERT, UPDATE ON issued TO reps;
GRANT SELECT ON voicedrill_schema TO reps;
CREATE ROLE ana LOGIN IN ROLE reps;
"""


def test_the_documented_roles_let_reps_save_and_read_but_not_delete(postgres, drill):
    url = postgres.new_database()
    PgStore(url).close()  # the manager's first open creates the tables
    with psycopg.connect(url, autocommit=True) as db:
        for statement in ROLES.strip().split(";\n"):
            db.execute(statement.strip().rstrip(";"))
    ana = PgStore(url.replace("voicedrill@", "ana@"))
    try:
        assert ana.save_rep(Session.of("drill", drill, "fake", "none", "ana"), 1, sample_report(drill), "mic").rep == 1
        assert [r.user for r in ana.reps()] == ["ana"]
        with pytest.raises(VoicedrillError, match="your database role may not do this"):
            ana.delete(rep=1)
    finally:
        ana.close()
    manager = PgStore(url)
    assert manager.delete(rep=1) == 1
    manager.close()
    PgStore(url.replace("voicedrill@", "ana@"), offline=True).close()  # opened to practise: the reps role may save


def test_the_app_refuses_a_delete_the_role_may_not_do_with_403(postgres, drill, monkeypatch):
    """A rep's delete refused by a role that may not delete was a 503 page, as for a server gone
    (found by a fault attack): it is the user's role, not a fault, so 403, said in words."""
    from starlette.testclient import TestClient

    from voicedrill.app.runs import AppConfig
    from voicedrill.app.server import App, asgi

    url = postgres.new_database()
    PgStore(url).close()
    with psycopg.connect(url, autocommit=True) as db:  # (roles are the server's: one of this test's own)
        db.execute("CREATE ROLE ben LOGIN")
        db.execute("GRANT SELECT, INSERT ON sessions, reps TO ben")
        db.execute("GRANT SELECT, INSERT, UPDATE ON issued TO ben")
        db.execute("GRANT SELECT ON voicedrill_schema TO ben")
    ben = PgStore(url.replace("voicedrill@", "ben@"))
    ben.save_rep(Session.of("drill", drill, "fake", "none", "ben"), 1, sample_report(drill), "mic")
    ben.close()
    monkeypatch.setenv("VOICEDRILL_DB", url.replace("voicedrill@", "ben@"))
    client = TestClient(asgi(App(AppConfig([], speech=False))), base_url="http://127.0.0.1:8000")
    refused = client.post("/rep/1/delete", follow_redirects=False)
    assert refused.status_code == 403 and "your database role may not do this" in refused.text and "ask your manager" in refused.text
    assert client.get("/rep/1").status_code == 200  # still there


def test_a_page_waiting_on_a_silent_server_is_answered_in_words_as_the_app_stops(postgres, relay, monkeypatch):
    """Stopping the app while a page read a team server that stopped answering cut the page after
    the server's graceful second: an HTTP 500 and a 45-line traceback (found by a fault attack).
    Its history is hurried: the page says the server cannot be reached."""
    import asyncio

    from starlette.testclient import TestClient

    from voicedrill.app.runs import AppConfig
    from voicedrill.app.server import App, asgi

    url = postgres.new_database()
    PgStore(url).close()
    monkeypatch.setenv("VOICEDRILL_DB", relay.url(url))
    app = App(AppConfig([], speech=False))
    client = TestClient(asgi(app), base_url="http://127.0.0.1:8000")
    relay.trap = b"FROM reps r JOIN sessions s"  # the page's read goes unanswered
    with ThreadPoolExecutor(1) as pool:
        page = pool.submit(client.get, "/history")
        assert relay.held.wait(30)
        started = time.monotonic()
        asyncio.run(app.wind_down_pages(5.0))
        answer = page.result(timeout=30)
    assert time.monotonic() - started < 4
    assert answer.status_code == 503 and "cannot be reached" in answer.text and "Traceback" not in answer.text


def test_a_role_that_may_only_read_is_told_before_any_work(postgres, drill, cli, make_rep, monkeypatch):
    """A read-only role's rep was transcribed, then kept in a pending file "until the server answers
    again", for good (found by a fault attack): refused in a line first, and it may still read."""
    from voicedrill.synth import Piece

    url = postgres.new_database()
    PgStore(url).close()
    with psycopg.connect(url, autocommit=True) as db:
        db.execute("CREATE ROLE viewer LOGIN")
        db.execute("GRANT SELECT ON sessions, reps, issued, voicedrill_schema TO viewer")
    viewer = url.replace("voicedrill@", "viewer@")
    wav, _ = make_rep([Piece(s.line, s.id, 0.4) for s in drill.steps[:2]], "viewer")
    err = cli.refused(["--db", viewer, "check", wav], "your database role may not save reps (it lacks INSERT on sessions, INSERT on reps, INSERT on issued, UPDATE on issued)")
    assert "--no-save" in err
    cli.refused(["sync", "--to", viewer], "may not save reps")
    PgStore(viewer, write=False).close()
    from starlette.testclient import TestClient

    from voicedrill.app.runs import AppConfig
    from voicedrill.app.server import App, asgi
    from voicedrill.audio import probe

    app = App(AppConfig([probe(Path(wav))], speed=0, speech=False))
    monkeypatch.setenv("VOICEDRILL_DB", viewer)
    started = TestClient(asgi(app), base_url="http://127.0.0.1:8000").post("/api/start", data={"drill": "hard-close"})
    assert started.status_code == 403 and "may not save reps" in started.json()["error"]  # said to Start (it was 202, then a line on the stream)
    app.practice.thread.join(10)  # (it ends just after saying why)
    assert not app.practice.running() and not app.practice.busy()
    assert not any((Path(os.environ["XDG_DATA_HOME"]) / "voicedrill" / "pending").rglob("*.json"))  # nothing transcribed and kept


def test_a_role_that_may_only_read_is_told_when_the_server_is_back(postgres, drill, monkeypatch):
    """Opened to practise while the server was away, a read-only role was never asked whether it
    may save once the server answered (found by a review)."""
    from voicedrill import teamdb

    url = postgres.new_database()
    PgStore(url).close()
    with psycopg.connect(url, autocommit=True) as db:
        db.execute("CREATE ROLE looker LOGIN")
        db.execute("GRANT SELECT ON sessions, reps, issued, voicedrill_schema TO looker")
    postgres.stop()
    try:
        store = PgStore(url.replace("voicedrill@", "looker@"), offline=True)
    finally:
        postgres.start()
    monkeypatch.setattr(teamdb, "RETRY_S", 0)
    waiting = store.save_rep(Session.of("check", drill, "fake", "none", "ana"), 1, sample_report(drill), "rep.wav")
    assert waiting.rep is None and waiting.pending.is_file() and "may not save reps" in store.problem
    store.close()


def test_practice_goes_on_while_the_server_is_away(postgres, make_rep, drill, cli, monkeypatch):
    from voicedrill.synth import Piece

    url = postgres.new_database()
    PgStore(url).close()
    rep, _ = make_rep([Piece(s.example_line, s.id, 0.6) for s in drill.steps], "team-offline")
    monkeypatch.setenv("VOICEDRILL_DB", url)
    postgres.stop()
    try:
        code, out, err = cli("check", rep)
        assert code == 0 and "Score" in out and "cannot be reached" in err and "goes into the history once the team database answers again" in err
        cli.refused(["team"], "cannot be reached")  # reading needs the server
    finally:
        postgres.start()
    code, out, err = cli("team")
    assert code == 0 and "1 person, 1 rep" in out and "Now in the history: 1 rep kept earlier in pending files" in err


def test_a_rep_is_kept_when_the_server_goes_away_before_its_targets_are_read(postgres, drill):
    from voicedrill.practice import with_targets

    url = postgres.new_database()
    store = PgStore(url)
    session = Session.of("drill", drill, "fake", "none", "ana")
    postgres.stop()
    try:
        report = with_targets(store, drill, sample_report(drill), "ana")  # reading the past fails…
        assert report.targets is None and "cannot be reached" in store.problem
        assert store.save_rep(session, 1, report, "mic").pending.is_file()  # …and the rep waits, never lost
        store.close()
    finally:
        postgres.start()
    back = PgStore(url)
    assert len(back.reps()) == 1
    back.close()


def test_reps_from_before_uids_are_synced_once(postgres, drill, cli, tmp_path, monkeypatch):
    import sqlite3

    local = tmp_path / "old.db"
    store = Store(local)
    for n in (1, 2):
        store.save_rep(Session.of("drill", drill, "fake", "none", "ana"), n, sample_report(drill), "mic")
    store.close()
    with sqlite3.connect(local) as db:  # as a schema-1 history upgraded to 2 left them: no uids
        db.execute("UPDATE reps SET uid = NULL")
        db.execute("UPDATE sessions SET uid = NULL")
    monkeypatch.setenv("VOICEDRILL_DB", str(local))
    url = postgres.new_database()
    assert cli("sync", "--to", url)[1].startswith("2 reps sent")
    assert cli("sync", "--to", url)[1].startswith("0 reps sent")


def test_names_are_checked_and_shown_safely(postgres, drill, cli, monkeypatch, make_rep):
    from voicedrill.synth import Piece

    rep, _ = make_rep([Piece(s.example_line, s.id, 0.6) for s in drill.steps], "team-offline")
    monkeypatch.setenv("VOICEDRILL_USER", "eve\x1b[2J\x1b[31mRED")
    cli.refused(["check", rep], "$VOICEDRILL_USER: a name of 1 to 64 printable characters")
    monkeypatch.delenv("VOICEDRILL_USER")
    url = postgres.new_database()
    store = PgStore(url)
    store.save_rep(Session.of("drill", drill, "fake", "none", "ok"), 1, sample_report(drill), "mic")
    store.close()
    with psycopg.connect(url, autocommit=True) as db:  # a database role can write any name
        db.execute("UPDATE sessions SET \"user\" = %s", ("eve\x1b[2J\u202e" + "x" * 80,))
    code, out, _ = cli("--db", url, "team")
    assert code == 0 and "\x1b" not in out and "\u202e" not in out and "eve?[2J?" in out
    assert cli("--db", url, "history")[0] == 0


def test_passwords_stay_hidden_in_every_spelling(postgres, cli, tmp_path):
    port = postgres.port
    err = cli.refused(["--db", f"postgresql://voicedrill@127.0.0.1:{port}/nosuchdb?password=sekr3t", "history"], "nosuchdb")
    assert "sekr3t" not in err and "password=***" in err
    cli.refused(["--db", f"postgresql://voicedrill:sekr@3t@127.0.0.1:{port}/x", "history"], "must be written %40")
    err = cli.refused(["--db", "postgresql://voicedrill:sekr%ZZ3t@127.0.0.1/x", "history"], "team database")
    assert "sekr" not in err
    err = cli.refused(["--db", "host=127.0.0.1 password=sekr3t dbname=team", "history"], "key=value connection string")
    assert "sekr3t" not in err and not list(tmp_path.iterdir())
    cli.refused(["--db", "postgresql://u:pw@127.0.0.1:badport/team", "history"], "team database")
    cli.refused(["--db", "postgresql://voicedrill@127.0.0.1:1/x", "history", "--delete", "last"], "cannot be reached")


def test_a_lasting_connection_problem_is_refused_not_kept_waiting(postgres, cli, drill, make_rep):
    from voicedrill.synth import Piece

    rep, _ = make_rep([Piece(s.example_line, s.id, 0.6) for s in drill.steps], "team-offline")
    err = cli.refused(["--db", postgres.url("nosuchdb"), "check", rep], "does not exist")
    assert "cannot be reached" not in err


def test_reading_changes_nothing_in_a_database(postgres, cli):
    url = postgres.new_database()
    with psycopg.connect(url, autocommit=True) as db:
        db.execute("CREATE VIEW their_report AS SELECT 1 AS n")
    with pytest.raises(VoicedrillError, match="another program's tables"):
        PgStore(url)  # a view (or a sequence, a type…) is another program's too
    empty = postgres.new_database()
    code, out, _ = cli("--db", empty, "history")
    assert code == 0 and "No reps saved yet" in out
    with psycopg.connect(empty) as db:
        assert db.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0] == 0


def test_last_is_your_own_newest_session_on_a_shared_history(target, drill):
    """On a history several people share, 'last' is the asker's own newest session (anyone's
    newest when they have none yet)."""
    store = open_at(target)
    for user in ("ana", "ben"):
        store.save_rep(Session.of("drill", drill, "fake", "none", user), 1, sample_report(drill), "mic")
    assert store.resolve("session", None, user="ana") == ("session", 1)
    assert store.resolve("session", None, user="cara") == ("session", 2)
    assert store.resolve("session", None, user="cara", anyones=False) == ("session", None)  # (history --delete last)
    store.close()


def test_a_store_opened_while_the_server_was_away_checks_the_schema_when_it_is_back(postgres, drill, monkeypatch):
    """Opened offline, the store has not seen the database: when the server answers, its tables are
    made (a new database) or refused (another program's) before any rep goes in."""
    from voicedrill import teamdb

    monkeypatch.setattr(teamdb, "RETRY_S", 0)
    new, foreign = postgres.new_database(), postgres.new_database()
    with psycopg.connect(foreign, autocommit=True) as db:
        db.execute("CREATE TABLE customers (name text)")
    postgres.stop()
    try:
        stores = [PgStore(url, offline=True) for url in (new, foreign)]
        session = [Session.of("drill", drill, "fake", "none", "ana") for _ in stores]
        assert all(s.save_rep(x, 1, sample_report(drill), "mic").pending for s, x in zip(stores, session))
    finally:
        postgres.start()
    fresh, other = stores
    assert fresh.save_rep(session[0], 2, sample_report(drill), "mic").rep == 2  # rep 1 went in first
    assert [(r.id, r.number) for r in fresh.reps()] == [(1, 1), (2, 2)]
    refused = other.save_rep(session[1], 2, sample_report(drill), "mic")
    assert refused.pending and "another program's tables" in refused.waiting
    with psycopg.connect(foreign) as db:
        assert {r[0] for r in db.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")} == {"customers"}
    for store in stores:
        store.close()
