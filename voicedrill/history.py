"""The rep store: every finished rep, from `check` and from `drill`, in one SQLite file.

WAL mode and short write transactions let two voicedrill processes save at once. The file is
checked before it is opened; a damaged or foreign file is refused, never repaired or replaced.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import sqlite3
import struct
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import platformdirs

from .data import RepReport
from .drills import Drill
from .errors import VoicedrillError
from .report import rep_row, to_dict

DB_ENV = "VOICEDRILL_DB"
APPLICATION_ID = 0x56445231  # "VDR1" in the SQLite header: this file is ours
BUSY_TIMEOUT_S = 10.0  # how long a save waits for another process's write to finish
LEVEL_STEP_S = 0.05  # stored energy envelope resolution (for the timeline picture)
_SQLITE_MAGIC = b"SQLite format 3\x00"


def data_dir() -> Path:
    return Path(platformdirs.user_data_dir("voicedrill"))


def db_path() -> Path:
    """$VOICEDRILL_DB, else history.db in the user data folder."""
    return Path(os.environ.get(DB_ENV) or data_dir() / "history.db")


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
    id: int | None = None

    @classmethod
    def of(cls, kind: str, drill: Drill, engine: str, model: str) -> Session:
        return cls(kind, drill.name, engine, model, drill.pace_wpm, drill.max_pause_s)


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
    duration_s: float | None
    speech_wpm: float | None
    longest_pause_s: float | None
    order_errors: int
    score: int
    pace_wpm: tuple[float, float]
    max_pause_s: float
    report: dict
    levels: np.ndarray | None  # dBFS every LEVEL_STEP_S, None for imported reps


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
            user TEXT NOT NULL,
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
    _import_rep_folders(db, data_dir() / "sessions")


# MIGRATIONS[n] takes the schema from version n to n + 1 (version 0: a new, empty file).
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_v1]
SCHEMA_VERSION = len(MIGRATIONS)


def check_file(path: Path) -> None:
    """Refuse a file that is not a whole voicedrill database, reading only its header."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    except OSError as exc:
        raise VoicedrillError(_unusable(path, exc.strerror or str(exc))) from None
    if path.is_dir():
        raise VoicedrillError(f"history database {path} is a folder; set {DB_ENV} to a file path")
    if size == 0:
        return  # an empty file is an empty database
    try:
        with open(path, "rb") as f:
            header = f.read(100)
    except OSError as exc:
        raise VoicedrillError(_unusable(path, exc.strerror or str(exc))) from None
    if len(header) < 100 or not header.startswith(_SQLITE_MAGIC):
        raise VoicedrillError(_damaged(path, "it is not an SQLite database"))
    page_size = struct.unpack(">H", header[16:18])[0]
    page_size = 65536 if page_size == 1 else page_size
    pages, app_id = struct.unpack(">I", header[28:32])[0], struct.unpack(">I", header[68:72])[0]
    size_valid = header[24:28] == header[92:96]
    if page_size < 512 or size % page_size or (size_valid and size < pages * page_size):
        raise VoicedrillError(_damaged(path, f"it is truncated or damaged ({size} bytes)"))
    version = struct.unpack(">I", header[60:64])[0]
    if app_id == APPLICATION_ID and version > SCHEMA_VERSION:
        raise VoicedrillError(_newer(path, version))
    if app_id != APPLICATION_ID and pages > 1:
        raise VoicedrillError(_foreign(path))


def _newer(path: Path, version: int) -> str:
    return f"history database {path} was written by a newer voicedrill (schema {version}); upgrade voicedrill"


def _foreign(path: Path) -> str:
    return f"{path} is an SQLite database of another program, not voicedrill history; it was left as it is — set {DB_ENV} to another file"


def _damaged(path: Path, why: str) -> str:
    return (
        f"history database {path} cannot be read: {why}; it was left untouched — move it aside "
        f"(voicedrill starts a new one) or set {DB_ENV} to another file"
    )


def _unusable(path: Path, why: str) -> str:
    folder = next((p for p in (path.parent, *path.parent.parents) if p.exists()), path.parent)
    if not os.access(folder, os.W_OK):
        why = f"{folder} is read-only"
    return f"cannot use history database {path} ({why}); make its folder writable, set {DB_ENV} to another file, or use --no-save"


class Store:
    """The open history database."""

    def __init__(self, path: Path | None = None, write: bool = True, timeout_s: float | None = None):
        self.path = path or db_path()
        self.timeout_s = timeout_s = timeout_s or BUSY_TIMEOUT_S
        check_file(self.path)
        if not write and not self.path.exists():
            self.db = sqlite3.connect(":memory:", isolation_level=None)  # nothing saved yet: read without creating the file
            self._migrate()
            return
        try:
            if write:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.db = sqlite3.connect(self.path, timeout=timeout_s, isolation_level=None)
            else:  # reading works in a read-only folder too, where SQLite cannot make its WAL index
                frozen = "&immutable=1" if not os.access(self.path.parent, os.W_OK) else ""
                self.db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro{frozen}", timeout=timeout_s, isolation_level=None, uri=True)
        except (OSError, sqlite3.Error) as exc:
            raise VoicedrillError(_unusable(self.path, getattr(exc, "strerror", None) or str(exc))) from None
        try:
            with self._errors():
                self.db.execute("PRAGMA foreign_keys = ON")
                version = self.db.execute("PRAGMA user_version").fetchone()[0]
                if version > SCHEMA_VERSION:  # the header said otherwise: changed since, in the WAL
                    raise VoicedrillError(_newer(self.path, version))
                if version < SCHEMA_VERSION or write:
                    self._migrate()
        except VoicedrillError:
            self.db.close()  # SQLite tidies its -wal and -shm files away as the last connection closes
            raise

    def _migrate(self) -> None:
        """Bring the schema up to date (and prove we can write) in one write transaction."""
        if self.db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            self.db.execute("PRAGMA journal_mode = WAL")
        with self._write() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version == 0 and db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                raise VoicedrillError(_foreign(self.path))
            for step in MIGRATIONS[version:]:
                step(db)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            db.execute(f"PRAGMA application_id = {APPLICATION_ID}")

    def close(self) -> None:
        self.db.close()

    def _errors(self):
        return _Translate(self)

    def _write(self):
        return _Transaction(self)

    def save_rep(
        self,
        session: Session,
        number: int,
        report: RepReport,
        source: str,
        levels: np.ndarray | None = None,
        audio: str | None = None,
    ) -> int:
        """Store one finished rep (and its session, with the first rep); returns the rep's id."""
        with self._write() as db:
            return _insert_rep(db, session, number, _now(), source, to_dict(report), audio, levels)

    def reps(
        self,
        drill: str | None = None,
        since: datetime | None = None,
        last: int | None = None,
        session: int | None = None,
        rep: int | None = None,
    ) -> list[SavedRep]:
        """Stored reps, oldest first, filtered; `last` keeps the newest N."""
        where, args = [], []
        for clause, value in (("s.drill = ?", drill), ("r.session_id = ?", session), ("r.id = ?", rep)):
            if value is not None:
                where.append(clause)
                args.append(value)
        if since is not None:
            where.append("r.saved_at >= ?")
            args.append(_stamp(since))
        sql = (
            "SELECT r.id, r.session_id, r.number, (SELECT count(*) FROM reps x WHERE x.session_id = r.session_id),"
            " r.saved_at, s.kind, s.drill, s.engine, s.model, s.user, r.source, r.audio, r.duration_s, r.speech_wpm,"
            " r.longest_pause_s, r.order_errors, r.score, s.pace_low, s.pace_high, s.max_pause_s, r.report, r.levels"
            " FROM reps r JOIN sessions s ON s.id = r.session_id"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " ORDER BY r.id DESC"
            + (" LIMIT ?" if last is not None else "")
        )
        with self._errors():
            rows = self.db.execute(sql, (*args, last) if last is not None else args).fetchall()
        return [_saved(row) for row in reversed(rows)]

    def resolve(self, ref: str) -> tuple[str, int | None]:
        """REP_OR_SESSION (see parse_ref) as ("rep" | "session", id); 'last' is the newest session (None if none)."""
        kind, number = parse_ref(ref)
        if number is None:
            with self._errors():
                number = self.db.execute("SELECT max(session_id) FROM reps").fetchone()[0]
        return kind, number

    def delete(self, session: int | None = None, rep: int | None = None) -> int:
        """Delete one rep or a whole session; returns how many reps went. Sessions left empty go too."""
        with self._write() as db:
            if rep is not None:
                gone = db.execute("DELETE FROM reps WHERE id = ?", (rep,)).rowcount
            else:
                gone = db.execute("DELETE FROM reps WHERE session_id = ?", (session,)).rowcount
            db.execute("DELETE FROM sessions WHERE id NOT IN (SELECT session_id FROM reps)")
        return gone


class _Translate:
    """SQLite errors as one-line user errors that name the file and the fix."""

    def __init__(self, store: Store):
        self.store = store

    def __enter__(self) -> sqlite3.Connection:
        return self.store.db

    def __exit__(self, kind, exc, tb) -> None:
        if not isinstance(exc, sqlite3.Error):
            return
        path, message = self.store.path, str(exc)
        if "locked" in message or "busy" in message:
            raise VoicedrillError(
                f"history database {path} is locked by another program (waited {self.store.timeout_s:g} s); "
                "try again when it is done, or use --no-save"
            ) from None
        if "readonly" in message or "read-only" in message or "unable to open" in message:
            raise VoicedrillError(_unusable(path, message)) from None
        if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError) or "malformed" in message:
            raise VoicedrillError(_damaged(path, message)) from None
        raise VoicedrillError(f"history database {path}: {message}") from None


class _Transaction(_Translate):
    """BEGIN IMMEDIATE … COMMIT: the write lock is taken up front, so waits happen in busy_timeout."""

    def __enter__(self) -> sqlite3.Connection:
        with _Translate(self.store):
            self.store.db.execute("BEGIN IMMEDIATE")
        return self.store.db

    def __exit__(self, kind, exc, tb) -> None:
        db = self.store.db
        if exc is None:
            with _Translate(self.store):
                db.execute("COMMIT")
            return
        if db.in_transaction:
            db.execute("ROLLBACK")
        super().__exit__(kind, exc, tb)


def _insert_rep(
    db: sqlite3.Connection,
    session: Session,
    number: int,
    saved_at: str,
    source: str,
    report: dict,
    audio: str | None = None,
    levels: np.ndarray | None = None,
) -> int:
    """One rep row with its headline figures (and the session's row first, with its first rep)."""
    if session.id is None:
        session.id = db.execute(
            "INSERT INTO sessions (started_at, kind, drill, engine, model, user, pace_low, pace_high, max_pause_s)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (session.started_at, session.kind, session.drill, session.engine, session.model, _user(), *session.pace_wpm, session.max_pause_s),
        ).lastrowid
    return db.execute(
        "INSERT INTO reps (session_id, number, saved_at, source, audio, duration_s, speech_wpm, longest_pause_s,"
        " order_errors, score, report, levels) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            session.id, number, saved_at, source, audio, *rep_row(report).values(),
            json.dumps(report, ensure_ascii=False), None if levels is None else encode_levels(levels),
        ),
    ).lastrowid


def _saved(row: tuple) -> SavedRep:
    (rep_id, session, number, count, saved_at, kind, drill, engine, model, user, source, audio,
     duration, wpm, pause, order_errors, score, low, high, max_pause, report, levels) = row
    return SavedRep(
        rep_id, session, number, count, datetime.fromisoformat(saved_at).astimezone(), kind, drill, engine, model,
        user, source, audio, duration, wpm, pause, order_errors, score, (low, high), max_pause, json.loads(report),
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
    """UTC, fixed width, so text order is time order."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name (some containers): still save the rep
        return ""


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """`2026-11-01`, `2026-11-01T09:30`, `today`, `yesterday`, `7d` or `2w` (local time)."""
    now = now or datetime.now().astimezone()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    words = {"today": midnight, "yesterday": midnight - timedelta(days=1)}
    if text in words:
        return words[text]
    if match := re.fullmatch(r"(\d+)([dw])", text):
        return midnight - timedelta(days=int(match[1]) * (7 if match[2] == "w" else 1))
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise VoicedrillError(f"--since {text!r}: use a date like 2026-11-01, 'today', 'yesterday', or 7d / 2w") from None
    return moment if moment.tzinfo else moment.astimezone()


def parse_ref(text: str) -> tuple[str, int | None]:
    """REP_OR_SESSION: `12` or `#12` (a rep), `s3` (a session), `last` (the newest session)."""
    if text == "last":
        return "session", None
    if match := re.fullmatch(r"#?(\d+)", text):
        return "rep", int(match[1])
    if match := re.fullmatch(r"[sS](\d+)", text):
        return "session", int(match[1])
    raise VoicedrillError(f"{text!r} is not a rep or a session: use a rep number like 12, a session like s3, or 'last'")


def _import_rep_folders(db: sqlite3.Connection, root: Path) -> None:
    """Reps saved by voicedrill 0.1 as folders of rep-NN.json files become sessions (the files stay)."""
    from .drills import load_drill

    for folder in sorted(p for p in root.glob("*") if p.is_dir()) if root.is_dir() else []:
        session, seen = None, set()
        for path in sorted(folder.glob("rep-*.json")):
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
                report, number, saved_at = record["report"], int(record["rep"]), datetime.fromisoformat(record["saved_at"])
                rep_row(report)  # the figures must be there
            except (OSError, ValueError, KeyError, TypeError):
                continue  # not a rep file we wrote; leave it be
            if number in seen:
                continue
            seen.add(number)
            if session is None:
                try:
                    drill = load_drill(report["drill"])
                except VoicedrillError:
                    drill = Drill(report["drill"], report["drill"], ())
                session = Session("imported", drill.name, report["engine"], "", drill.pace_wpm, drill.max_pause_s, _stamp(saved_at))
            _insert_rep(db, session, number, _stamp(saved_at), record.get("source", str(path)), report)


def new_folder(root: Path | None = None) -> Path:
    """A fresh folder for one run's files (--out, --keep-audio), named by its start time."""
    root = root or data_dir() / "sessions"
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    try:
        root.mkdir(parents=True, exist_ok=True)
        for n in range(100):
            folder = root / (stamp if n == 0 else f"{stamp}-{n}")
            try:
                folder.mkdir()
                return folder
            except FileExistsError:
                continue
    except OSError as exc:
        raise VoicedrillError(f"cannot create a session folder in {root} ({exc.strerror or exc}); choose another with --out") from None
    raise VoicedrillError(f"too many sessions started this second in {root}")


def write_rep_files(folder: Path, number: int, record: dict, audio: np.ndarray | None = None) -> Path:
    """Write rep-NN.json (and rep-NN.wav if audio is given) so that a crash never leaves half a file."""
    path = folder / f"rep-{number:02d}.json"
    if audio is not None:
        from .synth import write_wav

        _atomic(folder / f"rep-{number:02d}.wav", lambda tmp: write_wav(tmp, audio))
    _atomic(path, lambda tmp: Path(tmp).write_text(json.dumps(record, ensure_ascii=False, indent=1), encoding="utf-8"))
    return path


def write_file(path: Path, data: bytes) -> None:
    """Write a whole file or nothing (a chart, a page, an export)."""
    _atomic(Path(path), lambda tmp: Path(tmp).write_bytes(data))


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _atomic(path: Path, write: Callable[[str], object]) -> None:
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
        os.close(fd)
        os.chmod(tmp, 0o666 & ~_umask())  # as if created with open(): mkstemp makes files private
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise VoicedrillError(f"cannot write {path} ({exc.strerror or exc})") from None
    finally:
        if tmp and os.path.exists(tmp):
            os.unlink(tmp)
