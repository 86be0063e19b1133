"""Finding, checking and downloading vosk models."""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from .errors import VoicedrillError
from .files import reason

MODEL_NAME = "vosk-model-small-en-us-0.15"
MODEL_URL = f"https://alphacephei.com/vosk/models/{MODEL_NAME}.zip"
MODEL_SIZE = 41_205_931
MODEL_SHA256 = "30f26242c4eb449f948e42cb302dd7a686cb29a3423a8367f99ff41780942498"
ENV_VAR = "VOICEDRILL_MODEL"
DIRS_VAR = "VOICEDRILL_MODEL_DIRS"
PROJECT_MODELS = Path(__file__).resolve().parent.parent / "models"  # a source checkout's models/ folder
_ENGLISH = re.compile(r"-en(-[a-z]{2})?(-|$)")


@dataclass(frozen=True)
class FoundModel:
    """A usable model folder and why it was chosen."""

    path: Path
    why: str


def user_models_dir() -> Path:
    return Path(platformdirs.user_data_dir("voicedrill")) / "models"


def search_dirs() -> list[tuple[Path, str]]:
    """Folders searched for models, in order, after --model and $VOICEDRILL_MODEL
    ($VOICEDRILL_MODEL_DIRS, separated by the path separator, replaces them all)."""
    if os.environ.get(DIRS_VAR):
        return [(Path(d), f"${DIRS_VAR}") for d in os.environ[DIRS_VAR].split(os.pathsep) if d]
    dirs = [(PROJECT_MODELS, "project models/ folder"), (user_models_dir(), "voicedrill data folder")]
    if os.environ.get("VOSK_MODEL_PATH"):
        dirs.append((Path(os.environ["VOSK_MODEL_PATH"]), "$VOSK_MODEL_PATH"))
    dirs += [(Path.home() / ".cache" / "vosk", "vosk's cache"), (Path("/usr/share/vosk"), "vosk's system folder")]
    return dirs


def problem(path: Path) -> str | None:
    """Why a folder is not a usable vosk model, or None if it looks complete."""
    if not path.exists():
        return "does not exist"
    if not path.is_dir():
        return "is a file, not a model folder"
    if not os.access(path, os.R_OK | os.X_OK):
        return "cannot be read (permission denied)"
    if not any((path / p).is_file() for p in ("am/final.mdl", "final.mdl")):
        return "is not a complete vosk model (am/final.mdl missing)"
    if not any((path / p).is_file() for p in ("conf/mfcc.conf", "mfcc.conf")):
        return "is not a complete vosk model (conf/mfcc.conf missing)"
    graphs = ("graph/HCLG.fst", "HCLG.fst", "graph/HCLr.fst", "HCLr.fst")
    if not any((path / p).is_file() for p in graphs):
        return "is not a complete vosk model (no graph/HCLG.fst or graph/HCLr.fst)"
    unreadable = [p for p in path.rglob("*") if p.is_file() and not os.access(p, os.R_OK)]
    if unreadable:
        return f"cannot be read ({unreadable[0].relative_to(path)}: permission denied)"
    settings = next((path / p for p in ("conf/model.conf", "model.conf") if (path / p).is_file()), None)
    if settings is None or "--endpoint.silence-phones" not in settings.read_text(encoding="utf-8", errors="replace"):
        return "is not a complete vosk model (conf/model.conf missing, or without its endpoint settings)"  # (vosk then spins for ever, deaf to Ctrl-C)
    return None


def _checked(path: Path, why: str) -> FoundModel:
    trouble = problem(path)
    if trouble:
        raise VoicedrillError(f"vosk model {path} ({why}) {trouble}; run: voicedrill model download")
    return FoundModel(path, why)


def resolve(explicit: str | Path | None, english_only: bool = False) -> FoundModel | None:
    """The model to use: --model, then $VOICEDRILL_MODEL, then the search folders (first complete one)."""
    if explicit:
        return _checked(Path(explicit).expanduser(), "--model")
    if os.environ.get(ENV_VAR):
        return _checked(Path(os.environ[ENV_VAR]).expanduser(), f"${ENV_VAR}")
    for folder, why in search_dirs():
        if not folder.is_dir():
            continue
        for candidate in [folder, *sorted(p for p in folder.iterdir() if p.is_dir())]:
            if english_only and not _ENGLISH.search(candidate.name):
                continue
            if problem(candidate) is None:
                return FoundModel(candidate, f"found in {why} {folder}")
    return None


def missing_model_message() -> str:
    places = ", ".join(str(d) for d, _ in search_dirs())
    return (
        f"no vosk model found (looked at --model, ${ENV_VAR}, {places}); "
        "run `voicedrill model download` or use --engine pocketsphinx"
    )


def download(dest: Path, url: str = MODEL_URL, size: int | None = MODEL_SIZE, sha256: str | None = MODEL_SHA256) -> Path:
    """Fetch, verify (size, SHA-256, zip CRCs) and atomically unpack a model zip into `dest`.

    Nothing but the finished model ever appears under its final name: the work happens in a
    temporary folder beside it that is removed whatever happens (errors, Ctrl-C).
    """
    try:
        if dest.exists() and not dest.is_dir():
            raise VoicedrillError(f"{dest} is a file, not a folder; choose a folder with --dir")
        dest.mkdir(parents=True, exist_ok=True)
        for stale in dest.glob(".download-*"):
            shutil.rmtree(stale, ignore_errors=True)
        target = dest / Path(urllib.request.url2pathname(url.rsplit("/", 1)[-1])).stem
        if problem(target) is None:
            return target
        work = Path(tempfile.mkdtemp(prefix=".download-", dir=dest))
    except OSError as exc:
        raise VoicedrillError(f"cannot put the model in {dest} ({reason(exc)}); choose another folder with --dir") from None
    try:
        archive = work / "model.zip"
        _fetch(url, archive, size, sha256)
        unpacked = _unpack(archive, work / "unpacked")
        if target.exists():
            shutil.rmtree(target)
        os.replace(unpacked, target)
        return target
    except OSError as exc:
        raise VoicedrillError(f"cannot unpack the model into {dest} ({reason(exc)}); nothing was installed") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _fetch(url: str, archive: Path, size: int | None, sha256: str | None) -> None:
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    digest = hashlib.sha256()
    received = 0
    try:
        with urllib.request.urlopen(url, timeout=30) as response, archive.open("wb") as out:
            total = size or int(response.headers.get("Content-Length") or 0) or None
            screen = Console(stderr=True)
            with Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                          console=screen, transient=True, disable=not screen.is_terminal) as bar:
                task = bar.add_task("downloading model", total=total)
                read = getattr(response, "read1", response.read)  # whatever has arrived: the bar moves on slow links
                while chunk := read(1 << 16):
                    out.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    bar.update(task, advance=len(chunk))
                    if size is not None and received > size:  # an endless or wrong source: stop, don't fill the disk
                        break
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:  # (a bad URL, an answer that is not HTTP)
        why = getattr(exc, "reason", None) or exc
        why = reason(why) if isinstance(why, OSError) else why
        raise VoicedrillError(f"model download from {url} failed ({why}); nothing was installed") from None
    if size is not None and received != size:
        raise VoicedrillError(f"model download is {received} bytes, expected {size}: interrupted or wrong file; nothing was installed")
    if sha256 is not None and digest.hexdigest() != sha256:
        raise VoicedrillError(f"model download has SHA-256 {digest.hexdigest()[:16]}…, expected {sha256[:16]}…: corrupted; nothing was installed")


def _unpack(archive: Path, into: Path) -> Path:
    """Check every member's CRC and path, extract, and return the single model folder inside."""
    try:
        with zipfile.ZipFile(archive) as zf:
            bad = zf.testzip()
            if bad:
                raise VoicedrillError(f"model archive is corrupted (CRC error in {bad}); nothing was installed")
            tops = {Path(n).parts[0] for n in zf.namelist() if Path(n).parts}
            unsafe = [n for n in zf.namelist() if n.startswith("/") or ".." in Path(n).parts]
            if len(tops) != 1 or unsafe:
                raise VoicedrillError("model archive does not hold exactly one model folder; nothing was installed")
            zf.extractall(into)
    except zipfile.BadZipFile as exc:
        raise VoicedrillError(f"model archive is not a valid zip ({exc}); nothing was installed") from None
    folder = into / tops.pop()
    trouble = problem(folder)
    if trouble:
        raise VoicedrillError(f"downloaded model {trouble}; nothing was installed")
    return folder
