"""The rep store: every finished rep, from `check` and from `drill`, in one SQLite file.

WAL mode and short write transactions let two voicedrill processes save at once. The file is
checked when it is opened, before any work and before anything is written; a damaged or foreign
file is refused, never repaired, replaced or touched. A rep the file cannot take (locked too long,
disk full, its session deleted) waits in a pending file and comes in on the next open. Rep and
session numbers are never handed out twice.
"""

from __future__ import annotations

import base64
import getpass
import json
import os
import re
import shutil
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TypeVar

import numpy as np

from . import pending
from .data import NOT_THIS_DRILL, RepReport, in_session, too_fast
from .drills import Drill
from .errors import InUse, VoicedrillError
from .files import keep_safe, reason
from .report import counted, from_dict, plain, rep_row, to_dict
from .schema import (APPLICATION_ID, DAMAGED_ROW, DB_ENV, HEADLINES_VERSION, LARGEST_ID, MIGRATIONS, SCHEMA_VERSION, check_header, damaged, data_dir,
                     db_path, foreign, is_url, missing, newer, unusable, wal_bytes, writable)

T = TypeVar("T")

BUSY_TIMEOUT_S = 10.0  # how long a save waits for another process's write to finish
READER_TAKES_IN_S = 0.5  # …and a reader, to take in reps waiting in pending files (else it reads the history as it is)
LEVEL_STEP_S = 0.05  # stored energy envelope resolution (for the timeline picture)


@dataclass
class Session:
    """One run of reps (a `check` is a run of one); written with its first rep."""

    kind: str  # check | drill | imported
    drill: str
    engine: str
    model: str
    pace_wpm: tuple[float, float]
    max_pause_s: float
    started_at: str = field(default_factory=lambda: _now())
    uid: str = field(default_factory=lambda: uuid.uuid4().hex)  # finds it again from a pending rep
    user: str = field(default_factory=lambda: who())
    id: int | None = None

    @classmethod
    def of(cls, kind: str, drill: Drill, engine: str, model: str, user: str | None = None) -> Session:
        """A new session of `drill` by `user` (default: $VOICEDRILL_USER, else the login name)."""
        return cls(kind, drill.name, engine, model, drill.pace_wpm, drill.max_pause_s, user=who(user))


@dataclass(frozen=True)
class SavedRep:
    """A rep as stored: where it came from, its headline figures and its full report."""

    id: int
    session: int
    number: int
    session_reps: int
    saved_at: datetime  # local time
    kind: str
    drill: str
    engine: str
    model: str
    user: str
    source: str
    audio: str | None
    pace_wpm: tuple[float, float]  # the drill's limits when the rep was taken
    max_pause_s: float
    report: RepReport  # with its verdicts, as decided when it was scored
    levels: np.ndarray | None  # dBFS every LEVEL_STEP_S, None for imported reps

    @property
    def called(self) -> str:
        """The rep as a heading names it, by its one number: "rep 16 (3rd of s14)"; one the history
        could not take yet has none ("rep 0 (3rd of s0)" titled its chart), and waits, as the run's
        table and summary say it, on this computer."""
        return f"rep {self.id} ({in_session(self.session, self.number)})" if self.id else "a rep waiting on this computer"


@dataclass(frozen=True)
class TeamRep:
    """A rep as the team view reads it: who, which drill, when, and its headline verdicts."""

    user: str
    drill: str
    saved_at: datetime  # local time
    score: int
    timed_s: float | None  # time from the first line to the last (RepReport.timed_s: said by the script)
    fix_first: str | None
    rushed: bool  # said faster than its drill's pace band (data.too_fast)

    @property
    def scored(self) -> bool:
        """Was the rep scored (RepReport.scored, as its fix-first says)?"""
        return self.fix_first != NOT_THIS_DRILL


@dataclass(frozen=True)
class Saved:
    """Where a finished rep went: its number in the history, or the pending file it waits in."""

    rep: int | None
    pending: Path | None = None
    problem: str = ""  # why it waits (the history's one-line error)
    until: str = ""  # when it goes into the history
    sent: dict[Path, int] = field(default_factory=dict)  # reps that waited and went in just before it: file → number

    @property
    def waiting(self) -> str:
        """What to tell the rep about a rep that waits in a pending file."""
        return f"{self.problem} — the rep is kept in {self.pending} and goes into the history {self.until}"


class Store:
    """The open history database. `notes` collects what a reader should be told (reps skipped, imported)."""

    UNTIL = "the next time voicedrill opens it"  # when a rep the history could not take goes in

    def __init__(self, path: Path | None = None, write: bool = True, timeout_s: float | None = None):
        self.path = path or db_path(opening=True)
        self.waits_at: Path | str = self.path  # keys the pending files of reps waiting for it
        self.timeout_s = timeout_s or BUSY_TIMEOUT_S
        self.version = SCHEMA_VERSION  # an older file read as it is keeps its own
        self.notes: list[str] = []
        self.damaged: list[int] = []  # reps left out of a read because their row is damaged
        self.problem = ""  # set when a save failed: the run's later reps go straight to pending files
        self._copy: Path | None = None
        check_header(self.path)
        for suffix, what in (("", "your history"), ("-wal", "part of your history"), ("-shm", "part of your history")):
            keep_safe(f"{self.path}{suffix}", what)
        waiting = self._waiting()
        if not (write or waiting):
            self._open_read()
            return
        wait = self.timeout_s
        if not write:  # a reader takes waiting reps in only if the history is free now (each progress page waited 10 s)
            self.timeout_s = min(wait, READER_TAKES_IN_S)
        try:
            self._open_write()
        except VoicedrillError as exc:
            if write:
                raise
            self.notes.append(f"{counted(len(waiting), 'rep')} waiting in {waiting[0].parent} for the history ({exc.plain})")
            self.timeout_s = wait
            self._open_read()
        else:
            self._import(waiting)
        self.timeout_s = wait

    def _connect(self, target: str | Path, uri: bool = False) -> None:
        try:
            self.db = sqlite3.connect(target, timeout=self.timeout_s, isolation_level=None, uri=uri)
            # a name is one person whatever its case, as on the team database: SQLite's own lower() folds ASCII alone ("Émile")
            self.db.create_function("lower", 1, lambda text: text.lower() if isinstance(text, str) else text, deterministic=True)
            # a text that is not UTF-8 (a byte flipped on disk) is read with its bad bytes kept apart, and its row
            # is then damaged, left out and named (see _kept), not every row of the history unreadable
            self.db.text_factory = lambda data: data.decode("utf-8", "surrogateescape")
        except (OSError, sqlite3.Error) as exc:
            raise unusable(self.path, str(exc)) from None

    def _open_write(self) -> None:
        """Open for saving: checked first, then migrated if older, else a write lock taken and released
        (proof that saving will work, changing nothing)."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise unusable(self.path, reason(exc)) from None
        beside = self._beside()
        self._connect(self.path)
        try:
            version = self._verify()
            if version < SCHEMA_VERSION:
                self._migrate()
            else:
                with self._write():
                    pass
        except VoicedrillError:
            self._close_untouched()  # SQLite tidies its -wal and -shm files away as the last connection closes…
            self._tidy(beside)  # …unless a full disk stopped it
            raise

    def _beside(self) -> set[Path]:
        """SQLite's -wal and -shm files that are there before we open."""
        return {p for p in (Path(f"{self.path}-wal"), Path(f"{self.path}-shm")) if p.exists()}

    def _tidy(self, before: set[Path]) -> None:
        """Remove the -wal and -shm files our failed open made (none of another process's)."""
        for made in self._beside() - before:
            try:
                made.unlink()
            except OSError:
                pass  # it goes when its disk has room again

    def _open_read(self) -> None:
        """Open for reading only, seeing every committed rep, and leaving nothing beside the file."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            self._connect(":memory:")  # nothing saved yet: read without creating the file
            self._create(self.db)
            return
        beside = self._beside()
        if not (writable(self.path) and self._open_ordinary()):
            self._open_private()
        try:
            version = self._verify()
            if version == 0:
                self.close()
                self._connect(":memory:")
                self._create(self.db)
            else:
                self.version = version
        except VoicedrillError:
            self._close_untouched()
            self._tidy(beside)
            raise

    def _open_ordinary(self) -> bool:
        """An ordinary connection (the last to close removes -wal and -shm); False if SQLite cannot
        make its index file (a full disk), with nothing left behind."""
        beside = self._beside()
        try:
            self._connect(self.path)
            self.db.execute("PRAGMA query_only = ON")
            _one(self.db, "SELECT count(*) FROM sqlite_master")
            return True
        except (VoicedrillError, sqlite3.Error):
            self.close()
            self._tidy(beside)
            return False

    def _open_private(self) -> None:
        """Where SQLite cannot share the WAL index (a read-only folder, a full disk): the file as it
        is, or, with reps still in the WAL, a private copy of the file and its WAL."""
        wal = Path(f"{self.path}-wal")
        if not wal_bytes(self.path):
            self._connect(f"{self.path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
            return
        self._copy = Path(tempfile.mkdtemp(prefix="voicedrill-read-"))
        try:
            shutil.copyfile(self.path, self._copy / "history.db")
            shutil.copyfile(wal, self._copy / "history.db-wal")
        except OSError as exc:
            self.close()
            raise unusable(self.path, reason(exc)) from None
        self._connect(self._copy / "history.db")

    def _verify(self) -> int:
        """Refuse damage, a newer schema or another program's tables, reading only; returns the schema version."""
        with self._errors() as db:
            db.execute("PRAGMA foreign_keys = ON")
            found = _one(db, "PRAGMA integrity_check(1)")  # milliseconds, even for thousands of reps
            if found != "ok":
                raise VoicedrillError(damaged(self.path, "it is damaged inside (its integrity check failed)"))
            version = _one(db, "PRAGMA user_version")
            if version > SCHEMA_VERSION:  # the header said otherwise: changed since, in the WAL
                raise VoicedrillError(newer(self.path, version))
            if version == 0 and _one(db, "SELECT count(*) FROM sqlite_master"):
                raise VoicedrillError(foreign(self.path))
            if gap := missing(db, version):  # refused before any work: a rep was transcribed, then kept waiting for good
                what, not_ours = gap
                raise VoicedrillError(foreign(self.path) if not_ours else damaged(self.path, f"{what} is missing"))
        return version

    def _create(self, db: sqlite3.Connection) -> None:
        for step in MIGRATIONS:
            step(db)

    def _migrate(self) -> None:
        """Bring the schema up to date in one write transaction (a new default history also takes in
        voicedrill 0.1's rep folders)."""
        with self._errors() as db:
            deadline = time.monotonic() + self.timeout_s
            while True:
                try:
                    _one(db, "PRAGMA journal_mode = WAL")  # (a no-op once it is)
                    break
                except sqlite3.OperationalError:  # another voicedrill is opening it too: SQLite won't wait here
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
        with self._write() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]  # another process may have done it
            for step in MIGRATIONS[version:]:
                step(db)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            if version == 0 and not os.environ.get(DB_ENV):
                _import_rep_folders(db, data_dir() / "sessions")

    def _close_untouched(self) -> None:
        """Close on a file we refuse, leaving it as it is: the last connection to close writes the
        WAL into the file (another program's reps, or a newer schema's). A read-only connection holds
        the file shared while ours closes, so ours cannot, and cannot itself (it may not write)."""
        try:
            guard = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)
            guard.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except (OSError, sqlite3.Error):
            guard = None  # (no WAL to write: nothing to guard)
        self.close()
        if guard is not None:
            guard.close()

    def hurry(self) -> None:
        """A stop was asked for while a rep is kept: wait on the history no longer than needed. A
        history file waits at most `timeout_s` for another's write: nothing to cut short."""

    def close(self) -> None:
        if getattr(self, "db", None) is not None:
            self.db.close()
            self.db = None
        if self._copy is not None:
            shutil.rmtree(self._copy, ignore_errors=True)
            self._copy = None

    def _errors(self):
        return _Translate(self)

    def _write(self):
        return _Transaction(self)

    def _begin(self) -> sqlite3.Connection:
        """BEGIN IMMEDIATE: the write lock is taken up front, so waits happen in busy_timeout."""
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def _roll_back(self) -> None:
        if self.db.in_transaction:
            self.db.execute("ROLLBACK")

    def save_rep(
        self,
        session: Session,
        number: int,
        report: RepReport,
        source: str,
        levels: np.ndarray | None = None,
        audio: str | None = None,
    ) -> Saved:
        """Store one finished rep (and its session, with the first rep). If the history cannot take it,
        the rep goes to a pending file instead, and so do the run's later reps — until the history
        can be reached again (a team database: `_back`), when the waiting reps go in first."""
        sent = {}
        if self.problem and self._back():
            self.problem = ""
            sent = self._import(self._waiting(), tell=False)
        record = {
            "uid": uuid.uuid4().hex, "session": asdict(session), "number": number, "saved_at": _now(), "source": source,
            "audio": audio, "report": to_dict(report),
            "levels": None if levels is None else base64.b64encode(encode_levels(levels)).decode("ascii"),
        }
        if not self.problem:
            first = session.id is None
            try:
                with self._write() as db:
                    return Saved(_insert(db, record, session, report), sent=sent)
            except VoicedrillError as exc:
                self.problem = str(exc).split("; ")[0]  # what happened; the pending file is what to do
                if first:
                    session.id = None  # its row was rolled back with the rep
        return Saved(None, pending.keep(self.waits_at, record), self.problem, self.UNTIL, sent)

    def _back(self) -> bool:
        """Whether a history that failed a save this run takes reps again. A file is not tried again
        within the run (a locked one would cost every rep its wait): its reps go in at the next open."""
        return False

    def _waiting(self) -> list[Path]:
        """The pending files of reps waiting for this history, oldest first."""
        return pending.found(self.waits_at)

    def _import(self, waiting: list[Path], tell: bool = True) -> dict[Path, int]:
        """Take in reps kept in pending files; each file goes once its rep is committed. Returns
        the reps taken in: the file each waited in → its number (`tell`: a note says how many)."""
        imported: dict[Path, int] = {}
        for path in waiting:
            try:
                record, session, report = _pending_rep(pending.read(path))
            except (KeyError, TypeError, ValueError, IndexError, OverflowError):
                if path.exists():  # (another voicedrill may have taken it in meanwhile)
                    self.notes.append(f"{path} is not a rep voicedrill can read; it was left there")
                continue
            try:
                number = self.take(record, session, report)
            except VoicedrillError as exc:
                left = len(waiting) - waiting.index(path)
                self.notes.append(f"{counted(left, 'rep')} still waiting in {path.parent} for the history ({str(exc).split('; ')[0]})")
                break
            imported |= {path: number} if number is not None else {}
            pending.done(path)
        if imported and tell:
            self.notes.append(f"Now in the history: {counted(len(imported), 'rep')} kept earlier in pending files")
        return imported

    def take(self, record: dict, session: Session, report: RepReport) -> int | None:
        """One rep from elsewhere (a pending file, another history), unless it is here already (by
        uid); returns its number here (None if it was here already)."""
        with self._write() as db:
            if db.execute("SELECT 1 FROM reps WHERE uid = ?", (record["uid"],)).fetchone() is not None:
                return None
            session.id = None  # its number here, if it has one, is found by its uid
            return _insert(db, record, session, report)

    def records(self) -> Iterator[tuple[dict, Session, RepReport]]:
        """Every rep as a record a pending file would hold (for `voicedrill sync`), oldest first. Reps
        from before uids (schema 1) get uids made from what they are, the same every time."""
        sql = ("SELECT r.uid, r.number, r.saved_at, r.source, r.audio, r.report, r.levels, s.uid, s.kind, s.drill, s.engine, s.model,"
               ' s."user", s.pace_low, s.pace_high, s.max_pause_s, s.started_at FROM reps r JOIN sessions s ON s.id = r.session_id ORDER BY r.id')
        with self._errors() as db:
            rows = db.execute(sql).fetchall()
        for (uid, number, saved_at, source, audio, report, levels, suid, kind, drill, engine, model, user, low, high, pause, started) in rows:
            suid = suid or _stable_uid(started, kind, drill, user)
            session = Session(kind, drill, engine, model, (low, high), pause, started, suid, user)
            record = {"uid": uid or _stable_uid(suid, number, saved_at), "session": asdict(session), "number": number, "saved_at": saved_at,
                      "source": source, "audio": audio, "report": json.loads(report),
                      "levels": None if levels is None else base64.b64encode(levels).decode("ascii")}
            yield record, session, from_dict(record["report"])

    def reps(
        self,
        drill: str | None = None,
        since: datetime | None = None,
        last: int | None = None,
        session: int | None = None,
        rep: int | None = None,
        user: str | None = None,
    ) -> list[SavedRep]:
        """Stored reps, oldest first, filtered; `last` keeps the newest N. A damaged rep is left out (and noted)."""
        where, args = _filters(drill=drill, since=since, session=session, rep=rep, user=user)
        sql = (
            "SELECT r.id, r.session_id, r.number, (SELECT count(*) FROM reps x WHERE x.session_id = r.session_id),"
            ' r.saved_at, s.kind, s.drill, s.engine, s.model, s."user", r.source, r.audio,'
            " s.pace_low, s.pace_high, s.max_pause_s, r.report, r.levels"
            " FROM reps r JOIN sessions s ON s.id = r.session_id"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " ORDER BY r.id DESC"
            + (" LIMIT ?" if last is not None else "")
        )
        with self._errors():
            rows = self.db.execute(sql, (*args, last) if last is not None else args).fetchall()
        return self._kept(reversed(rows), _saved)

    def _kept(self, rows: Iterable[tuple], read: Callable[[tuple], T]) -> list[T]:
        """Each row `read`, a damaged one (its rep id first) left out and named once in the notes."""
        kept, unread = [], []
        for row in rows:
            try:
                for text in (value for value in row if isinstance(value, str)):
                    text.encode("utf-8")  # (a byte that is not UTF-8: UnicodeEncodeError, a ValueError)
                kept.append(read(row))
            except DAMAGED_ROW:
                unread.append(row[0])
        unread = [n for n in unread if n not in self.damaged]
        if unread:
            self.damaged += unread
            named = ", ".join(str(n) for n in unread[:10]) + (f" and {len(unread) - 10} more" if len(unread) > 10 else "")
            self.notes.append(f"rep{'s' if len(unread) > 1 else ''} {named} {'are' if len(unread) > 1 else 'is'} damaged in the history and left out")
        return kept

    def team_reps(self, drill: str | None = None, since: datetime | None = None, user: str | None = None) -> list[TeamRep]:
        """Every rep's headline for the team view, oldest first: read from columns, no whole reports
        (a history older than those columns, read as it is: from its reports)."""
        if self.version < HEADLINES_VERSION:
            return [TeamRep(r.user, r.drill, r.saved_at, r.report.score, r.report.timed_s, r.report.fix_first, too_fast(r.report.pace.speech_wpm, r.pace_wpm[1]))
                    for r in self.reps(drill=drill, since=since, user=user)]
        where, args = _filters(drill=drill, since=since, user=user)
        sql = ('SELECT r.id, s."user", s.drill, r.saved_at, r.score, r.timed_s, r.fix_first, r.speech_wpm, s.pace_high FROM reps r JOIN sessions s ON s.id = r.session_id'
               + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY r.id")
        with self._errors():
            rows = self.db.execute(sql, args).fetchall()
        return self._kept(rows, _team_rep)

    def resolve(self, kind: str, number: int | None, user: str | None = None, anyones: bool = True) -> tuple[str, int | None]:
        """A rep or session reference; no number means the newest session — `user`'s own where the
        history holds any (a team database holds everyone's), else anyone's if `anyones` — or None."""
        if number is None:
            with self._errors():
                own = _one(self.db, 'SELECT max(r.session_id) FROM reps r JOIN sessions s ON s.id = r.session_id WHERE lower(s."user") = lower(?)', (user,))
                number = own if own is not None or not anyones else _one(self.db, "SELECT max(session_id) FROM reps")
        return kind, number

    def people(self) -> list[str]:
        """Every name the history holds (one per spelling): whom a chart's colours are shared out among,
        so a person keeps theirs in every chart (plots.people_colours)."""
        with self._errors():
            return [str(name) for name, in self.db.execute('SELECT DISTINCT s."user" FROM sessions s').fetchall()]

    def spelt(self, name: str) -> str:
        """A person's name as the history holds it (their newest session's), whatever its case; as given if it holds none."""
        (where,), args = _filters(user=name)
        with self._errors():
            held = _one(self.db, f'SELECT s."user" FROM sessions s WHERE {where} ORDER BY s.id DESC LIMIT 1', tuple(args))
        return name if held is None else str(held)

    def count(self, session: int | None = None, rep: int | None = None, user: str | None = None) -> int:
        """How many reps one rep, session or person holds, damaged ones too: what delete() would take."""
        where, args = _one_of(session=session, rep=rep, user=user)
        with self._errors():
            return _one(self.db, f"SELECT count(*) FROM reps r JOIN sessions s ON s.id = r.session_id WHERE {where}", args)

    def delete(self, session: int | None = None, rep: int | None = None, user: str | None = None) -> int:
        """Delete one rep, a whole session or every rep of one person (one who left the team); returns
        how many reps went. Sessions left empty go too; numbers are never used again."""
        where, args = _one_of(session=session, rep=rep, user=user)
        with self._write() as db:
            gone = db.execute(f"DELETE FROM reps WHERE id IN (SELECT r.id FROM reps r JOIN sessions s ON s.id = r.session_id WHERE {where})", args).rowcount
            db.execute("DELETE FROM sessions WHERE id NOT IN (SELECT session_id FROM reps)")
        return gone


class _Translate:
    """SQLite errors as one-line user errors that name the file and the fix. Only real damage to
    the file says "move it aside"."""

    def __init__(self, store: Store):
        self.store = store

    def __enter__(self) -> sqlite3.Connection:
        return self.store.db

    def __exit__(self, kind, exc, tb) -> None:
        if not isinstance(exc, sqlite3.Error):
            return
        path, message = self.store.path, str(exc)
        if "locked" in message or "busy" in message:
            raise InUse(
                f"history database {path} is locked by another program (waited {self.store.timeout_s:g} s); try again when it is done", "--no-save"
            ) from None
        if "full" in message:
            raise VoicedrillError(f"history database {path}: the disk is full; free some space") from None
        if "disk I/O" in message:  # SQLite's word for a full disk when it cannot grow its shared-memory file
            full = shutil.disk_usage(path.parent).free < 1 << 20
            why = "the disk is full; free some space" if full else "the disk reported an error (removed or failing?)"
            raise VoicedrillError(f"history database {path}: {why}") from None
        if "readonly" in message or "read-only" in message or "unable to open" in message:
            raise unusable(path, message) from None
        if type(exc) is sqlite3.DatabaseError or "malformed" in message:
            raise VoicedrillError(damaged(path, message)) from None
        raise VoicedrillError(f"history database {path}: {message}") from None


class _Transaction:
    """BEGIN … COMMIT on a store's connection (its `_begin` takes the write lock); on an error,
    rolled back where the connection still can be, and told as the store tells its errors."""

    def __init__(self, store: Store):
        self.store = store

    def __enter__(self):
        with self.store._errors():
            return self.store._begin()

    def __exit__(self, kind, exc, tb) -> None:
        if exc is None:
            with self.store._errors():
                self.store.db.execute("COMMIT")
            return
        self.store._roll_back()
        self.store._errors().__exit__(kind, exc, tb)


def _stable_uid(*what: object) -> str:
    """A uid for a row written before rows had one: the same for the same row, every time."""
    return uuid.uuid5(uuid.NAMESPACE_URL, "voicedrill:" + "|".join(map(str, what))).hex


def _filters(**which) -> tuple[list[str], list]:
    """WHERE clauses and their values for the reps a read picks (drill, since, session, rep, user)."""
    columns = {"drill": "s.drill = ?", "session": "r.session_id = ?", "rep": "r.id = ?", "user": 'lower(s."user") = lower(?)', "since": "r.saved_at >= ?"}
    where, args = [], []
    for name, value in which.items():
        if value is not None:
            where.append(columns[name])
            args.append(_stamp(value) if name == "since" else value)
    return where, args


def _one_of(**which) -> tuple[str, tuple]:
    """The WHERE clause picking one rep, session or person's reps: exactly one is named (a delete
    with none would take every rep)."""
    where, args = _filters(**which)
    if len(where) != 1:
        raise ValueError(f"name one of {', '.join(which)}")
    return where[0], tuple(args)


def open_store(write: bool = True, create: bool = True, offline: bool = False) -> Store:
    """The history $VOICEDRILL_DB names: a team database (postgresql://…) or a file (the default);
    without `create`, a history file that does not exist yet is read as empty, not made; with
    `offline`, a team database that cannot be reached keeps this run's reps in pending files."""
    from .teamdb import PgStore

    target = os.environ.get(DB_ENV, "")
    if is_url(target):
        return PgStore(target, write, offline=offline)
    if re.match(r"\s*\w+\s*=", target):
        raise VoicedrillError(f"{DB_ENV} / --db: write a team database as a URL, postgresql://user@host/database (a key=value connection string is not read)")
    return Store(write=write and (create or db_path().exists()))


def _one(db: sqlite3.Connection, sql: str, args: tuple = ()) -> object:
    """A query's first value, its statement run to the end: an unfinished read would keep holding
    a shared lock, and two voicedrill processes opening a new history would then deadlock."""
    rows = db.execute(sql, args).fetchall()
    return rows[0][0] if rows else None


def _pending_rep(record: dict | None) -> tuple[dict, Session, RepReport]:
    """A pending file's rep, session and report, each field checked (ValueError, KeyError, TypeError: not one we wrote)."""
    if record is None:
        raise ValueError("not a pending rep")
    s = record["session"]
    low, high = (float(v) for v in s["pace_wpm"])
    session = Session(str(s["kind"]), str(s["drill"]), str(s["engine"]), str(s["model"]), (low, high), float(s["max_pause_s"]),
                      str(s["started_at"]), str(s["uid"]), str(s.get("user", "")))
    if not 0 < int(record["number"]) < 2**31 or not all(isinstance(record[k], str) for k in ("uid", "saved_at", "source")):
        raise ValueError("not a pending rep")
    if record.get("levels") is not None:
        base64.b64decode(record["levels"], validate=True)
    return record, session, from_dict(record["report"])


def _next_id(db: sqlite3.Connection, table: str) -> int:
    """The next number for a rep or a session: past every number ever handed out, deleted or not."""
    last = max(
        db.execute(f"SELECT coalesce(max(id), 0) FROM {table}").fetchone()[0],
        db.execute("SELECT coalesce(max(last), 0) FROM issued WHERE name = ?", (table,)).fetchone()[0],
    )
    if last >= LARGEST_ID:
        raise VoicedrillError(f"history database: every {table[:-1]} number has been used; start a new history (set {DB_ENV})")
    db.execute("INSERT INTO issued (name, last) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET last = excluded.last", (table, last + 1))
    return last + 1


def _insert(db: sqlite3.Connection, record: dict, session: Session, report: RepReport) -> int:
    """One rep row with its headline figures (and the session's row first, with its first rep:
    a session without a number is looked for by its uid, then made; a person already in the history
    under another case keeps that spelling)."""
    found = db.execute("SELECT id FROM sessions WHERE uid = ?", (session.uid,)).fetchone() if session.id is None else None
    if found:
        session.id = found[0]
    elif session.id is None:
        session.id = _next_id(db, "sessions")
        known = db.execute('SELECT "user" FROM sessions WHERE lower("user") = lower(?) ORDER BY id LIMIT 1', (session.user,)).fetchone()
        session.user = known[0] if known else session.user  # "ana" joins "Ana": one person, spelt as first saved
        db.execute(
            "INSERT INTO sessions (id, uid, started_at, kind, drill, engine, model, \"user\", pace_low, pace_high, max_pause_s)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (session.id, session.uid, session.started_at, session.kind, session.drill, session.engine, session.model,
             session.user, *session.pace_wpm, session.max_pause_s),
        )
    elif db.execute("SELECT 1 FROM sessions WHERE id = ?", (session.id,)).fetchone() is None:
        raise VoicedrillError(f"session s{session.id} was deleted from the history during this run, so its reps are no longer saved there")
    number = record["number"]
    if db.execute("SELECT 1 FROM reps WHERE session_id = ? AND number = ?", (session.id, number)).fetchone():
        number = db.execute("SELECT max(number) + 1 FROM reps WHERE session_id = ?", (session.id,)).fetchone()[0]
    levels = record.get("levels")
    rep_id = _next_id(db, "reps")
    db.execute(
        "INSERT INTO reps (id, uid, session_id, number, saved_at, source, audio, duration_s, speech_wpm, longest_pause_s,"
        " order_errors, score, report, levels, timed_s, fix_first) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            rep_id, record["uid"], session.id, number, record["saved_at"], record["source"], record.get("audio"),
            *rep_row(report).values(), json.dumps(record["report"], ensure_ascii=False),
            None if levels is None else base64.b64decode(levels), report.timed_s, report.fix_first,
        ),
    )
    return rep_id


def _team_rep(row: tuple) -> TeamRep:
    """A team-view headline from its row (rep id, user, drill, saved_at, score, timed_s, fix_first,
    speech_wpm, the drill's pace_high)."""
    _, user, drill, saved_at, score, timed, fix, wpm, high = row
    return TeamRep(str(user), str(drill), datetime.fromisoformat(saved_at).astimezone(), int(score),
                   None if timed is None else float(timed), None if fix is None else str(fix), too_fast(None if wpm is None else float(wpm), float(high)))


def _saved(row: tuple) -> SavedRep:
    (rep_id, session, number, count, saved_at, kind, drill, engine, model, user, source, audio,
     low, high, max_pause, report, levels) = row
    return SavedRep(
        rep_id, session, number, count, datetime.fromisoformat(saved_at).astimezone(), str(kind), str(drill), str(engine), str(model),
        str(user), str(source), audio, (float(low), float(high)), float(max_pause), from_dict(json.loads(report)),
        None if levels is None else decode_levels(levels),
    )


def encode_levels(levels: np.ndarray) -> bytes:
    """dBFS in half-dB steps from −100 dB, one byte each."""
    return np.clip(np.round((np.asarray(levels) + 100.0) * 2.0), 0, 255).astype(np.uint8).tobytes()


def decode_levels(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=np.uint8).astype(np.float32) / 2.0 - 100.0


def _now() -> str:
    return _stamp(datetime.now(timezone.utc))


def _stamp(moment: datetime) -> str:
    """UTC, fixed width, so text order is time order (dates beyond the calendar's ends are clamped)."""
    try:
        moment = moment.astimezone(timezone.utc)
    except (OverflowError, ValueError, OSError):
        moment = (datetime.min if moment.year < 1000 else datetime.max).replace(tzinfo=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


MAX_NAME = 64


def person(text: str) -> str:
    """A rep's name as it is saved: 1–64 printable characters on one line (no control or direction codes)."""
    name = text.strip()
    if not name or len(name) > MAX_NAME or not all(map(plain, name)):
        raise VoicedrillError(f"a name of 1 to {MAX_NAME} printable characters, not {text[:70]!r}")
    return name


def others(reps: Iterable[SavedRep], me: str) -> list[str]:
    """Whose reps these are besides `me` (a shared history), by name; reps with no name are nobody else's."""
    return sorted({r.user for r in reps if r.user and not same_person(r.user, me)})


def person_key(name: str) -> str:
    """A name as the history and the team database tell people apart: whatever its case (lower():
    "Straße" and "STRASSE" are two people, as the team view lists them)."""
    return name.lower()


def same_person(one: str, other: str) -> bool:
    """Are two names one person (see person_key)?"""
    return person_key(one) == person_key(other)


def by_person(reps: Sequence[SavedRep] | Sequence[TeamRep]) -> list[list[int]]:
    """Each person's reps' places in `reps`, person by person as first seen."""
    people: dict[str, list[int]] = {}
    for i, rep in enumerate(reps):
        people.setdefault(person_key(rep.user), []).append(i)
    return list(people.values())


def who(name: str | None = None) -> str:
    """Who is practising: `name` (--user), else $VOICEDRILL_USER, else the login name."""
    if name:
        return person(name)
    if os.environ.get("VOICEDRILL_USER", "").strip():
        try:
            return person(os.environ["VOICEDRILL_USER"])
        except VoicedrillError as exc:
            raise VoicedrillError(f"$VOICEDRILL_USER: {exc}") from None
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name (some containers): still save the rep
        return ""


def _import_rep_folders(db: sqlite3.Connection, root: Path) -> None:
    """Reps saved by voicedrill 0.1 as folders of rep-NN.json files become sessions (the files stay)."""
    from .drills import load_drill

    for folder in sorted(p for p in root.glob("*") if p.is_dir()) if root.is_dir() else []:
        session, seen = None, set()
        for path in sorted(folder.glob("rep-*.json")):
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
                report, number, saved_at = record["report"], int(record["rep"]), datetime.fromisoformat(record["saved_at"])
                typed = from_dict(report)  # a whole report
            except (OSError, *DAMAGED_ROW):
                continue  # not a rep file we wrote; leave it be
            if number in seen or not 0 < number < 2**31:
                continue
            seen.add(number)
            if session is None:
                try:
                    drill = load_drill(report["drill"])
                except VoicedrillError:
                    drill = Drill(report["drill"], report["drill"], ())
                session = Session("imported", drill.name, report["engine"], "", drill.pace_wpm, drill.max_pause_s, _stamp(saved_at))
            record = {"uid": uuid.uuid4().hex, "number": number, "saved_at": _stamp(saved_at), "source": record.get("source", str(path)), "report": report}
            _insert(db, record, session, typed)
