"""Recognition stage: engines behind one small protocol that turns 16 kHz blocks into timed words."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from .audio import RATE
from .data import Word
from .drills import Drill
from .errors import VoicedrillError

ENGINES = ("auto", "vosk", "pocketsphinx")


class Recognizer(Protocol):
    """One rep's decoding stream."""

    def accept(self, pcm: np.ndarray) -> list[Word]:
        """Feed 16 kHz mono int16 audio; return words that became final."""
        ...

    def partial(self) -> list[Word]:
        """Words of the current, not yet final hypothesis (for live display)."""
        ...

    def finish(self) -> list[Word]:
        """End of audio: return the remaining final words (the stream is then closed)."""
        ...

    def close(self) -> None:
        """End the stream without its last words (a rep cut off); harmless after finish()."""
        ...


class Engine(Protocol):
    """A loaded model; cheap to ask for a new recogniser per rep."""

    name: str
    description: str
    model_name: str  # which model, as saved with each rep
    recipe: Callable[[], Engine] | None  # loads this engine again in a child process (decoding.Twin); None: decode live here

    def recognizer(self) -> Recognizer:
        """A new stream; the previous one must be finished or closed first."""
        ...


@dataclass(frozen=True)
class Transcript:
    """All words of a decoded stream plus how much audio it held."""

    words: tuple[Word, ...]
    audio_s: float


def transcribe(engine: Engine, blocks: Iterable[np.ndarray]) -> Transcript:
    """Decode a whole stream of blocks with a fresh recogniser (closed whatever happens)."""
    recognizer = engine.recognizer()
    words: list[Word] = []
    samples = 0
    try:
        for block in blocks:
            samples += block.size
            words += recognizer.accept(block)
        words += recognizer.finish()
    finally:
        recognizer.close()
    return Transcript(tuple(words), samples / RATE)


def load_engine(choice: str = "auto", model: str | Path | None = None, drill: Drill | None = None) -> Engine:
    """Load the engine the user asked for; `auto` prefers vosk when an English model is found."""
    from . import models

    if choice not in ENGINES:
        raise VoicedrillError(f"unknown engine {choice!r} (use one of: {', '.join(ENGINES)})")
    if choice == "pocketsphinx" or (choice == "auto" and model is None and models.resolve(None, english_only=True) is None):
        from .sphinx_engine import SphinxEngine

        engine = SphinxEngine(drill)
        if choice == "auto":
            engine.description += "; for vosk: voicedrill model download"
        return engine
    from .vosk_engine import VoskEngine

    found = models.resolve(model, english_only=choice == "auto")
    if found is None:
        raise VoicedrillError(models.missing_model_message())
    return VoskEngine(found)
