"""Faults and hostile inputs (issue: nothing lost, nothing corrupted). Generated classes, not single
bytes: damaged pages, reused numbers, histories locked past the timeout or full, sessions deleted
mid-run, kills during imports, bad destinations, drills, audio and arguments. Every case runs under
a time limit and ends in one line and exit 2 (or the work done): no traceback, no hang, no rep
lost, no byte changed in a file that was refused."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from voicedrill import history, pending
from voicedrill.audio import RATE
from voicedrill.history import DB_ENV, Session, Store
from voicedrill.synth import speak, write_wav

pytestmark = pytest.mark.usefixtures("shared_engine")
LIMIT_S = 60  # no single case may take longer: a hang fails instead of stalling the suite


@pytest.fixture(autouse=True)
def time_limit():
    def hang(signum, frame):
        raise TimeoutError(f"no answer within {LIMIT_S} s: a hang")

    previous = signal.signal(signal.SIGALRM, hang)
    signal.alarm(LIMIT_S)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="module")
def line_wav(tmp_path_factory) -> Path:
    """One spoken line: the shortest rep that still exercises the whole pipeline."""
    path = tmp_path_factory.mktemp("line") / "line.wav"
    write_wav(path, (speak("And what's a good phone number for you?") * 32767).astype(np.int16))
    return path


@pytest.fixture
def db(tmp_path, monkeypatch) -> Path:
    """A private history (and data and cache folders) for one case."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = tmp_path / "history" / "history.db"
    path.parent.mkdir()
    monkeypatch.setenv(DB_ENV, str(path))
    return path


@pytest.fixture
def full_disk(tmp_path):
    """A 1 MB tmpfs: fill it to make the disk full (tests run as root)."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=True)


def fill(folder: Path) -> Path:
    """Fill the disk under `folder` to the last byte; returns the filler (delete it to free space)."""
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError:
            pass
    return filler


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def ids(path: Path, table: str = "reps", column: str = "id") -> list:
    with sqlite3.connect(path) as con:
        return [row[0] for row in con.execute(f"SELECT {column} FROM {table} ORDER BY id")]


def sound(path: Path) -> bool:
    with sqlite3.connect(path) as con:
        return con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


# --- a damaged history is refused at once and never changed ---------------------------------

PAGES = (2, 3, 5, 9, 10, 11, 26, 27, 52, 53)  # table roots, indexes, rows, overflow chains, the end
FILLS = {"zeros": lambda page: bytes(4096), "ones": lambda page: b"\xff" * 4096,
         "noise": lambda page: np.random.default_rng(page).integers(0, 256, 4096, dtype=np.uint8).tobytes()}
COMMANDS = {"check": ["check", "{wav}"], "drill": ["drill", "--input", "{wav}", "--speed", "0", "--no-speech"],
            "delete": ["history", "--delete", "1"], "history": ["history"], "export": ["export"], "report": ["report", "1"]}


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("fill_kind", sorted(FILLS))
@pytest.mark.parametrize("page", PAGES)
def test_damaged_page_is_refused_before_any_work(db, cli, history_bytes, line_wav, page, fill_kind, command):
    data = bytearray(history_bytes)
    data[(page - 1) * 4096: page * 4096] = FILLS[fill_kind](page)
    db.write_bytes(bytes(data))
    before = digest(db)
    err = cli.refused([a.format(wav=line_wav) for a in COMMANDS[command]], "move it aside", db)
    assert "speech recogniser:" not in err  # refused before the model loaded or anything was transcribed
    assert digest(db) == before and sorted(p.name for p in db.parent.iterdir()) == ["history.db"]


# --- numbers that name reps and sessions are never handed out twice --------------------------

@pytest.mark.parametrize("seed", range(12))
def test_numbers_are_never_reused(db, drill, history_bytes, seed):
    from test_history import sample_report

    db.write_bytes(history_bytes)
    rng = random.Random(seed)
    store = Store(db)
    issued_reps, issued_sessions = set(ids(db)), set(ids(db, "sessions"))
    session = Session.of("drill", drill, "fake", "none")
    report = sample_report(drill)
    for number in range(1, 40):
        action = rng.choice(["save", "save", "new session", "delete newest rep", "delete rep", "delete newest session", "reopen"])
        live = ids(db)
        if action == "new session":
            session = Session.of("drill", drill, "fake", "none")
        elif action == "delete newest rep" and live:
            store.delete(rep=max(live))
        elif action == "delete rep" and live:
            store.delete(rep=rng.choice(live))
        elif action == "delete newest session" and live:
            store.delete(session=max(ids(db, "reps", "session_id")))
        elif action == "reopen":
            store.close()
            store = Store(db)
        else:
            saved = store.save_rep(session, number, report, "mic")
            if saved.rep is None:  # its session was deleted above: the rep waits, and comes in on reopen
                assert "deleted" in saved.problem and saved.pending.is_file()
                store.close()
                store = Store(db)
                issued_reps |= set(ids(db))
                session = Session.of("drill", drill, "fake", "none")
                continue
            assert saved.rep > max(issued_reps, default=0)
            issued_reps.add(saved.rep)
            if session.id not in issued_sessions:
                assert session.id > max(issued_sessions, default=0)
                issued_sessions.add(session.id)
    store.close()
    assert len(ids(db, "reps", "uid")) == len(set(ids(db, "reps", "uid"))) and sound(db)


def test_a_version_1_history_is_upgraded_and_keeps_counting_past_its_newest(db, drill, history_bytes):
    from test_history import sample_report

    db.write_bytes(history_bytes)
    with sqlite3.connect(db) as con:  # back to schema 1, the way voicedrill 0.2 left it
        for statement in ("DROP INDEX reps_by_uid", "DROP INDEX sessions_by_uid", "ALTER TABLE reps DROP COLUMN uid",
                          "ALTER TABLE sessions DROP COLUMN uid", "DROP TABLE issued", "ALTER TABLE reps DROP COLUMN timed_s",
                          "ALTER TABLE reps DROP COLUMN fix_first", "PRAGMA user_version = 1"):
            con.execute(statement)
    assert len(Store(db, write=False).reps()) == 29  # read as it is, without upgrading
    store = Store(db)
    store.delete(rep=29)
    saved = store.save_rep(Session.of("check", drill, "fake", "none"), 1, sample_report(drill), "a.wav")
    assert saved.rep == 30 and len(store.reps()) == 29
    first, headline = store.reps()[0].report, store.team_reps()[0]
    assert (headline.timed_s, headline.fix_first) == (first.timed_s, first.fix_first)  # filled in on upgrade
    store.close()


# --- a transcribed rep is never thrown away ---------------------------------------------------

LOCKER = textwrap.dedent(
    """
    import sqlite3, sys, time
    db = sqlite3.connect(sys.argv[1], isolation_level=None)
    db.execute("BEGIN IMMEDIATE")
    print("locked", flush=True)
    time.sleep(60)
    """
)


def test_history_locked_past_the_timeout_mid_check_keeps_the_rep(db, cli, line_wav, monkeypatch):
    from voicedrill import practice

    Store(db).close()
    lockers = []
    transcribe = practice.score_file

    def then_lock(*args, **kwargs):  # another program takes the history while the rep is transcribed
        report = transcribe(*args, **kwargs)
        lockers.append(subprocess.Popen([sys.executable, "-c", LOCKER, str(db)], stdout=subprocess.PIPE, text=True))
        assert lockers[0].stdout.readline().strip() == "locked"
        return report

    monkeypatch.setattr(practice, "score_file", then_lock)
    monkeypatch.setattr(history, "BUSY_TIMEOUT_S", 0.3)
    try:
        code, out, err = cli("check", line_wav, "--json")
    finally:
        for locker in lockers:
            locker.kill()
            locker.wait()
    assert code == 0 and json.loads(out)["words"] and "Traceback" not in err
    assert "locked by another program" in err and "the rep is kept in" in err
    assert ids(db) == []
    code, out, err = cli("history")
    assert code == 0 and "Now in the history" in err
    assert ids(db) == [1] and cli("history")[2] == ""  # imported once, and only once


def test_ctrl_c_while_a_checked_rep_waits_for_a_locked_history_keeps_it(db, cli, line_wav, monkeypatch):
    """Ctrl-C while `check` waited for a history another program held: "interrupted", and the
    transcribed rep was in neither the history nor a pending file. It is kept first (in a pending
    file here), then the check stops with 130. The signal reaches another thread, as a terminal's may."""
    import threading
    import time as clock

    from voicedrill import practice

    Store(db).close()
    bystander = threading.Thread(target=threading.Event().wait, args=(30,), daemon=True)
    bystander.start()
    lockers = []
    transcribe = practice.score_file

    def then_lock(*args, **kwargs):
        report = transcribe(*args, **kwargs)
        lockers.append(subprocess.Popen([sys.executable, "-c", LOCKER, str(db)], stdout=subprocess.PIPE, text=True))
        assert lockers[0].stdout.readline().strip() == "locked"
        return report

    def interrupted(*args, **kwargs):  # Ctrl-C while it waits for the history
        signal.pthread_kill(bystander.ident, signal.SIGINT)
        clock.sleep(0.05)
        return save(*args, **kwargs)

    save = Store.save_rep
    monkeypatch.setattr(practice, "score_file", then_lock)
    monkeypatch.setattr(Store, "save_rep", interrupted)
    monkeypatch.setattr(history, "BUSY_TIMEOUT_S", 0.3)
    try:
        code, out, err = cli("check", line_wav)
    finally:
        for locker in lockers:
            locker.kill()
            locker.wait()
    assert code == 130 and "Traceback" not in err, err
    assert "Score" in out and "the rep is kept in" in err  # shown with where it went (a review: it said only "interrupted")
    assert cli("history")[0] == 0 and ids(db) == [1]  # the rep waited in a pending file, and went in


def test_session_deleted_mid_run_stops_saving_there_and_keeps_the_reps(db, cli, line_wav, monkeypatch):
    save = Store.save_rep
    calls = []

    def save_then_delete(self, session, *args, **kwargs):
        saved = save(self, session, *args, **kwargs)
        calls.append(saved)
        if len(calls) == 1:  # someone deletes the run's session from another window
            other = Store(db)
            other.delete(session=session.id)
            other.close()
        return saved

    monkeypatch.setattr(Store, "save_rep", save_then_delete)
    code, out, err = cli("drill", "--reps", "3", "--input", line_wav, "--speed", "0", "--no-speech")
    out = " ".join(out.split())
    assert code == 0 and "Traceback" not in err
    assert out.count("was deleted from the history during this run") == 1
    assert "3 reps finished: 1 saved in your history as session s1; 2 waiting in" in out
    assert [c.rep for c in calls] == [1, None, None] and all(c.pending.is_file() for c in calls[1:])
    monkeypatch.undo()
    store = Store(db, write=False)
    reps = store.reps()
    assert [(r.id, r.session, r.number) for r in reps] == [(2, 2, 2), (3, 2, 3)]  # new numbers, the old ones stay retired
    store.close()


def test_a_full_disk_under_the_events_file_loses_no_rep(db, cli, line_wav, full_disk):
    """The events file could not be written: the run stopped there, with the rep just heard neither
    saved nor pending, and the reps after it never said (found by an attack). Now the events stop,
    every rep is still scored and saved, and one line says so after the run (exit 2)."""
    fill(full_disk)
    events = full_disk / "events.jsonl"
    code, out, err = cli("drill", "--reps", "3", "--input", line_wav, "--speed", "0", "--no-speech", "--events", events)
    assert code == 2 and "Traceback" not in err and ids(db) == [1, 2, 3], (out, err)
    assert err.splitlines()[-1] == f"voicedrill: error: {events}: the events file stopped in rep 1 (the disk is full); the run went on without it"
    assert "3 reps saved" in " ".join(out.split())


def test_history_disk_full_mid_run_keeps_reps_pending_until_there_is_room(tmp_path, cli, line_wav, full_disk, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    path = full_disk / "history.db"
    monkeypatch.setenv(DB_ENV, str(path))
    save = Store.save_rep
    fillers = []

    def save_then_fill(self, *args, **kwargs):
        saved = save(self, *args, **kwargs)
        fillers.append(fillers[-1] if fillers else fill(full_disk))  # the disk fills up after the first rep
        return saved

    monkeypatch.setattr(Store, "save_rep", save_then_fill)
    code, out, err = cli("drill", "--reps", "3", "--input", line_wav, "--speed", "0", "--no-speech")
    out = " ".join(out.split())
    assert code == 0 and "Traceback" not in err and "the disk is full" in out, out
    assert "3 reps finished: 1 saved in your history as session s1; 2 waiting in" in out
    monkeypatch.undo()
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv(DB_ENV, str(path))
    code, out, err = cli("history")  # still full: what it holds is shown, and what waits is said
    assert code == 0 and "Traceback" not in err
    fillers[0].unlink()
    code, out, err = cli("export")
    assert code == 0 and len(out.splitlines()) == 4 and "Now in the history" in err, err
    assert ids(path) == [1, 2, 3] and sound(path)
    assert not any(p.exists() for p in pending.folders(path))


def test_check_with_the_history_disk_already_full_loses_nothing(tmp_path, cli, line_wav, full_disk, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    path = full_disk / "history.db"
    monkeypatch.setenv(DB_ENV, str(path))
    assert cli("check", line_wav)[0] == 0
    filler = fill(full_disk)
    code, out, err = cli("check", line_wav)
    assert "Traceback" not in err
    if code == 2:  # refused up front, before the rep was transcribed
        assert err.count("\n") == 1 and "the disk is full" in err
    else:
        assert code == 0 and "the rep is kept in" in err
    filler.unlink()
    assert cli("history")[0] == 0 and len(ids(path)) == (1 if code == 2 else 2) and sound(path)


def test_a_reader_does_not_wait_out_a_lock_to_take_in_a_waiting_rep(db, drill):
    """A rep waiting in a pending file while another program writes the history: every reader (each
    progress page, each of its charts) waited the lock's 10 s to take it in (found by a fault
    attack). A reader reads the history as it is, saying the rep waits; a writer takes it in."""
    import sqlite3
    import time

    from test_history import sample_report

    Store(db).close()
    blocked = Store(db)
    blocked.problem = "history database is busy"  # the save goes to a pending file
    blocked.save_rep(Session.of("drill", drill, "fake", "none"), 1, sample_report(drill), "mic")
    blocked.close()
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        asked = time.monotonic()
        reader = Store(db, write=False)
        took = time.monotonic() - asked
        assert reader.reps() == [] and any("1 rep waiting in" in note for note in reader.notes), reader.notes
        reader.close()
    finally:
        holder.rollback()
        holder.close()
    assert took < 3, took
    writer = Store(db)
    assert len(writer.reps()) == 1
    writer.close()


IMPORTER = "import sys; from pathlib import Path; from voicedrill.history import Store; Store(Path(sys.argv[1]), write=False).close()"


@pytest.mark.parametrize("seed", range(4))
def test_kills_during_a_pending_import_lose_nothing_and_file_nothing_twice(db, drill, seed):
    from test_history import sample_report

    Store(db).close()
    blocked = Store(db)
    blocked.problem = "history database is busy"  # every save goes to a pending file
    session, report = Session.of("drill", drill, "fake", "none"), sample_report(drill)
    uids = [json.loads(blocked.save_rep(session, n, report, "mic").pending.read_text())["uid"] for n in range(1, 201)]
    blocked.close()
    folder = pending.folders(db)[0]
    waiting = lambda: len(list(folder.glob("rep-*.json"))) if folder.is_dir() else 0  # noqa: E731
    kills = 0
    for threshold in sorted(random.Random(seed).sample(range(5, 195), 4), reverse=True):
        importer = subprocess.Popen([sys.executable, "-c", IMPORTER, str(db)])
        while importer.poll() is None and waiting() > threshold:
            pass
        if importer.poll() is None:  # killed part-way through: some reps in, the rest still waiting
            importer.kill()
            kills += 1
        importer.wait()
    assert kills and 0 < waiting() < 200
    store = Store(db, write=False)
    assert sorted(ids(db, "reps", "uid")) == sorted(uids) and len(store.reps()) == 200
    assert [r.number for r in store.reps()] == list(range(1, 201)) and len({r.session for r in store.reps()}) == 1
    store.close()
    assert sound(db) and not any(p.exists() for p in pending.folders(db))


WRITER = textwrap.dedent(
    """
    import sys, uuid
    from pathlib import Path
    from voicedrill import pending
    while True:
        pending.keep(Path(sys.argv[1]), {"uid": uuid.uuid4().hex, "session": {}, "number": 1, "saved_at": "",
                     "source": "mic", "report": {"padding": "x" * 200000}})
    """
)


def test_a_kill_while_writing_pending_files_leaves_only_whole_files(db):
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(db)])
    try:
        writer.wait(timeout=1.5)
    except subprocess.TimeoutExpired:
        writer.kill()
        writer.wait()
    folder = pending.folders(db)[0]
    assert all(json.loads(p.read_text())["report"] for p in folder.glob("rep-*.json"))
    pending.found(db)  # looking cleans up the dead writer's half-written file
    assert [p.name for p in folder.iterdir() if not p.name.startswith("rep-")] == []


def test_an_unreadable_pending_file_is_left_where_it_is_with_a_note(db, cli):
    Store(db).close()
    folder = pending.folders(db)[0]
    folder.mkdir()
    (folder / "rep-bogus.json").write_text("{not json")
    code, out, err = cli("history")
    assert code == 0 and "rep-bogus.json is not a rep voicedrill can read" in err
    assert (folder / "rep-bogus.json").read_text() == "{not json"


@pytest.mark.parametrize("command", [["check"], ["check", "--json"], ["drill", "--speed", "0", "--no-speech", "--input"],
                                     ["drill", "--speed", "0", "--no-speech", "--out", "{out}", "--input"]])
def test_nowhere_to_keep_a_rep_is_one_clear_line_after_its_scorecard(db, cli, line_wav, monkeypatch, tmp_path, command):
    """Every place a rep may go is full: one line says so, after the scorecard (or the JSON), which
    is all that is left of the rep; neither was shown, and drill said no rep was finished (found by an attack)."""
    def full(*args):
        raise history.VoicedrillError("history database: the disk is full")

    monkeypatch.setattr(history, "_insert", full)
    monkeypatch.setattr(pending, "folders", lambda path: [Path("/proc/voicedrill-cannot")])
    code, out, err = cli(*[a.format(out=tmp_path / "run") for a in command], line_wav)
    assert code == 2 and err.splitlines()[-1].startswith("voicedrill: error: the rep could not be kept anywhere")
    assert "Traceback" not in err and "/proc/voicedrill-cannot" in err
    if "--out" in command:  # (a review: "all there is of this rep", "nothing was saved", with the rep in --out)
        (filed,) = (tmp_path / "run").glob("*/rep-01.json")
        said = " ".join(out.split())
        assert "; the rep is only in " in said and f"nothing was saved in your history; the last rep is only in {filed}" in out
        return
    assert "the scorecard above is all there is of this rep" in (out if "drill" in command else err.splitlines()[-1]), (out, err)
    assert json.loads(out)["steps"] if "--json" in command else "Score " in out
    assert "no rep was finished" not in out


# --- full disks: old files stay whole, one line says so ---------------------------------------

STANDARD_OUTPUTS = {  # (what it prints, and the rep a check saves before printing)
    "drills list": ["drills", "list"],
    "history": ["history"],
    "export": ["export"],
    "check --json": ["check", "{wav}", "--json"],
}


@pytest.mark.parametrize("command", sorted(STANDARD_OUTPUTS))
def test_standard_output_full_or_closed_is_one_line_or_silence(db, history_bytes, line_wav, command):
    """`> /dev/full` is one line and exit 2; a reader that stopped reading (`| head -c 10`) ends the
    command quietly (status 1, as rich's own output gives); never a traceback. A checked rep is
    kept before it is printed, so neither loses it."""
    db.write_bytes(history_bytes)
    env = {key: value for key, value in os.environ.items() if key != "PYTHONUNBUFFERED"} | {DB_ENV: str(db)}  # print() held to the end
    args = [sys.executable, "-m", "voicedrill.cli", *(a.format(wav=line_wav) for a in STANDARD_OUTPUTS[command])]
    with open("/dev/full", "w") as full:
        result = subprocess.run(args, stdout=full, stderr=subprocess.PIPE, text=True, env=env, timeout=120)
    assert result.returncode == 2 and result.stderr.splitlines()[-1] == "voicedrill: error: could not write the output: the disk is full", result.stderr
    assert "Traceback" not in result.stderr
    reader, writer = os.pipe()
    os.close(reader)  # gone before anything is written: the first write fails
    try:
        result = subprocess.run(args, stdout=writer, stderr=subprocess.PIPE, text=True, env=env, timeout=120)
    finally:
        os.close(writer)
    assert result.returncode == 1 and "Traceback" not in result.stderr and "Exception" not in result.stderr, result.stderr
    if command.startswith("check"):
        assert len(Store(db).reps()) == 29 + 2


OUTPUTS = {
    "synth": (["synth", "{out}.wav", "--pause", "0.1"], ".wav"),
    "export": (["export", "--out", "{out}.csv"], ".csv"),
    "chart": (["history", "--plot", "{out}.png"], ".png"),
    "page": (["report", "1", "--html", "{out}.html"], ".html"),
    "picture": (["report", "1", "--png", "{out}.png"], ".png"),
}


@pytest.mark.parametrize("kind", sorted(OUTPUTS))
def test_a_full_disk_leaves_the_old_file_as_it_was(db, cli, history_bytes, full_disk, kind):
    db.write_bytes(history_bytes)
    args, suffix = OUTPUTS[kind]
    old = full_disk / f"old{suffix}"
    old.write_bytes(b"the previous file, kept whole " * 10)
    filler = fill(full_disk)
    err = cli.refused([a.format(out=full_disk / "old") for a in args], "the disk is full", old)
    assert old.read_bytes() == b"the previous file, kept whole " * 10
    assert sorted(p.name for p in full_disk.iterdir()) == sorted([old.name, filler.name]), err


def test_a_full_disk_for_the_run_files_still_saves_the_rep_in_the_history(db, cli, line_wav, full_disk):
    fill(full_disk)
    code, out, err = cli("drill", "--input", line_wav, "--speed", "0", "--no-speech", "--keep-audio", "--out", full_disk)
    assert "Traceback" not in err and "Traceback" not in out
    if code == 2:  # not even the run's folder could be made: refused before any rep was taken
        assert "the disk is full" in err and ids(db) == []
    else:
        assert code == 0 and "the disk is full" in out and ids(db) == [1]


def test_a_disk_with_no_room_for_the_audio_keeps_the_reps_record(db, cli, line_wav, full_disk):
    """--keep-audio with room for rep-01.json but not rep-01.wav: the record is written and the audio
    said missing (the audio went first, and its failure skipped the record too)."""
    (full_disk / "run").mkdir()
    filler = fill(full_disk)
    with open(filler, "rb+") as f:
        f.truncate(filler.stat().st_size - 48 * 1024)  # room for a record (about 10 kB), not 3 s of audio
    code, out, err = cli("drill", "--input", line_wav, "--speed", "0", "--no-speech", "--keep-audio", "--out", full_disk / "run")
    assert code == 0 and "Traceback" not in err and ids(db) == [1], err
    (session,) = (full_disk / "run").iterdir()
    assert sorted(p.name for p in session.iterdir()) == ["rep-01.json"]
    assert json.loads((session / "rep-01.json").read_text())["report"]["steps"]
    assert "rep-01.wav" in " ".join(out.split()) and "the disk is full" in out


def test_example_rep_with_a_full_cache_is_one_line(db, cli, full_disk, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(full_disk))
    fill(full_disk)
    cli.refused(["check", "--example"], "the disk is full")
    assert [p.name for p in full_disk.iterdir()] == ["filler"] or not list((full_disk / "voicedrill").iterdir())


def test_model_download_onto_a_full_disk_installs_nothing(cli, tmp_path, full_disk):
    archive = tmp_path / "model.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("vosk-model-tiny/am/final.mdl", os.urandom(3 << 20))
    err = cli.refused(["model", "download", "--dir", full_disk, "--url", archive.as_uri()], "the disk is full")
    assert "nothing was installed" in err and list(full_disk.iterdir()) == []


# --- readers: every committed rep, nothing left beside the file -------------------------------

CRASHED_WRITER = textwrap.dedent(
    """
    import os, sys
    sys.path.insert(0, sys.argv[2])
    from pathlib import Path
    from test_history import sample_report
    from voicedrill.drills import load_drill
    from voicedrill.history import Session, Store
    drill = load_drill("hard-close")
    store = Store(Path(sys.argv[1]))
    run = Session.of("drill", drill, "fake", "none")
    for n in (1, 2, 3):
        store.save_rep(run, n, sample_report(drill), "mic")
    os._exit(0)  # killed: its reps are committed, still in the WAL
    """
)


def test_readers_in_a_read_only_folder_see_reps_still_in_the_wal(db, ordinary_user):
    subprocess.run([sys.executable, "-c", CRASHED_WRITER, str(db), str(Path(__file__).parent)], check=True, timeout=60)
    assert Path(f"{db}-wal").stat().st_size > 0
    before = {p.name: digest(p) for p in db.parent.iterdir()}
    db.parent.chmod(0o555)
    try:
        shown = subprocess.run([*ordinary_user, sys.executable, "-m", "voicedrill.cli", "export"], capture_output=True, text=True, timeout=60)
    finally:
        db.parent.chmod(0o755)
    assert shown.returncode == 0 and len(shown.stdout.splitlines()) == 4, shown.stderr
    assert {p.name: digest(p) for p in db.parent.iterdir()} == before


@pytest.mark.parametrize("command", [["history"], ["export"], ["report", "last"], ["history", "--last", "2"]])
def test_readers_leave_nothing_beside_the_history(db, cli, command):
    subprocess.run([sys.executable, "-c", CRASHED_WRITER, str(db), str(Path(__file__).parent)], check=True, timeout=60)
    code, out, err = cli(*command)
    assert code == 0 and "Traceback" not in err
    assert sorted(p.name for p in db.parent.iterdir()) == ["history.db"] and len(ids(db)) == 3


@pytest.mark.parametrize("damage", ["cut", "a number past a float", "nested past the stack", "a list of no objects", "a byte not UTF-8"])
def test_a_damaged_rep_row_is_left_out_and_named(db, cli, history_bytes, line_wav, damage):
    """A number past a float (1 and 400 zeros), a report nested 200 000 deep, or a customer's turns
    that are not objects ("customer": "x") was a traceback in every command, and `check` lost the
    new rep to it (found by attacks)."""
    db.write_bytes(history_bytes)
    with sqlite3.connect(db) as con:
        report = con.execute("SELECT report FROM reps WHERE id = 7").fetchone()[0]
        damaged = {"cut": '{"half', "a number past a float": report.replace('"audio_s": ', '"audio_s": 1' + "0" * 400 + ", \"was\": ", 1),
                   "nested past the stack": "[" * 200000 + "]" * 200000,
                   "a list of no objects": json.dumps(json.loads(report) | {"customer": "x"}), "a byte not UTF-8": report}[damage]
        con.execute("UPDATE reps SET report = ? WHERE id = 7", (damaged,))
        if damage == "a byte not UTF-8":  # (every row unreadable: "Could not decode to UTF-8 column 'report'…", found by an attack;
            # then, inside a text, read as "�" and shown: found by a review)
            con.execute("UPDATE reps SET report = CAST(REPLACE(CAST(report AS BLOB), CAST('hard-close' AS BLOB), X'68FF') AS TEXT) WHERE id = 7")
    for command in (["history"], ["export"], ["report", "s1"], ["check", line_wav]):
        code, out, err = cli(*command)
        assert code == 0 and "rep 7 is damaged in the history and left out" in err and "Traceback" not in err, err
    assert "\n7," not in cli("export")[1] and len(ids(db)) == 30  # the checked rep went in


@pytest.mark.parametrize("column, value", [("saved_at", "garbage"), ("score", "abc"), ("timed_s", "fast"), ("speech_wpm", "fast"), ("score", float("inf"))])
def test_the_team_view_leaves_a_damaged_rep_out_and_names_it(db, cli, history_bytes, column, value):
    """`team` read its columns unchecked: a traceback (found by an attack). Now as history and export."""
    db.write_bytes(history_bytes)
    with sqlite3.connect(db) as con:
        con.execute(f"UPDATE reps SET {column} = ? WHERE id = 5", (value,))
    code, out, err = cli("team")
    assert code == 0 and "Traceback" not in err and err.count("rep 5 is damaged in the history and left out") == 1, err
    assert "28 reps" in " ".join(out.split())


def test_stale_temporary_files_of_killed_writers_are_cleaned_up(db, cli, history_bytes, tmp_path):
    db.write_bytes(history_bytes)
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = tmp_path / f".out.csv.{dead.pid}.voicedrill-tmp"
    stale.write_bytes(b"\0" * 100000)
    assert cli("export", "--out", tmp_path / "out.csv")[0] == 0
    assert not stale.exists() and (tmp_path / "out.csv").is_file()


def test_only_the_default_history_takes_in_old_rep_folders(db, cli, line_wav, tmp_path):
    from test_history import sample_report
    from voicedrill.drills import load_drill
    from voicedrill.report import to_dict

    folder = tmp_path / "data" / "voicedrill" / "sessions" / "20261120-091500"
    folder.mkdir(parents=True)
    record = {"rep": 1, "saved_at": "2026-11-20T09:10:00+00:00", "source": "microphone", "report": to_dict(sample_report(load_drill("hard-close")))}
    (folder / "rep-01.json").write_text(json.dumps(record))
    code, out, err = cli("drill", "--input", line_wav, "--speed", "0", "--no-speech", "--keep-audio")
    assert code == 0 and ids(db) == [1]  # a history of its own: the other history's folders stay out
    assert list((tmp_path / "data" / "voicedrill" / "recordings").glob("*/rep-01.wav"))


# --- hostile arguments, destinations, drills, audio -------------------------------------------

NUMBERS = ["9223372036854775808", "99999999999999999999", "1" * 400, "١", "١٢", "１", "²", "𝟙", "-1", "0x1", "1e3", " 1", "1 ", "s٣", "s" + "9" * 30, "#", "s", ""]


@pytest.mark.parametrize("ref", NUMBERS)
@pytest.mark.parametrize("command", ["report", "delete"])
def test_odd_rep_numbers_are_refused_in_one_line(db, cli, history_bytes, ref, command):
    db.write_bytes(history_bytes)
    before = digest(db)
    args = ["report", ref] if command == "report" else ["history", "--delete", ref]
    err = cli.refused(args, "")
    assert "not a rep or a session" in err or "in the history" in err
    assert digest(db) == before and len(ids(db)) == 29


@pytest.mark.parametrize("value", ["100000000000000000000", "9223372036854775807", "9223372036854775808", "1" * 100])
def test_huge_last_shows_everything(db, cli, history_bytes, value):
    db.write_bytes(history_bytes)
    code, out, err = cli("history", "--last", value)
    assert code == 0 and "29 reps" in out.replace("\n", " ") and err == ""


SINCE = ["99999999d", "9" * 30 + "w", "0001-01-01", "0001-01-01T00:00:00+14:00", "9999-12-31", "9999-12-31T23:59:59-12:00", "1970-01-01", "0d", "0w"]


@pytest.mark.parametrize("since", SINCE)
@pytest.mark.parametrize("command", ["history", "export"])
def test_extreme_dates_are_answered_not_crashed(db, cli, history_bytes, since, command):
    db.write_bytes(history_bytes)
    code, out, err = cli(command, "--since", since)
    assert code == 0 and "Traceback" not in err, err


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def _loop(path: Path) -> Path:
    path.symlink_to(path)
    return path


DESTINATIONS = {
    "missing folder": (lambda d: d / "nope" / "rep.wav", "does not exist"),
    "mp3": (lambda d: d / "rep.mp3", "ending in .wav"),
    "text": (lambda d: d / "rep.txt", "ending in .wav"),
    "no extension": (lambda d: d / "rep", "ending in .wav"),
    "a folder": (lambda d: d, "ending in .wav"),
    "a folder named .wav": (lambda d: (d / "x.wav").mkdir() or d / "x.wav", "is a folder"),
    "/dev/full": (lambda d: Path("/dev/full"), "ending in .wav"),
    "a device named .wav": (lambda d: (d / "dev.wav").symlink_to("/dev/full") or d / "dev.wav", "not a regular file"),
    "a pipe named .wav": (lambda d: _fifo(d / "pipe.wav"), "not a regular file"),
    "a symlink loop named .wav": (lambda d: _loop(d / "loop.wav"), "not a regular file"),
}


@pytest.mark.parametrize("case", sorted(DESTINATIONS))
def test_bad_synth_destinations_are_refused_before_speaking(tmp_path, cli, case):
    make, message = DESTINATIONS[case]
    target = make(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    cli.refused(["synth", target], message)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_synth_into_a_read_only_folder_is_one_line(tmp_path, ordinary_user):
    tmp_path.chmod(0o555)
    try:
        done = subprocess.run([*ordinary_user, sys.executable, "-m", "voicedrill.cli", "synth", str(tmp_path / "rep.wav")],
                              capture_output=True, text=True, timeout=120)
    finally:
        tmp_path.chmod(0o755)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "permission denied" in done.stderr, done.stderr
    assert list(tmp_path.iterdir()) == []


GOOD_DRILL = (Path(__file__).parent.parent / "drills" / "hard-close.toml").read_text(encoding="utf-8")
DRILLS = {
    **{f"max_pause_s = {v}": (f"max_pause_s = {v}", "max_pause_s") for v in ("nan", "+nan", "-nan", "inf", "-inf")},
    **{f"pace {v}": (f"pace_wpm = [{v}, 200]", "pace_wpm") for v in ("nan", "inf", "-inf")},
    **{f"name {n!r}": (f"name = {json.dumps(n)}", "name") for n in ("../../escape", "a/b", "Hard Close", "x\u001b[2J", "..", "-x", "é")},
    **{f"escape in {f}": (f"{f} = {json.dumps(v)}", f) for f, v in (("title", "Clear\u001b[2J"), ("source", "bell\u0007"),
                                                                     ("cue", "\u009b31m red"), ("line", "nul\u0000"))},
}


def _drill_text(change: str) -> str:
    key = change.split(" =")[0]
    lines = GOOD_DRILL.splitlines()
    spot = next((i for i, line in enumerate(lines) if line.startswith(f"{key} =")), None)
    if spot is None:  # not in the file: add it to its table
        table = "[rules]" if key in ("max_pause_s", "pace_wpm") else None
        spot = lines.index(table) + 1 if table else 0
        lines.insert(spot, change)
    else:
        lines[spot] = change
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("case", sorted(DRILLS))
@pytest.mark.parametrize("command", ["validate", "show", "check"])
def test_bad_drill_values_are_refused_with_file_and_line(tmp_path, cli, line_wav, case, command):
    change, field = DRILLS[case]
    path = tmp_path / "bad.toml"
    path.write_text(_drill_text(change), encoding="utf-8")
    args = {"validate": ["drills", "validate", path], "show": ["drills", "show", path], "check": ["check", line_wav, "--drill", path]}[command]
    code, out, err = cli(*args)
    assert code == 2 and f"{path}:" in err and field in err and "Traceback" not in err, err
    assert "\u001b" not in out + err and "\u0007" not in out + err


@pytest.mark.parametrize("depth", [50, 1000, 5000, 100000])
@pytest.mark.parametrize("shape", ["arrays", "tables"])
def test_deeply_nested_drills_are_one_line(tmp_path, cli, depth, shape):
    path = tmp_path / "deep.toml"
    body = "[" * depth + "]" * depth if shape == "arrays" else "{a = " * depth + "1" + "}" * depth
    path.write_text(f'name = "deep"\nx = {body}\n')
    code, out, err = cli("drills", "validate", path)
    assert code == 2 and err and all(line.startswith(f"{path}:") for line in err.splitlines()) and "Traceback" not in err
    code, out, err = cli("drills", "show", path)
    assert code == 2 and err.count("\n") == 1 and f"{path}:" in err


def _huge(kind: str) -> str:
    """A drill file over one of the limits that keep a drill a page a rep says in one go."""
    step = '[[steps]]\nid = "s{n}"\nline = "Step {n}, said out loud."\n'
    if kind == "steps":  # 5,000 steps took 2.3 GB to load
        return 'name = "huge"\ntitle = "Huge"\n' + "".join(step.format(n=n) for n in range(41))
    if kind == "variants":
        return 'name = "huge"\ntitle = "Huge"\n' + step.format(n=1) + "variants = [" + ", ".join(f'"way {n}"' for n in range(51)) + "]\n"
    if kind == "line":
        return 'name = "huge"\ntitle = "Huge"\n[[steps]]\nid = "s"\nline = "' + "word " * 201 + '"\n'
    return 'name = "huge"\ntitle = "Huge"\n' + step.format(n=1) + "# " + "x" * 256 * 1024 + "\n"


@pytest.mark.parametrize("kind, message", [("steps", "41 steps: a drill is said in one go, so it has at most 40"), ("variants", "51 entries: at most 50"),
                                           ("line", "1005 characters: at most 1000"), ("file", "too large for a drill file (the limit is 256 KB)")])
def test_a_drill_too_large_to_say_in_one_go_is_refused(tmp_path, cli, kind, message):
    path = tmp_path / "huge.toml"
    path.write_text(_huge(kind), encoding="utf-8")
    code, out, err = cli("drills", "validate", path)
    assert code == 2 and err.count("\n") == 1 and f"{path}" in err and message in err and "Traceback" not in err, err


def test_a_drill_with_a_byte_order_mark_loads(tmp_path, cli):
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD_DRILL.encode("utf-8"))
    code, out, err = cli("drills", "validate", path)
    assert code == 0 and "ok (hard-close" in out


@pytest.mark.parametrize("kind", ["pipe", "symlink loop", "folder", "device", "not utf-8"])
def test_drill_files_that_are_not_text_files_say_what_they_are(tmp_path, cli, kind):
    path = tmp_path / "odd.toml"
    message = {"pipe": "pipe or a device", "symlink loop": "symbolic links loop", "folder": "is a folder",
               "device": "pipe or a device", "not utf-8": "not UTF-8"}[kind]
    {"pipe": _fifo, "symlink loop": _loop, "folder": Path.mkdir, "device": lambda p: p.symlink_to("/dev/zero"),
     "not utf-8": lambda p: p.write_bytes(b"name = \"caf\xe9\"\n")}[kind](path)
    cli.refused(["drills", "show", path], message, path)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _mp3_frames() -> bytes:
    return b"\xff\xfb\x90\x64" + bytes(413)


AUDIO = {
    "a pipe": (_fifo, "pipe or a device"),
    "/dev/stdin": (lambda p: Path("/dev/stdin"), "pipe or a device"),
    "/dev/null": (lambda p: Path("/dev/null"), "pipe or a device"),
    "/dev/zero": (lambda p: Path("/dev/zero"), "pipe or a device"),
    "a symlink loop": (_loop, "symbolic links loop"),
    "mp3 with ID3": (lambda p: _write(p, b"ID3\x04\x00\x00\x00\x00\x00\x00" + _mp3_frames() * 50), "convert it to WAV or FLAC"),
    "mp3 frames": (lambda p: _write(p, _mp3_frames() * 50), "convert it to WAV or FLAC"),
}
AUDIO["a WAV cut short (an unfinished copy)"] = (lambda p: _cut(_spoken(p), 0.5), "the file holds 0.9 s of the 1.9 s it should")
for _rate in (1, 4, 100, 7999, 384001, 2_000_000_000):
    AUDIO[f"header says {_rate} Hz"] = (lambda p, r=_rate: _wav_at(p, r), "not a recording rate")


def _wav_at(path: Path, rate: int) -> Path:
    with open(path, "wb") as f:
        data = np.zeros(64000, dtype=np.int16).tobytes()
        import struct

        f.write(b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate, (rate * 2) & 0xFFFFFFFF, 2, 16))
        f.write(b"data" + struct.pack("<I", len(data)) + data)
    return path


def _spoken(path: Path) -> Path:
    write_wav(path, speak("And what's a good phone number for you?"))
    return path


def _cut(path: Path, keep: float) -> Path:
    """The file's first `keep` share of bytes, its header unchanged (what an interrupted copy leaves)."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def _open_ended(path: Path, size: bytes = b"\xff\xff\xff\xff") -> Path:
    """The data size a recorder writes before it knows the length (never finalised)."""
    data = bytearray(path.read_bytes())
    at = data.index(b"data") + 4
    data[at : at + 4] = size
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("make", [lambda p: _cut(p, 1 - 1e-5), _open_ended, lambda p: _open_ended(p, (0x7FFFF000).to_bytes(4, "little"))],
                         ids=["last sample torn", "length never written", "length never written (SoX into a pipe)"])
def test_a_wav_whose_length_is_not_final_is_heard_whole(tmp_path, cli, make):
    """Only audio missing from a file whose header promised it is refused (a copy cut short)."""
    path = make(_spoken(tmp_path / "rep.wav"))
    code, out, err = cli("check", path, "--json", "--no-save")
    assert code == 0 and {s["id"]: s["status"] for s in json.loads(out)["steps"]}["phone"] == "ok", err


def test_a_dead_channel_is_left_out(tmp_path, cli):
    """A stereo float file whose second channel is all NaN (a dead one): the rep is in the other."""
    speech = speak("And what's a good phone number for you?").astype(np.float32)
    path = tmp_path / "rep.wav"
    sf.write(str(path), np.stack([speech, np.full_like(speech, np.nan)], axis=1), RATE, subtype="FLOAT")
    code, out, err = cli("check", path, "--json", "--no-save")
    assert code == 0 and {s["id"]: s["status"] for s in json.loads(out)["steps"]}["phone"] == "ok", err


def test_a_recording_mostly_not_numbers_is_refused(tmp_path, cli, monkeypatch):
    """A float file whose samples are not numbers is damaged, not a silent rep: refused, not saved."""
    monkeypatch.setenv(DB_ENV, str(tmp_path / "history.db"))
    path = tmp_path / "rep.wav"
    sf.write(str(path), np.full(RATE * 2, np.nan, dtype=np.float32), RATE, subtype="FLOAT")
    before = path.read_bytes()
    code, out, err = cli("check", path)
    assert code == 2 and "much of it is not sound at all" in err and "Traceback" not in err, err
    assert path.read_bytes() == before and not Store(tmp_path / "history.db").reps()


@pytest.mark.parametrize("case", sorted(AUDIO))
@pytest.mark.parametrize("command", ["check", "drill"])
def test_audio_that_is_not_a_recording_file_is_refused_before_the_engine(tmp_path, cli, case, command):
    make, message = AUDIO[case]
    path = make(tmp_path / "rep.wav")
    args = ["check", path] if command == "check" else ["drill", "--input", path, "--speed", "0", "--no-speech"]
    err = cli.refused(args, message, path)
    assert "speech recogniser:" not in err


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_infinite_samples_give_a_plain_json_report(tmp_path, cli, bad):
    audio = speak("And what's a good phone number for you?").astype(np.float32)
    audio[1000:1400] = bad
    path = tmp_path / "odd.wav"
    sf.write(str(path), audio, RATE, subtype="FLOAT")
    code, out, err = cli("check", path, "--json", "--no-save")

    def strict(value):
        raise ValueError(f"not JSON: {value}")

    assert code == 0 and "Warning" not in err and json.loads(out, parse_constant=strict)["words"], err


@pytest.mark.parametrize("speed", ["1e-9", "0.1", "-1", "nan", "inf", "101"])
def test_speeds_that_would_hang_or_mean_nothing_are_refused(cli, line_wav, speed):
    cli.refused(["drill", "--input", line_wav, f"--speed={speed}", "--no-speech"], "--speed")


@pytest.mark.parametrize("kind", ["pipe", "/dev/null", "/dev/full", "folder", "symlink loop"])
@pytest.mark.parametrize("command", [["history"], ["export"], ["check", "{wav}"], ["history", "--delete", "1"]])
def test_a_history_path_that_is_not_a_file_is_refused_at_once(tmp_path, cli, line_wav, monkeypatch, kind, command):
    path = {"pipe": lambda: _fifo(tmp_path / "h.db"), "/dev/null": lambda: Path("/dev/null"), "/dev/full": lambda: Path("/dev/full"),
            "folder": lambda: (tmp_path / "h.db").mkdir() or tmp_path / "h.db", "symlink loop": lambda: _loop(tmp_path / "h.db")}[kind]()
    monkeypatch.setenv(DB_ENV, str(path))
    err = cli.refused([a.format(wav=line_wav) for a in command], "", path)
    assert "speech recogniser:" not in err and ("folder" in err or "pipe or a device" in err or "loop" in err)


def test_ctrl_c_before_any_rep_says_nothing_was_saved(db, line_wav, tmp_path):
    run = subprocess.Popen([sys.executable, "-u", "-m", "voicedrill.cli", "drill", "--input", str(line_wav), "--speed", "1", "--no-speech",
                            "--engine", "pocketsphinx"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert "Rep 1" in run.stdout.readline()
    run.send_signal(signal.SIGINT)
    out, err = run.communicate(timeout=30)
    assert run.returncode == 130 and "no rep was finished, so nothing was saved" in out and "--no-save" not in out


def test_ctrl_c_while_the_command_loads_is_a_plain_interrupted(monkeypatch, capsys, stopping_signals):
    """Ctrl-C lands while `voicedrill` imports its modules (before cli.main runs): one line, 130."""
    import importlib.abc

    import voicedrill

    class Interrupted(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name == "voicedrill.cli":
                raise KeyboardInterrupt

    monkeypatch.delitem(sys.modules, "voicedrill.cli", raising=False)
    monkeypatch.setattr(sys, "meta_path", [Interrupted(), *sys.meta_path])
    assert voicedrill.main() == 130 and capsys.readouterr().err == "voicedrill: interrupted\n"


def test_an_unreadable_recording_says_permission_denied(tmp_path, line_wav, ordinary_user):
    locked = tmp_path / "locked.wav"
    locked.write_bytes(line_wav.read_bytes())
    locked.chmod(0)
    done = subprocess.run([*ordinary_user, sys.executable, "-m", "voicedrill.cli", "check", str(locked), "--no-save"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "permission denied" in done.stderr, done.stderr


# --- found by a hostile look at the first version of all this ----------------------------------

ONTO_HISTORY = {  # the history by another name of the kind each option writes (a hard link: found by an attack, the events wiped it)
    "export": ["export", "--out", "{link}.csv"],
    "page": ["report", "1", "--html", "{link}.html"],
    "picture": ["report", "1", "--png", "{link}.png"],
    "chart": ["history", "--plot", "{link}.png"],
    "chart onto the wal": ["history", "--plot", "{wal}.png"],
    "events": ["drill", "--input", "{wav}", "--speed", "0", "--no-speech", "--events", "{link}.jsonl"],
}


@pytest.mark.parametrize("case", sorted(ONTO_HISTORY))
def test_no_output_may_replace_the_history(db, cli, history_bytes, line_wav, case):
    db.write_bytes(history_bytes)
    before = digest(db)
    link = db.parent / "history-link"
    suffix = ONTO_HISTORY[case][-1].rsplit(".", 1)[1]
    os.link(db, f"{link}.{suffix}")
    wal = Path(f"{db}-wal")
    if "{wal}" in ONTO_HISTORY[case][-1]:
        wal.write_bytes(b"")
        os.link(wal, f"{wal}.png")
    err = cli.refused([a.format(wav=line_wav, link=link, wal=wal) for a in ONTO_HISTORY[case]], "your history")
    assert "speech recogniser:" not in err and digest(db) == before and len(ids(db)) == 29


OUTPUT_OPTIONS = {"page": ["report", "1", "--html"], "picture": ["report", "1", "--png"], "chart": ["history", "--plot"],
           "team page": ["team", "--html"], "export": ["export", "--out"], "events": ["drill", "--input", "{wav}", "--speed", "0", "--no-speech", "--events"]}


@pytest.mark.parametrize("kept", ["recording.wav", "drill.toml", "recording.flac"])
@pytest.mark.parametrize("case", sorted(OUTPUT_OPTIONS))
def test_an_output_is_never_written_over_a_file_of_another_kind(db, cli, history_bytes, line_wav, tmp_path, case, kept):
    """A slip of the name ("--png keep.wav") used to replace a recording or a drill file with a chart."""
    db.write_bytes(history_bytes)
    path = tmp_path / kept
    path.write_bytes(b"the rep's own file")
    err = cli.refused([a.format(wav=line_wav) for a in OUTPUT_OPTIONS[case]] + [path], "give a file name ending in")
    assert path.read_bytes() == b"the rep's own file" and "speech recogniser:" not in err


def test_events_may_not_replace_the_recording(db, cli, line_wav, tmp_path):
    recording = tmp_path / "in.jsonl"  # a recording by a name the events option takes
    recording.write_bytes(line_wav.read_bytes())
    cli.refused(["drill", "--input", recording, "--events", recording, "--speed", "0", "--no-speech"], "the recording being checked")
    assert recording.read_bytes() == line_wav.read_bytes()


@pytest.mark.parametrize("target", ["pipe", "/dev/full", "/dev/null"])
def test_events_into_a_pipe_or_device_is_refused_not_a_hang(db, cli, line_wav, tmp_path, target):
    path = tmp_path / "ev.jsonl"
    _fifo(path) if target == "pipe" else path.symlink_to(target)
    cli.refused(["drill", "--input", line_wav, "--events", path, "--speed", "0", "--no-speech"], "not a regular file")


@pytest.mark.parametrize("where", ["title", "out folder"])
def test_square_brackets_in_names_are_text_not_markup(db, cli, line_wav, tmp_path, where):
    drill = tmp_path / "brackets.toml"
    drill.write_text(GOOD_DRILL.replace('title = "The hard close sequence"', 'title = "Close [/] [bold]now[/b]"'))
    out = tmp_path / "o[" / "b]"  # the path reads …/o[/b]
    out.mkdir(parents=True)
    args = ["check", line_wav, "--drill", drill] if where == "title" else ["drill", "--input", line_wav, "--speed", "0", "--no-speech", "--out", out]
    code, text, err = cli(*args)
    assert code == 0 and "Traceback" not in err and ids(db) == [1], err
    assert "Close [/] [bold]now[/b]" in text if where == "title" else str(out) in " ".join(text.split())


def _real_pending(db: Path, drill) -> Path:
    from test_history import sample_report

    Store(db).close()
    blocked = Store(db)
    blocked.problem = "locked"
    path = blocked.save_rep(Session.of("drill", drill, "fake", "none"), 1, sample_report(drill), "mic").pending
    blocked.close()
    return path


SPOILED = {
    "session is text": lambda r: r.update(session="x"),
    "no pace": lambda r: r["session"].pop("pace_wpm"),
    "levels not base64": lambda r: r.update(levels="!!!notbase64"),
    "huge number": lambda r: r.update(number=10**30),
    "score is text": lambda r: r["report"].update(score="x"),
    "one-value pace": lambda r: r["session"].update(pace_wpm=[1]),
    "no source": lambda r: r.update(source=None),
    "a list": lambda r: (r.clear(), r.update(x=[])),
    "turns that are not objects": lambda r: r["report"].update(customer=[None]),  # (found by an attack: a traceback in every command)
    "nested past the stack": lambda r: None,
}


@pytest.mark.parametrize("case", sorted(SPOILED))
def test_a_pending_file_of_the_wrong_shape_is_left_with_a_note(db, cli, drill, case):
    path = _real_pending(db, drill)
    record = json.loads(path.read_text())
    SPOILED[case](record)
    path.write_text(json.dumps(record) if case != "nested past the stack" else "[" * 200000)
    for _ in range(2):  # and again: nothing breaks for good
        code, out, err = cli("history")
        assert code == 0 and "Traceback" not in err and f"{path.name} is not a rep voicedrill can read" in err, err
    assert path.exists() and ids(db) == []


def test_two_commands_importing_at_once_agree(db, drill):
    _real_pending(db, drill)
    folder = pending.folders(db)[0]
    template = json.loads(next(folder.glob("rep-*.json")).read_text())
    for n in range(400):
        template["uid"] = f"u{n:04d}"
        (folder / f"rep-u{n:04d}.json").write_text(json.dumps(template))
    runs = [subprocess.Popen([sys.executable, "-m", "voicedrill.cli", command], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for command in ("history", "export")]
    for run in runs:
        out, err = run.communicate(timeout=120)
        assert run.returncode == 0 and "Traceback" not in err and "not a rep voicedrill can read" not in err, err
    assert len(ids(db)) == 401 and len(set(ids(db, "reps", "uid"))) == 401


@pytest.mark.parametrize("command", [["history"], ["export"], ["report", "1"]])
def test_readers_work_on_a_full_disk_and_leave_nothing(tmp_path, cli, history_bytes, full_disk, monkeypatch, command):
    path = full_disk / "h.db"
    path.write_bytes(history_bytes)
    monkeypatch.setenv(DB_ENV, str(path))
    fill(full_disk)
    code, out, err = cli(*command)
    assert code == 0 and "Traceback" not in err and out, err
    assert sorted(p.name for p in full_disk.iterdir()) == ["filler", "h.db"]


LONG = "x" * 300
LONG_NAMES = {
    "export": ["export", "--out", f"{LONG}.csv"], "page": ["report", "1", "--html", f"{LONG}.html"],
    "chart": ["history", "--plot", f"{LONG}.png"], "synth": ["synth", f"{LONG}.wav"],
    "model folder": ["model", "download", "--dir", LONG], "drill name": ["drills", "show", LONG], "check drill": ["check", "{wav}", "--drill", LONG],
}


@pytest.mark.parametrize("case", sorted(LONG_NAMES))
def test_names_too_long_for_the_system_are_one_line(db, cli, history_bytes, line_wav, tmp_path, monkeypatch, case):
    db.write_bytes(history_bytes)
    monkeypatch.chdir(tmp_path)
    code, out, err = cli(*[a.format(wav=line_wav) for a in LONG_NAMES[case]])
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err


@pytest.mark.parametrize("args", [["check", "no\nsuch.wav"], ["synth", "/nonexist\ndir/x.wav"], ["drills", "show", "./a\nb.toml"]])
def test_a_newline_in_a_name_stays_on_one_line(db, cli, args):
    code, out, err = cli(*args)
    assert code == 2 and err.count("\n") == 1 and "\\n" in err, err


DAMAGED_ROWS = {
    "score is text": "UPDATE reps SET report = json_set(report, '$.score', 'x') WHERE id = 2",
    "pace limit is text": "UPDATE sessions SET pace_low = 'x' WHERE id = 1",
    "report cut short": "UPDATE reps SET report = '{' WHERE id = 2",
    "a word time is text": "UPDATE reps SET report = json_set(report, '$.words[0].start', 'x') WHERE id = 2",
}


@pytest.mark.parametrize("case", sorted(DAMAGED_ROWS))
@pytest.mark.parametrize("command", [["history"], ["export"], ["report", "s1", "--html", "{tmp}/s.html"], ["report", "2"]])
def test_damaged_rows_are_named_never_a_traceback(db, cli, history_bytes, tmp_path, case, command):
    db.write_bytes(history_bytes)
    with sqlite3.connect(db) as con:
        con.execute(DAMAGED_ROWS[case])
    code, out, err = cli(*[a.format(tmp=tmp_path) for a in command])
    assert "Traceback" not in err and len([line for line in err.splitlines() if not line.startswith("wrote ")]) <= 1, err
    assert code == 0 or (code == 2 and "damaged" in err), err


def test_running_out_of_rep_numbers_keeps_the_rep(db, cli, line_wav):
    Store(db).close()
    with sqlite3.connect(db) as con:
        con.execute("UPDATE issued SET last = 9223372036854775807 WHERE name = 'reps'")
    code, out, err = cli("check", line_wav)
    assert code == 0 and "Traceback" not in err and "the rep is kept in" in err and "number" in err, err


def test_an_endless_download_stops_at_the_expected_size(cli, tmp_path):
    err = cli.refused(["model", "download", "--dir", tmp_path / "m", "--url", "file:///dev/zero"], "expected")
    assert "nothing was installed" in err and list((tmp_path / "m").iterdir()) == []


def test_outputs_are_written_through_a_link_not_over_it(db, cli, history_bytes, tmp_path):
    db.write_bytes(history_bytes)
    target = tmp_path / "real.csv"
    target.write_text("old")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    assert cli("export", "--out", link)[0] == 0
    assert link.is_symlink() and target.read_text().startswith("rep,")


def _on_a_terminal(args: list[str], answer: bytes) -> tuple[int, str, str]:
    """Run voicedrill with standard input and error on a terminal (a pseudo-terminal), standard
    output to a pipe; `answer` is typed (b"\\x04": Ctrl-D). Returns (status, output, what the terminal showed)."""
    import pty

    master, slave = pty.openpty()
    run = subprocess.Popen([sys.executable, "-m", "voicedrill.cli", *args], stdin=slave, stdout=subprocess.PIPE, stderr=slave, text=True)
    os.close(slave)
    os.write(master, answer)
    out, _ = run.communicate(timeout=60)
    shown = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the terminal's other end is closed: all of it read
            break
        if not chunk:
            break
        shown += chunk
    os.close(master)
    return run.returncode, out, shown.decode().replace("\r\n", "\n")


@pytest.mark.parametrize("answer, kept", [(b"n\n", True), (b"\n", True), (b"\x04", True), (b"y\n", False), (b"yes\n", False)])
def test_deleting_on_a_terminal_asks_first(db, history_bytes, answer, kept):
    """`history --delete s8` took a whole ten-rep session at once, and a rep's number is never used
    again: a slip ("s8" for "8") lost ten reps with no way back. On a terminal it now says what
    would go and asks; only "y" deletes (Enter, anything else or the end of input keeps it)."""
    db.write_bytes(history_bytes)
    session = ids(db, "reps", "session_id")[-1]
    count = ids(db, "reps", "session_id").count(session)
    code, out, shown = _on_a_terminal(["history", "--delete", f"s{session}"], answer)
    assert code == 0 and f"Session s{session}: {count} reps of hard-close, " in shown and ".\nDelete it? It cannot be undone. [y/N]" in shown
    assert ("nothing deleted" in out) == kept and (len(ids(db)) == 29) == kept and "[y/N]" not in out
    yes = subprocess.run([sys.executable, "-m", "voicedrill.cli", "history", "--delete", "1", "--yes"], stdin=subprocess.DEVNULL,
                         capture_output=True, text=True, timeout=60)
    assert yes.returncode == 0 and "deleted 1 rep" in yes.stdout and "[y/N]" not in yes.stdout


def test_deleting_someone_elses_reps_on_a_terminal_says_whose_they_are(db, history_bytes, monkeypatch):
    """A shared history: `--delete s2` asked "Delete it?" of another person's session as of one's own."""
    db.write_bytes(history_bytes)
    session = ids(db, "reps", "session_id")[-1]
    code, _, mine = _on_a_terminal(["history", "--delete", f"s{session}"], b"n\n")
    assert code == 0 and "not yours" not in mine
    owner = sqlite3.connect(db).execute("SELECT DISTINCT \"user\" FROM sessions").fetchone()[0]
    monkeypatch.setenv("VOICEDRILL_USER", "someone-else")
    code, _, theirs = _on_a_terminal(["history", "--delete", f"s{session}"], b"n\n")
    assert code == 0 and f", {owner}'s reps, not yours.\nDelete it?" in theirs, theirs


def test_a_person_who_left_is_deleted_after_asking_and_no_one_else(db, history_bytes, monkeypatch):
    """No way to remove one who left but rep by rep (found by a new manager): `--delete-person`
    names them as the history holds the name, says what would go and asks; only their reps go."""
    db.write_bytes(history_bytes)
    with sqlite3.connect(db) as con:
        con.execute("UPDATE sessions SET \"user\" = 'ben' WHERE id = (SELECT max(id) FROM sessions)")
        theirs = con.execute("SELECT count(*) FROM reps r JOIN sessions s ON s.id = r.session_id WHERE s.\"user\" = 'ben'").fetchone()[0]
    monkeypatch.setenv("VOICEDRILL_USER", "ana")
    code, out, shown = _on_a_terminal(["history", "--delete-person", "BEN"], b"\n")
    assert code == 0 and f"Every rep of ben: {theirs} reps of hard-close, " in shown and ", ben's reps, not yours.\nDelete them? It cannot be undone. [y/N]" in shown, shown
    assert "nothing deleted" in out and len(ids(db)) == 29
    yes = subprocess.run([sys.executable, "-m", "voicedrill.cli", "history", "--delete-person", "Ben", "--yes"], stdin=subprocess.DEVNULL,
                         capture_output=True, text=True, timeout=60)
    assert yes.returncode == 0 and f"deleted {theirs} reps (every rep of ben)" in yes.stdout and len(ids(db)) == 29 - theirs
    again = subprocess.run([sys.executable, "-m", "voicedrill.cli", "history", "--delete-person", "ben", "--yes"], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 2 and again.stderr.strip() == "voicedrill: error: no rep of ben in the history (voicedrill team lists everyone's names)"


@pytest.mark.parametrize("args, said", [
    (["--delete-person", "ana", "--drill", "hard-close", "--yes"], "history --delete-person deletes every rep of that person, in every drill: --drill cannot narrow it"),
    (["--delete-person", "ana", "--since", "7d", "--yes"], "--since cannot narrow it"),
    (["--delete", "3", "--last", "2", "--yes"], "history --delete deletes that rep or session: --last cannot narrow it"),
    (["--yes"], "history --yes goes with --delete or --delete-person"),
])
def test_a_delete_told_to_narrow_is_refused_and_deletes_nothing(db, history_bytes, args, said):
    """`--delete-person fred --drill micro-commitment --yes` deleted fred's reps of every drill without a word (found by an attack)."""
    db.write_bytes(history_bytes)
    run = subprocess.run([sys.executable, "-m", "voicedrill.cli", "history", *args], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and said in run.stderr and len(run.stderr.strip().splitlines()) == 1 and len(ids(db)) == 29
    assert db.read_bytes() == history_bytes


def test_deleting_ones_last_session_with_none_is_one_line(db, history_bytes, monkeypatch):
    """`history --delete last --yes` by one with no session of their own: a traceback (found by a review)."""
    db.write_bytes(history_bytes)
    monkeypatch.setenv("VOICEDRILL_USER", "newcomer")
    run = subprocess.run([sys.executable, "-m", "voicedrill.cli", "history", "--delete", "last", "--yes"], stdin=subprocess.DEVNULL,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and run.stderr.strip() == "voicedrill: error: no session in the history (see voicedrill history)" and len(ids(db)) == 29


def test_a_delete_with_its_input_closed_is_no_traceback(db, history_bytes):
    """`history --delete 1 --yes <&-` failed with a traceback (no standard input to ask on; found by an attack)."""
    db.write_bytes(history_bytes)
    run = subprocess.run([sys.executable, "-m", "voicedrill.cli", "history", "--delete", "1", "--yes"], stdin=None, close_fds=True,
                         capture_output=True, text=True, timeout=60, preexec_fn=lambda: os.close(0))
    assert run.returncode == 0 and "deleted 1 rep" in run.stdout and "Traceback" not in run.stderr


def test_deleting_a_damaged_rep_on_a_terminal_counts_it_and_deletes_it(db, history_bytes):
    """A damaged rep is left out of every view, but it is in the history: asked on a terminal,
    `--delete` said "no rep 2 in the history", and for a session counted fewer reps than it took."""
    db.write_bytes(history_bytes)
    with sqlite3.connect(db) as con:
        con.execute("UPDATE reps SET report = '{broken' WHERE id = 2")
        session, count = con.execute("SELECT session_id, count(*) FROM reps WHERE session_id = (SELECT session_id FROM reps WHERE id = 2)").fetchone()
    code, out, shown = _on_a_terminal(["history", "--delete", f"s{session}"], b"y\n")
    assert code == 0 and f"Session s{session}: {count} reps of hard-close, " in shown and "(1 damaged)" in shown, shown
    assert f"deleted {count} reps" in out and "left out" not in shown  # (no note about the rep it has just deleted)
    assert 2 not in ids(db) and len(ids(db)) == 29 - count


def test_deleting_on_a_terminal_with_its_question_hidden_is_refused_not_a_hang(db, history_bytes):
    """`history --delete s4 2>/dev/null` on a terminal waited for an answer to a question nobody saw."""
    import pty

    db.write_bytes(history_bytes)
    master, slave = pty.openpty()
    run = subprocess.run([sys.executable, "-m", "voicedrill.cli", "history", "--delete", "1"], stdin=slave,
                         capture_output=True, text=True, timeout=60)
    os.close(slave)
    os.close(master)
    assert run.returncode == 2 and "add --yes to delete without asking" in run.stderr and len(ids(db)) == 29


def test_export_writes_what_its_file_name_says(db, cli, history_bytes, tmp_path):
    """`export --out reps.jsonl` wrote CSV into a .jsonl file (the format defaulted to csv). The
    name now picks the format; a --format that contradicts the name is refused, nothing written."""
    db.write_bytes(history_bytes)
    code, out, err = cli("export", "--out", tmp_path / "reps.jsonl")
    assert code == 0 and json.loads((tmp_path / "reps.jsonl").read_text().splitlines()[0])["rep"] == 1
    code, out, err = cli("export", "--out", tmp_path / "reps.csv")
    assert code == 0 and (tmp_path / "reps.csv").read_text().startswith("rep,")
    cli.refused(["export", "--out", tmp_path / "other.csv", "--format", "jsonl"], "--format jsonl writes JSON lines")
    assert not (tmp_path / "other.csv").exists()


EMPTY_NAMES = [  # each option or argument that names something, given as '' (or blanks)
    ["check", "", "--no-save"], ["check", "{wav}", "--drill="], ["check", "{wav}", "--model= "], ["drill", "--input=", "--no-speech"],
    ["drill", "--input", "{wav}", "--out=", "--no-speech"], ["app", "--host="], ["synth", ""], ["synth", "x.wav", "--voice="],
    ["history", "--drill="], ["report", "1", "--html="], ["export", "--out="], ["drills", "show", ""], ["drills", "validate", ""],
    ["sync", "--to="], ["model", "download", "--dir="], ["model", "download", "--url="], ["model", "path", "--model="], ["--db=", "history"],
]


@pytest.mark.parametrize("args", EMPTY_NAMES, ids=" ".join)
def test_an_empty_name_is_refused_as_empty(db, cli, line_wav, tmp_path, monkeypatch, args):
    """`--model ''` looked for vosk everywhere and `--out ''` wrote into the current folder, `--input ''`
    said ".: is a folder" and `model download --dir ''` went to the network: each is now one line
    that says the name is empty and what to give, before anything is done."""
    monkeypatch.chdir(tmp_path)
    before = sorted(tmp_path.rglob("*"))
    cli.refused([a.format(wav=line_wav) for a in args], "is empty; give ")
    assert sorted(tmp_path.rglob("*")) == before and not db.exists()


@pytest.mark.parametrize("name, args", [("history.wav", ["synth", "{db}"]),
                                        ("history.jsonl", ["drill", "--input", "{wav}", "--no-save", "--no-speech", "--speed", "0", "--events", "{db}"])])
def test_a_command_that_never_opens_the_history_does_not_write_over_it(tmp_path, cli, line_wav, monkeypatch, name, args):
    """`synth` and `drill --no-save` never open the history, so the guard that keeps outputs off it
    did not apply: `synth history.wav` replaced a history of that name with a recording (found by an attack)."""
    db = tmp_path / name
    monkeypatch.setenv(DB_ENV, str(db))
    assert cli("check", line_wav)[0] == 0
    before = digest(db)
    run = subprocess.run([sys.executable, "-m", "voicedrill.cli", *[a.format(db=db, wav=line_wav) for a in args]],
                         capture_output=True, text=True, timeout=120)  # (a process of its own: this one has opened the history)
    assert run.returncode == 2 and f"{db}: that is your history" in run.stderr and "Traceback" not in run.stderr, run.stderr
    assert digest(db) == before


@pytest.mark.parametrize("make, message", [
    ("PRAGMA user_version = 3; CREATE TABLE t (x)", "an SQLite database of another program"),
    ("PRAGMA user_version = 2; CREATE TABLE t (x)", "an SQLite database of another program"),
    ("DROP TABLE issued", "cannot be read: the table issued is missing"),
    ("ALTER TABLE reps DROP COLUMN fix_first", "cannot be read: the column reps.fix_first is missing"),
])
def test_a_history_without_voicedrills_tables_is_refused_before_any_work(db, cli, history_bytes, line_wav, make, message):
    """Another program's file that says schema 3 (or 2), or a history missing a table or column,
    was opened: check transcribed, then kept its rep waiting for a history it could never go into,
    and every later command failed with 'no such table' (found by an attack)."""
    if not make.startswith("PRAGMA"):
        db.write_bytes(history_bytes)
    con = sqlite3.connect(db)
    con.executescript(make)
    con.close()
    before = digest(db)
    for command in (["check", line_wav], ["history"]):
        err = cli.refused(command, message, db)
        assert "speech recogniser" not in err
    assert digest(db) == before and sorted(p.name for p in db.parent.iterdir()) == [db.name]


def test_a_pipe_named_as_a_drill_is_said_to_be_a_pipe(tmp_path, cli, line_wav, monkeypatch):
    """`--drill fifo` with fifo.toml a pipe in the drills folder said "no drill named 'fifo' (known: …,
    fifo, …)" (found by an attack)."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    folder = tmp_path / "voicedrill" / "drills"
    folder.mkdir(parents=True)
    os.mkfifo(folder / "fifo.toml")
    cli.refused(["check", line_wav, "--drill", "fifo", "--no-save"], "is a pipe or a device, not a drill file", folder / "fifo.toml")
    assert "fifo" not in cli.refused(["check", line_wav, "--drill", "nope", "--no-save"], "no drill named 'nope' (known: ")


OTHER_PROGRAM = """
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
con.execute("PRAGMA journal_mode = WAL")
con.execute("PRAGMA wal_autocheckpoint = 0")
con.execute("CREATE TABLE t (x)")
con.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(50)])
if sys.argv[2] == "newer":
    con.execute("PRAGMA user_version = 99")
con.commit()
import os; os._exit(0)  # crashed: its reps stay in the -wal
"""


@pytest.mark.parametrize("kind, message", [("foreign", "an SQLite database of another program"), ("newer", "newer")])
def test_a_refused_history_with_a_wal_is_left_as_it_is(tmp_path, cli, line_wav, monkeypatch, kind, message):
    """Another program's WAL-mode file (or a newer voicedrill's) with its changes still in the -wal:
    refused, and "left as it is" said — while SQLite, closing, wrote the -wal into it and deleted it (found by an attack)."""
    db = tmp_path / "other.db"
    subprocess.run([sys.executable, "-c", OTHER_PROGRAM, str(db), kind], check=True, timeout=60)
    files = lambda: {p.name: digest(p) for p in tmp_path.iterdir() if not p.name.endswith("-shm")}  # (-shm: SQLite's shared-memory index)
    before, names = files(), sorted(p.name for p in tmp_path.iterdir())
    assert "other.db-wal" in before
    monkeypatch.setenv(DB_ENV, str(db))
    for command in (["history"], ["check", line_wav]):
        cli.refused(command, message, db)
        assert files() == before and sorted(p.name for p in tmp_path.iterdir()) == names
