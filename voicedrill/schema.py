"""The history's SQLite file itself: its header read before anything opens it, its schema and
migrations, and what to tell the rep when the file cannot be used."""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import os
import re
import sqlite3
import stat
import struct
from collections.abc import Callable
from pathlib import Path

import platformdirs

from .data import RepReport
from .errors import VoicedrillError
from .files import reason

DB_ENV = "VOICEDRILL_DB"
APPLICATION_ID = 0x56445231  # "VDR1" in the SQLite header: this file is ours
_SQLITE_MAGIC = b"SQLite format 3\x00"
LARGEST_ID = 2**63 - 1  # SQLite's largest integer: no rep or session has a bigger number


def _v1(db: sqlite3.Connection) -> None:
    # statement by statement: executescript() would commit the migration's transaction early
    for statement in """
        CREATE TABLE sessions (
            id INTEGER PRIMARY KEY,
            started_at TEXT NOT NULL,
            kind TEXT NOT NULL,
            drill TEXT NOT NULL,
            engine TEXT NOT NULL,
            model TEXT NOT NULL,
            "user" TEXT NOT NULL,
            pace_low REAL NOT NULL,
            pace_high REAL NOT NULL,
            max_pause_s REAL NOT NULL
        );
        CREATE TABLE reps (
            id INTEGER PRIMARY KEY,
            session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            number INTEGER NOT NULL,
            saved_at TEXT NOT NULL,
            source TEXT NOT NULL,
            audio TEXT,
            duration_s REAL,
            speech_wpm REAL,
            longest_pause_s REAL,
            order_errors INTEGER NOT NULL,
            score INTEGER NOT NULL,
            report TEXT NOT NULL,
            levels BLOB,
            UNIQUE (session_id, number)
        );
        CREATE INDEX reps_by_time ON reps (saved_at)
        """.split(";"):
        db.execute(statement)


def _v2(db: sqlite3.Connection) -> None:
    """Numbers issued so far (never handed out again, even after a delete); uids for pending reps."""
    for statement in (
        "CREATE TABLE issued (name TEXT PRIMARY KEY, last INTEGER NOT NULL)",
        "INSERT INTO issued SELECT 'sessions', coalesce(max(id), 0) FROM sessions",
        "INSERT INTO issued SELECT 'reps', coalesce(max(id), 0) FROM reps",
        "ALTER TABLE sessions ADD COLUMN uid TEXT",
        "ALTER TABLE reps ADD COLUMN uid TEXT",
        "CREATE UNIQUE INDEX sessions_by_uid ON sessions (uid)",
        "CREATE UNIQUE INDEX reps_by_uid ON reps (uid)",
    ):
        db.execute(statement)


# what reading a damaged row raises: bad JSON or fields, numbers past a float (1e400), nesting past
# Python's stack, dates past the calendar in this time zone
DAMAGED_ROW = (ValueError, TypeError, KeyError, ArithmeticError, RecursionError)


def _v3(db: sqlite3.Connection) -> None:
    """A rep's time and what to fix first as columns: the team view reads them, not whole reports
    (the time column is named timed_s since _v4)."""
    db.execute("ALTER TABLE reps ADD COLUMN handoff_s REAL")
    db.execute("ALTER TABLE reps ADD COLUMN fix_first TEXT")
    for rep_id, report in _reports(db, "SELECT id, report FROM reps"):
        if report is not None:  # a damaged row stays as it is (it is named when read)
            db.execute("UPDATE reps SET handoff_s = ?, fix_first = ? WHERE id = ?", (report.timed_s, report.fix_first, rep_id))


def _v4(db: sqlite3.Connection) -> None:
    """The team's time is a rep's time as its own progress takes it (RepReport.timed_s: said by the
    script), where it was every complete rep's: a rep out of order was a point of a person's trend.
    Only a report that may hold a step out of order or a phrase to avoid is read (its words, not
    parsed: an upgrade of 100,000 reps on a team database is not held up by parsing each)."""
    db.execute("ALTER TABLE reps RENAME COLUMN handoff_s TO timed_s")
    maybe = "SELECT id, report FROM reps WHERE timed_s IS NOT NULL AND (report NOT LIKE ? OR report LIKE ? OR report LIKE ? OR report NOT LIKE ?)"
    for rep_id, report in _reports(db, maybe, ('%"order_ok": true%', '%"forbidden": [{%', '%"forbidden": ["%', "%}")):  # (…or cut short)
        db.execute("UPDATE reps SET timed_s = ? WHERE id = ?", (None if report is None else report.timed_s, rep_id))


def _reports(db: sqlite3.Connection, sql: str, args: tuple = ()) -> list[tuple[int, RepReport | None]]:
    """The reps `sql` selects (id, report), each report read (None: damaged)."""
    from .report import from_dict

    reports: list[tuple[int, RepReport | None]] = []
    for rep_id, text in db.execute(sql, args).fetchall():
        try:
            reports.append((rep_id, from_dict(json.loads(text))))
        except DAMAGED_ROW:
            reports.append((rep_id, None))
    return reports


def missing(db: sqlite3.Connection, version: int) -> tuple[str, bool] | None:
    """What of its schema a history at `version` lacks ("the table issued", "the column reps.uid"),
    and whether it has none of voicedrill's tables at all (another program's file); None if whole."""
    tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    for table, columns in _schema(version).items():
        if table not in tables:
            return f"the table {table}", not tables & {"sessions", "reps"}
        have = {row[1] for row in db.execute(f'PRAGMA table_info("{table}")')}
        if columns - have:
            return f"the column {table}.{min(columns - have)}", False
    return None


@functools.cache
def _schema(version: int) -> dict[str, frozenset[str]]:
    """The tables and columns a history has at `version`: its migrations run on an empty database."""
    with contextlib.closing(sqlite3.connect(":memory:")) as db:
        for step in MIGRATIONS[:version]:
            step(db)
        tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: frozenset(row[1] for row in db.execute(f'PRAGMA table_info("{t}")')) for t in tables}


# MIGRATIONS[n] takes the schema from version n to n + 1 (version 0: a new, empty file).
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_v1, _v2, _v3, _v4]
SCHEMA_VERSION = len(MIGRATIONS)
HEADLINES_VERSION = 4  # from this schema on, each rep's headline verdicts are columns as the team view reads them (_v3, _v4)


def data_dir() -> Path:
    return Path(platformdirs.user_data_dir("voicedrill"))


def db_path(opening: bool = False) -> Path:
    """This computer's history file: $VOICEDRILL_DB (unless it names a team database), else history.db
    in the data folder; `opening` it, one named in no existing folder is refused (commands that
    never open the history are not)."""
    target = os.environ.get(DB_ENV, "")
    if not target or is_url(target):
        return data_dir() / "history.db"
    if target.startswith((":memory:", "file:")) or re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", target):  # SQLite would keep it in memory,
        raise VoicedrillError(f"{DB_ENV} / --db {target!r}: a history is a file (or a team database, "  # or where no read looks: reps lost,
                              "postgresql://user@host/database)")                                       # numbers reused
    try:
        path = Path(target).expanduser()  # ("~/h.db" quoted: home, not a folder named ~)
    except RuntimeError:  # ~nosuchuser
        raise VoicedrillError(f"{DB_ENV} / --db {target!r}: no such user's home folder") from None
    if not opening:
        return path
    if target.endswith(("/", os.sep)):  # ("reps/" made a history file named reps)
        raise VoicedrillError(f"{DB_ENV} / --db {target!r}: names a folder; give a history file's name, e.g. {target}history.db")
    folder = Path(os.path.realpath(path)).parent  # (where a link leads; a link loop is refused when opened)
    try:
        os.stat(folder)  # (is_dir() raised on a name too long for the file system: a traceback, and bare 500s in the app)
    except OSError as exc:  # a typo read as "No reps saved yet", and a check made the folders and saved there
        why = "does not exist; check the path" if exc.errno in (errno.ENOENT, errno.ENOTDIR) else f"cannot be used ({exc.strerror})"
        raise VoicedrillError(f"{DB_ENV} / --db {target!r}: the folder {folder} {why} "
                              "(a history file is made only in a folder that exists)") from None
    if not folder.is_dir():
        raise VoicedrillError(f"{DB_ENV} / --db {target!r}: {folder} is not a folder; check the path")
    return path


def is_url(target: str) -> bool:
    """A team database's address rather than a history file."""
    return target.startswith(("postgresql://", "postgres://"))


def check_header(path: Path) -> None:
    """Refuse a file that is not a whole voicedrill database, reading only its header."""
    try:
        mode, size = (st := path.stat()).st_mode, st.st_size
    except FileNotFoundError:
        return
    except OSError as exc:
        raise unusable(path, reason(exc)) from None
    if stat.S_ISDIR(mode):
        raise VoicedrillError(f"history database {path} is a folder; set {DB_ENV} to a file path")
    if not stat.S_ISREG(mode):
        raise VoicedrillError(f"history database {path} is a pipe or a device, not a file; set {DB_ENV} to a file path")
    if size == 0:
        return  # an empty file is an empty database
    try:
        with open(path, "rb") as f:
            header = f.read(100)
    except OSError as exc:
        raise unusable(path, reason(exc)) from None
    if len(header) < 100 or not header.startswith(_SQLITE_MAGIC):
        raise VoicedrillError(damaged(path, "it is not an SQLite database"))
    page_size = struct.unpack(">H", header[16:18])[0]
    page_size = 65536 if page_size == 1 else page_size
    pages, app_id = struct.unpack(">I", header[28:32])[0], struct.unpack(">I", header[68:72])[0]
    size_valid = header[24:28] == header[92:96]
    if wal_bytes(path):
        size_valid = False  # committed pages may still be in the WAL (a full disk stops the file growing)
    if page_size < 512 or size % page_size or (size_valid and size < pages * page_size):
        raise VoicedrillError(damaged(path, f"it is truncated or damaged ({size} bytes)"))
    version = struct.unpack(">I", header[60:64])[0]
    if app_id == APPLICATION_ID and version > SCHEMA_VERSION:
        raise VoicedrillError(newer(path, version))
    if app_id != APPLICATION_ID and pages > 1:
        raise VoicedrillError(foreign(path))


def wal_bytes(path: Path) -> int:
    """The size of the history's write-ahead log, 0 if there is none: the last connection to close
    removes it, in another process or thread, any time (it went between a check and a stat: a 500)."""
    try:
        return Path(f"{path}-wal").stat().st_size
    except OSError:
        return 0


def newer(path: Path, version: int) -> str:
    return f"history database {path} was written by a newer voicedrill (schema {version}); upgrade voicedrill"


def foreign(path: Path) -> str:
    return f"{path} is an SQLite database of another program, not voicedrill history; it was left as it is — set {DB_ENV} to another file"


def damaged(path: Path, why: str) -> str:
    return (
        f"history database {path} cannot be read: {why}; it was left untouched — move it aside "
        f"(voicedrill starts a new one) or set {DB_ENV} to another file"
    )


def unusable(path: Path, why: str) -> VoicedrillError:
    """The history file cannot be opened or written: why, and what to do."""
    folder = next((p for p in (path.parent, *path.parent.parents) if p.exists()), path.parent)
    if not os.access(folder, os.W_OK):
        why = f"{folder} is read-only"
    return VoicedrillError(f"cannot use history database {path} ({why}); make its folder writable or set {DB_ENV} to another file", "--no-save")


def writable(path: Path) -> bool:
    """Can this process write the file, its folder and SQLite's files beside it?"""
    beside = [Path(f"{path}-wal"), Path(f"{path}-shm")]
    return all(os.access(p, os.W_OK) for p in [path, path.parent, *(p for p in beside if p.exists())])
