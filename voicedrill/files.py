"""Files in and out: inputs refused before any work if they are not plain readable files, outputs
written whole or not at all, and operating-system errors said in plain words."""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Callable
from pathlib import Path

from .errors import VoicedrillError

_TEMP = re.compile(r"^\..+\.(\d+)\.voicedrill-tmp$")  # .NAME.PID.voicedrill-tmp, our half-written files
_REASONS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EROFS: "the disk is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.ENOENT: "no such file or folder",
    errno.ENOTDIR: "part of the path is not a folder",
    errno.EISDIR: "it is a folder",
    errno.ELOOP: "its symbolic links loop",
    errno.ENAMETOOLONG: "the name is too long",
    errno.EIO: "the disk reported an error",
}


def reason(exc: OSError) -> str:
    """An OS error as a few plain words."""
    return _REASONS.get(exc.errno or 0) or exc.strerror or str(exc)


def regular_input(path: str | Path, what: str = "file") -> Path:
    """Refuse, before any work, an input that is missing, a folder, a pipe or device, or unreadable."""
    path = Path(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise VoicedrillError(f"{path}: no such {what}") from None
    except OSError as exc:
        raise VoicedrillError(f"{path}: {reason(exc)}") from None
    if stat.S_ISDIR(mode):
        raise VoicedrillError(f"{path}: is a folder, not a {what}")
    if not stat.S_ISREG(mode):
        raise VoicedrillError(f"{path}: is a pipe or a device, not a {what}; save it to a file first")
    try:
        with open(path, "rb") as f:
            f.read(1)
    except OSError as exc:
        raise VoicedrillError(f"{path}: cannot read the {what} ({reason(exc)})") from None
    return path


_KEPT: dict[str, str] = {}  # files this run reads or keeps (real path → what it is): never written over, by any name


def keep_safe(path: str | Path, what: str) -> None:
    """Mark a file this run reads or keeps (the history, a recording) so no output may replace it,
    by any name: its path, a symbolic link, or a hard link to it (see destination)."""
    _KEPT[os.path.realpath(path)] = what


def _same_file(kept: str, real: Path) -> bool:
    """Is `real` the kept file by another name (a hard link)? Asked of the files as they are now:
    a kept file since deleted frees its inode for another."""
    try:
        return os.path.samefile(kept, real)
    except OSError:
        return False


def named_as(path: str | Path, what: str, suffixes: tuple[str, ...]) -> Path:
    """`path`, if its name says it is `what` (ends in one of `suffixes`): an output of one kind is
    never written over a file of another by a slip of the name ("--png keep.wav")."""
    name = Path(path).name.lower()
    if not any(name.endswith(suffix) and len(name) > len(suffix) for suffix in suffixes):
        raise VoicedrillError(f"{path}: this writes {what}; give a file name ending in {' or '.join(suffixes)}")
    return Path(path)


def destination(path: str | Path) -> Path:
    """Refuse a place a whole file cannot go: a folder, a device, no such folder, or a file this
    run reads or keeps; returns the real path (a symbolic link is written through)."""
    path = Path(path)
    try:
        real = Path(os.path.realpath(path))
        if real.is_dir():
            raise VoicedrillError(f"{path}: is a folder; give a file name inside it")
        if os.path.lexists(real) and not real.is_file():
            raise VoicedrillError(f"{path}: is not a regular file (a device or a pipe); choose a file name")
        if not real.parent.is_dir():
            raise VoicedrillError(f"{path}: the folder {path.parent} does not exist; create it or choose another")
        linked = real.is_file() and os.stat(real).st_nlink > 1
    except OSError as exc:
        raise VoicedrillError(f"{path}: cannot write there ({reason(exc)})") from None
    if kept := _KEPT.get(str(real)) or next((what for name, what in _KEPT.items() if linked and _same_file(name, real)), None):
        raise VoicedrillError(f"{path}: that is {kept}; choose another file name")
    return real


def write_atomic(path: str | Path, write: Callable[[Path], object], new: str = "") -> None:
    """Call `write(temp)` on a temporary file beside `path` and move it into place: a crash or a full
    disk leaves the old file as it was, never half a file. `new`: what a file of a name only this
    program picks holds (an upload), said in its place when it cannot be written."""
    path = destination(path)
    clean_stale(path.parent)
    tmp = path.parent / f".{path.name}.{os.getpid()}.voicedrill-tmp"
    try:
        try:
            write(tmp)
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
            os.replace(tmp, path)
        finally:
            if os.path.lexists(tmp):
                os.unlink(tmp)
    except OSError as exc:
        raise VoicedrillError(f"cannot keep {new} on this computer ({reason(exc)})" if new
                              else f"cannot write {path} ({reason(exc)}); the old file, if any, is unchanged") from None


def write_file(path: str | Path, data: bytes) -> None:
    """A whole file or nothing (a chart, a page, an export, a rep record)."""
    write_atomic(path, lambda tmp: tmp.write_bytes(data))


def clean_stale(folder: Path) -> None:
    """Remove half-written files left by voicedrill processes that were killed."""
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        match = _TEMP.match(name)
        if match and not _alive(int(match[1])):
            try:
                os.unlink(folder / name)
            except OSError:
                pass  # another process cleaned it, or the folder is read-only: harmless


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True
