"""The vosk engine: the main recogniser, streaming with word times and confidences."""

from __future__ import annotations

import json

import numpy as np

from .audio import RATE
from .data import Word
from .errors import VoicedrillError
from .models import FoundModel

UNKNOWN = "[unk]"


def _words(result_json: str) -> list[Word]:
    result = json.loads(result_json)
    return [
        Word(r["word"], float(r["start"]), float(r["end"]), float(r.get("conf", 1.0)))
        for r in result.get("result", result.get("partial_result", []))
        if r["word"] != UNKNOWN
    ]


class VoskRecognizer:
    """One stream over a loaded vosk model."""

    def __init__(self, model: object):
        import vosk

        self._rec = vosk.KaldiRecognizer(model, RATE)
        self._rec.SetWords(True)
        self._rec.SetPartialWords(True)

    def accept(self, pcm: np.ndarray) -> list[Word]:
        if self._rec.AcceptWaveform(pcm.tobytes()):
            return _words(self._rec.Result())
        return []

    def partial(self) -> list[Word]:
        return _words(self._rec.PartialResult())

    def finish(self) -> list[Word]:
        return _words(self._rec.FinalResult())

    def close(self) -> None:
        """Nothing to give back: each vosk stream has a recogniser of its own."""


class VoskEngine:
    """Loads a vosk model once; each rep gets a fresh recogniser over it."""

    name = "vosk"

    def __init__(self, found: FoundModel):
        import vosk

        vosk.SetLogLevel(-2)  # errors only: Kaldi warnings (e.g. "partial word at end of utterance") mean nothing to a rep
        try:
            self.model = vosk.Model(str(found.path))
        except Exception as exc:  # vosk raises a bare Exception("Failed to create a model")
            raise VoicedrillError(f"{found.path}: vosk could not load this model ({exc}); re-download it with: voicedrill model download") from None
        self.description = f"vosk, model {found.path.name} ({found.why})"
        self.model_name = str(found.path)

    def recognizer(self) -> VoskRecognizer:
        return VoskRecognizer(self.model)
