"""Speech synthesis (pyttsx3 → espeak-ng on Linux): example reps, with ground-truth timing.

A rep is built from spoken pieces joined by silences we choose, so the true start and end of
every piece — and so every pause between questions — is known exactly.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from .audio import RATE, to_pcm16, with_hiss
from .errors import VoicedrillError

DEFAULT_VOICE = "gmw/en-us"
CUSTOMER_VOICE = "gmw/en-us-nyc"
SILENCE_LEVEL = 0.01  # samples quieter than this (−40 dBFS) at either end are trimmed
ATTEMPTS = 3
ROOM_TONE = 17  # ± 16-bit steps (about −70 dBFS): a quiet room through a microphone
ROOM_SEED = 1  # not the recogniser's hiss (seed 0), which would double it where both start together


@dataclass(frozen=True)
class Piece:
    """Something to say, what it stands for (a step id, "filler", …), and the silence before it."""

    text: str
    label: str = ""
    pause_before: float = 0.3


@dataclass(frozen=True)
class Segment:
    """Where a piece ended up in the built audio (seconds)."""

    text: str
    label: str
    start: float
    end: float


@lru_cache(maxsize=1)
def _engine():
    try:
        import pyttsx3

        with contextlib.redirect_stdout(io.StringIO()):
            engine = pyttsx3.init()
        atexit.register(_engine.cache_clear)  # let it go while Python still runs: its __del__ fails at shutdown
        return engine
    except (ImportError, OSError, RuntimeError, KeyError) as exc:  # what pyttsx3's drivers raise with no TTS installed
        raise VoicedrillError(f"no text-to-speech engine available ({exc}); on Linux install espeak-ng") from None


@lru_cache(maxsize=1)
def voices() -> frozenset[str]:
    """The voice ids that can be asked for, in lower case (e.g. "gmw/en-us", "en-us")."""
    if shutil.which("espeak-ng"):
        listing = subprocess.run(["espeak-ng", "--voices"], capture_output=True, text=True, timeout=30).stdout
        rows = [line.split() for line in listing.splitlines()[1:]]
        return frozenset(name.lower() for row in rows if len(row) >= 5 for name in (row[1], row[4]))
    return frozenset(v.id.lower() for v in _engine().getProperty("voices"))


def speak(text: str, voice: str = DEFAULT_VOICE, wpm: int = 170) -> np.ndarray:
    """Synthesise text to 16 kHz float audio with leading and trailing silence trimmed.

    espeak-ng voices take a variant after a plus sign ("gmw/en-us+f3": a female variant).
    """
    if voice.lower().split("+")[0] not in voices():
        raise VoicedrillError(f"text-to-speech voice {voice!r} is not installed")
    for _ in range(ATTEMPTS):
        samples = _synthesise(text, voice, wpm)
        loud = np.flatnonzero(np.abs(samples) > SILENCE_LEVEL)
        if loud.size:
            return samples[loud[0] : loud[-1] + 1]
    raise VoicedrillError(f"text-to-speech produced no audio for {text!r} ({ATTEMPTS} attempts)")


def _synthesise(text: str, voice: str, wpm: int) -> np.ndarray:
    """One synthesis to a temporary WAV, read back as 16 kHz mono; empty if nothing was written.

    On Linux pyttsx3 drives espeak-ng; where the espeak-ng program is installed it is called
    directly instead, because pyttsx3's espeak driver collects audio from an asynchronous callback
    and its output differs from run to run (and is now and then empty) while espeak-ng's own is
    exactly repeatable. Elsewhere (SAPI5, NSSS) pyttsx3 is the way.
    """
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "piece.wav"
        if shutil.which("espeak-ng"):
            done = subprocess.run(
                ["espeak-ng", "-v", voice, "-s", str(wpm), "-w", str(out), "--stdin"],
                input=text.encode("utf-8"), capture_output=True, timeout=60,
            )
            if done.returncode != 0:
                reason = done.stderr.decode("utf-8", "replace").strip() or f"exit {done.returncode}"
                raise VoicedrillError(f"espeak-ng cannot speak with voice {voice!r}: {reason}")
        else:
            _pyttsx3_to_file(text, voice, wpm, out)
        if not out.is_file() or out.stat().st_size <= 44:
            return np.zeros(0, dtype=np.float32)
        samples, rate = sf.read(out, dtype="float32", always_2d=True)
    mono = samples.mean(axis=1)
    return soxr.resample(mono, rate, RATE) if rate != RATE and mono.size else mono


def _pyttsx3_to_file(text: str, voice: str, wpm: int, out: Path) -> None:
    engine = _engine()
    with contextlib.redirect_stdout(io.StringIO()):  # pyttsx3 prints "Audio saved to …"
        engine.setProperty("voice", voice)
        engine.setProperty("rate", wpm)
        engine.save_to_file(text, str(out))
        engine.runAndWait()


def build_rep(pieces: list[Piece], voice: str = DEFAULT_VOICE, wpm: int = 170, tail: float = 0.5) -> tuple[np.ndarray, list[Segment]]:
    """Speak each piece after its pause; return int16 audio and where each piece landed."""
    chunks: list[np.ndarray] = []
    segments: list[Segment] = []
    t = 0
    for piece in pieces:
        silence = int(round(piece.pause_before * RATE))
        speech = speak(piece.text, voice, wpm)
        chunks += [np.zeros(silence, dtype=np.float32), speech]
        start = t + silence
        t = start + speech.size
        segments.append(Segment(piece.text, piece.label, start / RATE, t / RATE))
    chunks.append(np.zeros(int(tail * RATE), dtype=np.float32))
    return to_pcm16(np.concatenate(chunks)), segments


def in_a_room(audio: np.ndarray) -> np.ndarray:
    """A synthesised rep as a microphone in a quiet room records it: a faint room tone under it all,
    never digital silence. Streamed, exact zeros upset the recogniser's running mean: `voicedrill
    synth`'s hard-close rep opened "to do it" (not "Perfect."), micro-commitment's "Does it make…"
    was a filler, first-close-recovery at 210 wpm scored 84 (with the room tone: word for word,
    100, 100, 97)."""
    return with_hiss(audio, ROOM_TONE, ROOM_SEED)


def write_wav(path: str | Path, audio: np.ndarray) -> None:
    """16 kHz 16-bit WAV, encoded in memory so that a file error is an OSError that names its cause."""
    encoded = io.BytesIO()
    sf.write(encoded, audio, RATE, subtype="PCM_16", format="WAV")
    Path(path).write_bytes(encoded.getvalue())


class Speaker:
    """Spoken prompts and the customer's voice: TTS on the speaker, or on screen when that fails.

    Lines keep their spoken length even when they cannot be played (no speaker), so a dialogue
    keeps its timing; with no TTS at all, the length is estimated from the words.
    """

    def __init__(self, enabled: bool = True, wpm: int = 180):
        self.enabled = enabled
        self.wpm = wpm
        self.notice: str | None = None  # why lines are on screen only, to show once
        self._playing = False
        self._cache: dict[tuple[str, str], np.ndarray | None] = {}

    def audio(self, text: str, voice: str = DEFAULT_VOICE) -> np.ndarray | None:
        """The line as it is (or would be) played; None when there is no TTS."""
        if (text, voice) not in self._cache:
            try:
                self._cache[text, voice] = speak(text, voice, self.wpm)
            except VoicedrillError as exc:
                self._cache[text, voice] = None
                self._off(exc)
        return self._cache[text, voice]

    def _off(self, exc: VoicedrillError) -> None:
        if self.enabled:
            self.enabled = False
            self.notice = f"{exc}, so the cues and customer lines are shown on screen instead of spoken"

    def take_notice(self) -> str | None:
        """The reason lines went silent, once."""
        notice, self.notice = self.notice, None
        return notice

    def start(self, text: str, voice: str = DEFAULT_VOICE) -> float:
        """Start saying text without waiting; return how long it lasts."""
        samples = self.audio(text, voice)
        if samples is None:
            return max(1.0, 0.4 * len(text.split()))
        if self.enabled:
            from .audio import play

            try:
                play(samples, wait=False)
                self._playing = True
            except VoicedrillError as exc:
                self._off(exc)
        return samples.size / RATE

    def say(self, text: str, voice: str = DEFAULT_VOICE) -> None:
        """Say text and wait until it is said (cues between reps)."""
        if not self.enabled:
            return
        self.start(text, voice)
        if self._playing:
            from .audio import wait_played

            wait_played()
            self._playing = False
