"""The rep store: every finished rep is written, atomically, before the next one starts."""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import platformdirs

from .data import RepReport
from .errors import VoicedrillError
from .report import to_dict


def sessions_dir() -> Path:
    return Path(platformdirs.user_data_dir("voicedrill")) / "sessions"


def new_session(root: Path | None = None) -> Path:
    """A fresh folder for one run of reps, named by its start time."""
    root = root or sessions_dir()
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


def save_rep(session: Path, number: int, report: RepReport, meta: dict, audio: np.ndarray | None = None) -> Path:
    """Write rep-NN.json (and rep-NN.wav if audio is given) so that a crash never leaves half a file."""
    path = session / f"rep-{number:02d}.json"
    record = {
        "session": session.name,
        "rep": number,
        "saved_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **meta,
        "report": to_dict(report),
    }
    if audio is not None:
        from .synth import write_wav

        _atomic(session / f"rep-{number:02d}.wav", lambda tmp: write_wav(tmp, audio))
    _atomic(path, lambda tmp: Path(tmp).write_text(json.dumps(record, ensure_ascii=False, indent=1), encoding="utf-8"))
    return path


def _atomic(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise VoicedrillError(f"cannot save {path} ({exc.strerror or exc})") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
