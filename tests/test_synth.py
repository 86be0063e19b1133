"""Text-to-speech: repeatable audio from espeak-ng, pyttsx3 as the portable path, clear errors."""

from __future__ import annotations

import pytest

from voicedrill import synth
from voicedrill.errors import VoicedrillError


def test_espeak_ng_audio_is_repeatable():
    text = "Are you using a credit or debit card today?"
    first = synth.speak(text)
    assert first.size > 16000 and (synth.speak(text) == first).all()


def test_pyttsx3_path_writes_audio(tmp_path):
    """Where espeak-ng is not a program (Windows, macOS), pyttsx3 writes the file."""
    out = tmp_path / "line.wav"
    synth._pyttsx3_to_file("Email?", synth.DEFAULT_VOICE, 170, out)
    assert out.is_file() and out.stat().st_size > 1000
    assert synth.DEFAULT_VOICE in [v.id for v in synth._engine().getProperty("voices")]


def test_unknown_voice_is_a_clear_error():
    with pytest.raises(VoicedrillError, match="no-such-voice"):
        synth.speak("Hello", voice="no-such-voice")


def test_speaker_without_a_device_keeps_the_timing():
    speaker = synth.Speaker(enabled=True)
    seconds = speaker.start("You're all set.")
    assert 0.5 < seconds < 3.0
    assert speaker.take_notice() and speaker.take_notice() is None  # no speaker here: said once


def test_the_no_speaker_notice_wraps_between_words_at_80_columns():
    """Seen in an 80-column terminal: the line ran past the edge and broke in the middle of a word."""
    import io

    from rich.console import Console

    from voicedrill.liveview import LiveView

    speaker = synth.Speaker(enabled=True)
    speaker.start("Hello.")
    notice = speaker.take_notice()
    screen = io.StringIO()
    LiveView(Console(file=screen, width=80)).notice(notice)
    lines = screen.getvalue().splitlines()
    assert len(lines) > 1 and all(len(line) <= 80 for line in lines)
    assert " ".join(line.strip() for line in lines) == notice
