"""Reps the history could not take yet (locked too long, disk full, session deleted mid-run).

Each is written whole to a pending file, in the first folder that takes it: beside the history,
then the data, cache and temporary folders. The history imports them on its next successful open,
committing before it removes the file, and skips a rep it already holds (by its uid), so a kill at
any moment neither loses a rep nor files it twice.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import platformdirs

from .errors import VoicedrillError
from .files import clean_stale, reason, write_file


def folders(db: Path | str) -> list[Path]:
    """Where pending reps for the history at `db` (a file, or a team database's URL without its
    password) may be, in the order they are tried."""
    if isinstance(db, str):  # a server: nothing beside it on this computer
        key, beside = hashlib.sha256(db.encode()).hexdigest()[:12], []
    else:
        key, beside = hashlib.sha256(str(Path(os.path.abspath(db))).encode()).hexdigest()[:12], [db.parent / f".{db.name}.pending"]
    return [
        *beside,
        Path(platformdirs.user_data_dir("voicedrill")) / "pending" / key,
        Path(platformdirs.user_cache_dir("voicedrill")) / "pending" / key,
        Path(tempfile.gettempdir()) / f"voicedrill-{os.getuid()}" / "pending" / key,
    ]


def keep(db: Path | str, record: dict) -> Path:
    """Write one rep's record to a pending file; returns where it went."""
    data = json.dumps(record, ensure_ascii=False).encode("utf-8")
    problems = []
    for folder in folders(db):
        path = folder / f"rep-{record['uid']}.json"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            write_file(path, data)
            return path
        except OSError as exc:
            problems.append(f"{folder}: {reason(exc)}")
        except VoicedrillError as exc:
            problems.append(str(exc))
        _remove_if_empty(folder)
    raise VoicedrillError("the rep could not be kept anywhere (" + "; ".join(problems) + ")")


def found(*dbs: Path | str) -> list[Path]:
    """Pending files waiting for this history (known by any of these names), oldest first."""
    paths = []
    for folder in dict.fromkeys(f for db in dbs for f in folders(db)):
        if folder.is_dir():
            clean_stale(folder)
            paths.extend(p for p in folder.glob("rep-*.json") if p.is_file())
    return sorted(paths, key=lambda p: (_mtime(p), p.name))


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:  # taken in by another voicedrill just now
        return 0.0


def read(path: Path) -> dict | None:
    """A pending record as written (its fields are checked where it is imported), or None if the
    file cannot be read as one (it is then left where it is)."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):  # (RecursionError: nesting past Python's stack)
        return None
    return record if isinstance(record, dict) else None


def done(path: Path) -> None:
    """The rep is in the history: its pending file goes (and its folder, once empty)."""
    try:
        path.unlink()
    except OSError:
        pass  # someone else removed it first
    _remove_if_empty(path.parent)


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass  # other files remain, or it is not there
