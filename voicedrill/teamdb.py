"""The team database: the same history on a shared PostgreSQL server (psycopg 3).

Same schema, migrations, numbering and pending files as the SQLite history (`history.Store`), one
code path for reading and saving: SQL is written once with `?` placeholders and SQLite's types, and
this module's connection adapts it. Writers are serialised by a transaction-level advisory lock,
as SQLite's BEGIN IMMEDIATE serialises them. When the server cannot be reached, a rep is written to
a pending file on this computer and sent when the server answers again: at a later rep of the
same run (asked at most every `RETRY_S`), or the next time voicedrill opens the team database.

Credentials come only from the URL, the environment (PGPASSWORD, PGUSER, …) or a libpq service
file; every message shows the URL without its password.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote

from . import pending
from .errors import NotAllowed, VoicedrillError
from .history import BUSY_TIMEOUT_S, Store
from .schema import MIGRATIONS, SCHEMA_VERSION
from .stopping import cut_on_stop

WRITE_LOCK = 0x56445231  # the advisory lock every voicedrill writer takes ("VDR1")
CONNECT_TIMEOUT_S = 5
SAVES = tuple((table, what) for table in ("sessions", "reps", "issued") for what in ("SELECT", "INSERT")) + (("issued", "UPDATE"),)  # what a save takes
ANSWER_S = 15.0  # a server that has not answered a statement of a save this long (beyond its wait for the lock) is taken for gone…
READ_ANSWER_S = 60.0  # …or a read this long (the progress of a whole team reads every report)
KEEPALIVE = {"keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2, "keepalives_count": 3}  # a network gone quiet: noticed in ~11 s
HURRY_S = 2.0  # once a stop is asked for while a rep is kept, a statement is given up this soon: the rep waits in a pending file
RETRY_S = 10  # a server that went away is asked again at the next save at least this long after
_PASSWORD_PARAM = re.compile(r"(?i)(password=)([^&\s]*)")
_TYPES = ((r"\bINTEGER PRIMARY KEY\b", "BIGINT PRIMARY KEY"), (r"\bINTEGER\b", "BIGINT"), (r"\bREAL\b", "DOUBLE PRECISION"), (r"\bBLOB\b", "BYTEA"))


def shown(url: str) -> str:
    """The URL as it may be printed: its password (after the user, or `password=` in the query) masked.
    Pure text work: a malformed URL is masked too, never parsed into an error."""
    scheme, sep, rest = url.partition("://")
    netloc, slash, tail = rest.partition("/")
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")  # a raw @ in a password: the host is after the last one
        user, colon, _ = userinfo.partition(":")
        netloc = f"{user}{':***' if colon else ''}@{host}"
    masked = _PASSWORD_PARAM.sub(r"\1***", tail)
    return f"{scheme}{sep}{netloc}{slash}{masked}"


def place(url: str) -> str:
    """The database a URL names, however it is written (postgres:// or postgresql://, with or
    without its user and password, the default port spelled out or not): reps waiting for it on
    this computer are filed under this, so a URL written another way finds them too."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    try:
        info = conninfo_to_dict(url)
    except psycopg.ProgrammingError:  # malformed: connecting says what is wrong
        return shown(url)
    host = (info.get("host") or os.environ.get("PGHOST") or "localhost").lower()
    port = info.get("port") or os.environ.get("PGPORT") or "5432"
    database = info.get("dbname") or os.environ.get("PGDATABASE") or info.get("user") or os.environ.get("PGUSER") or ""
    query = "&".join(f"{k}={info[k]}" for k in ("service", "options") if info.get(k))  # (options may pick another schema)
    return f"postgresql://{host}:{port}/{database}" + (f"?{query}" if query else "")


def secrets(url: str) -> list[str]:
    """Every spelling of the URL's password that a driver message could echo."""
    netloc = url.partition("://")[2].partition("/")[0]
    found = [netloc.rpartition("@")[0].partition(":")[2]] if "@" in netloc else []
    found += [m.group(2) for m in _PASSWORD_PARAM.finditer(url)]
    found += [unquote(f) for f in found]
    return sorted({f for f in found if f}, key=len, reverse=True)


def unreachable(exc: Exception) -> bool:
    """A connection that failed on the way (server down, network), not one refused for good (a wrong
    password, no such database, a malformed setting)."""
    if getattr(exc, "sqlstate", None) in ("57P01", "57P02", "57P03"):  # the server shutting down or starting up
        return True
    message = str(exc)
    lost = ("connection failed", "consuming input failed", "server closed the connection", "the connection is lost", "the connection is closed",
            "timeout expired", "Temporary failure in name resolution")  # (no network; a name that does not exist is an error to fix)
    refused = ("FATAL", "authentication", "does not exist", "password", "fe_sendauth")  # credentials or a name to fix first
    return any(w in message for w in lost) and not any(w in message for w in refused)


class Unreachable(VoicedrillError):
    """The server could not be reached (down, or the network): worth trying again later."""


class _Watchdog:
    """One thread for a connection: a statement still running at its deadline has its connection
    ended (`cut`), under the same lock that `timing` and `closing` take, so a statement that ends
    just then and a connection being closed never race it. The deadline is worked out by the
    watching thread from what `timing` and `hurry` noted, so a hurry from a signal handler that
    lands in the middle of `timing` is never lost."""

    def __init__(self, cut: Callable[[], None]):
        self._cut = cut
        self._lock = threading.Condition()
        self._started: float | None = None  # the statement under way began (None: none)
        self._seconds = 0.0  # …and is given this long
        self._hurried: float | None = None  # hurry was asked for then: from then on, at most `_most`
        self._most = 0.0
        self.waited: float | None = None  # how long the statement it last gave up had gone unanswered
        self._closed = False
        self._thread: threading.Thread | None = None

    @contextmanager
    def timing(self, seconds: float):
        """A statement run inside: given up at `seconds` (or sooner, hurried)."""
        with self._lock:
            self._seconds = seconds
            self._started = time.monotonic()
            if self._thread is None:
                self._thread = threading.Thread(target=self._watch, daemon=True, name="team database watchdog")
                self._thread.start()
            self._lock.notify()
        try:
            yield
        finally:
            with self._lock:
                self._started = None

    def hurry(self, seconds: float) -> None:
        """Give the statement under way, and every later one, at most `seconds` from the first time asked."""
        with self._lock:  # (an RLock: a signal handler of the thread inside `timing` takes it again)
            if self._hurried is None:  # (the first ask counts: Ctrl-C pressed again put the stop off 2 s each time)
                self._hurried, self._most = time.monotonic(), seconds
                self._lock.notify()

    def closing(self, close: Callable[[], None]) -> None:
        """Stop watching, and `close` the connection, never beside a cut."""
        with self._lock:
            self._closed = True
            self._lock.notify()
            close()

    def _due(self) -> float | None:
        """When the statement under way is given up (None: none is)."""
        started = self._started
        if started is None:
            return None
        due = started + self._seconds
        return due if self._hurried is None else min(due, max(started, self._hurried) + self._most)

    def _watch(self) -> None:
        with self._lock:
            while not self._closed:
                due = self._due()
                left = None if due is None else due - time.monotonic()
                if left is not None and left <= 0:
                    self.waited, self._started = time.monotonic() - self._started, None
                    self._cut()
                else:
                    self._lock.wait(left)


class _Connection:
    """psycopg speaking the history's SQL: `?` placeholders, SQLite's column types in DDL; a
    statement the server does not answer in time is given up as a lost connection."""

    def __init__(self, url: str, timeout_s: float = CONNECT_TIMEOUT_S, answer_s: float = ANSWER_S):
        import psycopg

        self.raw = psycopg.connect(url, autocommit=True, connect_timeout=timeout_s, **KEEPALIVE)
        self.answer_s = answer_s
        self.watchdog = _Watchdog(self._cut)

    def execute(self, sql: str, params: tuple | list = ()):
        """A statement, given up as a lost connection if the server does not answer in `answer_s`
        (in a write, beyond its wait for the lock) or READ_ANSWER_S (a read of many reports): a
        server that stopped answering, or a network that dropped without a word, held a check, a
        run or the app for as long as it was away. Text holds no NUL (PostgreSQL's cannot; a rep
        named with one waited for good): it is "?"."""
        from psycopg.pq import TransactionStatus

        if sql.lstrip().upper().startswith(("CREATE", "ALTER")):
            for pattern, replacement in _TYPES:
                sql = re.sub(pattern, replacement, sql)
        params = tuple(p.replace("\x00", "?") if isinstance(p, str) else p for p in params)
        reading = self.raw.info.transaction_status == TransactionStatus.IDLE and sql.lstrip().upper().startswith("SELECT")
        with self.watchdog.timing(READ_ANSWER_S if reading else self.answer_s), cut_on_stop(self._cut):
            return self.raw.execute(sql.replace("?", "%s"), params)

    def _cut(self) -> None:
        """End the connection under a statement that waits on a server gone quiet: its socket shut
        (psycopg keeps the descriptor and its memory; the wait then fails as a lost connection)."""
        import psycopg

        try:
            with socket.socket(fileno=os.dup(self.raw.fileno())) as duplicate:
                duplicate.shutdown(socket.SHUT_RDWR)
        except (OSError, psycopg.Error):  # closed meanwhile: nothing to end
            pass

    def close(self) -> None:
        self.watchdog.closing(self.raw.close)


class PgStore(Store):
    """The history on a PostgreSQL server; reads and saves exactly as `Store` does. While the server
    cannot be reached, every rep waits in a pending file; they go in when it answers again."""

    UNTIL = "once the team database answers again (voicedrill tries at each later rep and each time it starts)"

    def __init__(self, url: str, write: bool = True, timeout_s: float | None = None, offline: bool = False):
        self.url = url
        self.path = shown(url)  # names it in messages
        self.waits_at = place(url)
        self.timeout_s = timeout_s or BUSY_TIMEOUT_S
        self.notes: list[str] = []
        self.damaged: list[int] = []
        self.problem = ""
        self.version = SCHEMA_VERSION  # migrated on open
        self._copy = None
        self.db = None
        self._asked = time.monotonic()  # when the server was last asked for a connection
        self._away = False  # the server could not be reached at the last try: reps wait
        self._hurried = False  # a stop was asked for: statements are given HURRY_S (see hurry)
        self._checked = False  # the schema was checked on this server (not yet when opened while it was away)
        if url.partition("://")[2].partition("/")[0].count("@") > 1:
            raise VoicedrillError(f"team database {self.path}: an @ in the password must be written %40 in the URL")
        self._saves = offline  # opened to save a run's reps (check, drill, the app): a role that may not is told
        waiting = self._waiting()
        try:
            with self._errors():
                self._connect()
            if not (write or waiting):  # a reader changes nothing and takes no write lock: an older schema is read as it is
                with self._errors() as db:
                    self.version = self._version(db)
                self._checked = True
                return
            self._migrate()
            if offline:
                self.may_save()
            if waiting:
                self._import(waiting)
        except Unreachable as exc:  # (the server may stop answering after it let us in)
            if not offline:
                raise
            self.problem = exc.plain  # practice goes on: every rep waits in a pending file until the server is back

    def may_save(self) -> None:
        """Refuse a database role that cannot save reps, in a line, before any work: it transcribed
        the rep, then kept it in a pending file "until the server answers again", for good."""
        with self._errors() as db:
            lacks = [f"{what} on {table}" for table, what in SAVES
                     if not db.execute("SELECT has_table_privilege(?, ?)", (table, what)).fetchone()[0]]
        if lacks:
            raise NotAllowed(f"team database {self.path}: your database role may not save reps (it lacks {', '.join(lacks)}); "
                             "ask your manager for the reps role", "--no-save")

    def _migrate(self) -> None:
        """The schema checked (another program's tables or a newer voicedrill's refused) and brought
        up to date: at open, or when a store opened while the server was away first reaches it."""
        with self._write() as db:
            version = self._version(db)
            if version < SCHEMA_VERSION:
                for step in MIGRATIONS[version:]:
                    step(db)
                db.execute("CREATE TABLE IF NOT EXISTS voicedrill_schema (version INTEGER NOT NULL)")
                db.execute("DELETE FROM voicedrill_schema")
                db.execute("INSERT INTO voicedrill_schema (version) VALUES (?)", (SCHEMA_VERSION,))
        self.version, self._checked = SCHEMA_VERSION, True

    def reps(self, **which) -> list:
        """As `Store.reps`; none while the server is away (the reps of this run wait on this computer)
        or before voicedrill ever saved there."""
        return super().reps(**which) if self._readable() else []

    def team_reps(self, **which) -> list:
        return super().team_reps(**which) if self._readable() else []

    def _readable(self) -> bool:
        """The server holds voicedrill history to read (asked again if it was away)."""
        if self._away:
            self._reconnected()
        return self.db is not None and self._checked and self.version != 0

    def _waiting(self) -> list[Path]:
        """As `Store._waiting`; also reps filed under the URL as it was written (as voicedrill filed them before)."""
        return pending.found(self.waits_at, self.path)

    def _back(self) -> bool:
        """Whether the server, away at the last save, answers again (a save refused for another
        reason waits for the next open)."""
        if not (self._away and self._reconnected()):
            return False
        self._away = False
        return True

    @property
    def _connected(self) -> bool:
        return self.db is not None and not self.db.raw.closed

    def hurry(self) -> None:
        """A stop was asked for while a rep is kept (Ctrl-C): a server that does not answer is given
        HURRY_S, not ANSWER_S or READ_ANSWER_S (a check waited a minute for its targets' read)."""
        self._hurried = True
        if self.db is not None:
            self.db.watchdog.hurry(HURRY_S)

    def _connect(self, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
        """A new connection to the server (when it was asked is noted: see `_reconnected`)."""
        self._asked = time.monotonic()
        self.db = _Connection(self.url, timeout_s, ANSWER_S + self.timeout_s)  # (a save may first wait its turn for the write lock)
        if self._hurried:
            self.db.watchdog.hurry(HURRY_S)

    def _reconnected(self) -> bool:
        """Connected: still, or again (the server is asked at most every RETRY_S)."""
        import psycopg

        if self._connected:
            return True
        if self._hurried or time.monotonic() - self._asked < RETRY_S:  # (stopping: a reconnect took 2 to 5 s more)
            return False
        try:
            self._connect(timeout_s=2)
            if not self._checked:
                self._migrate()
                if self._saves:
                    self.may_save()
        except psycopg.Error:
            return False
        except VoicedrillError as exc:  # refused (another program's tables, a newer schema): the reps keep waiting
            self.problem = exc.plain
            self.db.close()
            return False
        return True

    def _version(self, db: _Connection) -> int:
        """The schema version; refuses another program's tables and a newer voicedrill's schema."""
        tables = {row[0] for row in db.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'v', 'm', 'S', 'f', 'p')").fetchall()}
        if "voicedrill_schema" not in tables:
            if tables:
                raise VoicedrillError(f"team database {self.path} holds another program's tables, not voicedrill history; it was left as it is — use another database")
            return 0
        version = db.execute("SELECT max(version) FROM voicedrill_schema").fetchone()[0] or 0
        if version > SCHEMA_VERSION:
            raise VoicedrillError(f"team database {self.path} was written by a newer voicedrill (schema {version}); upgrade voicedrill")
        return version

    def _errors(self):
        return _Translate(self)

    def _begin(self) -> _Connection:
        """BEGIN holding voicedrill's advisory write lock (waiting at most the busy timeout)."""
        if not self._connected:
            if self._hurried:  # stopping: the rep waits rather than a new connection to a server that went quiet
                raise Unreachable(f"team database {self.path} was not asked again, as voicedrill was stopping")
            self._connect()  # the server came back
        self.db.execute("BEGIN")
        self.db.execute(f"SET LOCAL lock_timeout = '{int(self.timeout_s * 1000)}ms'")
        self.db.execute("SELECT pg_advisory_xact_lock(?)", (WRITE_LOCK,))
        return self.db

    def _roll_back(self) -> None:
        import psycopg

        if not self.db.raw.closed:
            try:
                self.db.execute("ROLLBACK")
            except psycopg.Error:  # the connection broke mid-transaction: nothing to roll back
                pass


class _Translate:
    """psycopg errors as one line that names the database (never its password) and what to do."""

    def __init__(self, store: PgStore):
        self.store = store

    def __enter__(self) -> _Connection:
        if self.store._away:  # a read (the rep's targets) may find the server back before the save does
            self.store._reconnected()
        return self.store.db

    def __exit__(self, kind, exc, tb) -> None:
        import psycopg

        if not isinstance(exc, psycopg.Error):
            return
        where = f"team database {self.store.path}"
        message = (str(exc).strip().splitlines() or [type(exc).__name__])[0].replace(self.store.url, self.store.path)
        for secret in secrets(self.store.url):
            message = message.replace(secret, "***")
        if isinstance(exc, psycopg.errors.InsufficientPrivilege):
            raise NotAllowed(f"{where}: your database role may not do this ({message}); ask your manager") from None
        if isinstance(exc, psycopg.errors.LockNotAvailable | psycopg.errors.QueryCanceled):
            raise VoicedrillError(f"{where} is busy (waited {self.store.timeout_s:g} s); try again", "--no-save") from None
        if isinstance(exc, psycopg.OperationalError) and unreachable(exc):
            self.store._away = True
            waited = self.store.db.watchdog.waited if self.store.db is not None else None
            said = f"it did not answer for {waited:.0f} s" if waited is not None else message  # (given up by us: psycopg says "closed unexpectedly")
            raise Unreachable(f"{where} cannot be reached ({said})") from None
        raise VoicedrillError(f"{where}: {message}") from None


