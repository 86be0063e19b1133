"""A generated corpus of awkward and broken inputs (issue: robustness). Every case through the CLI:
exit 0 with a report, or exit 2 with one line naming the input and what to do — never a traceback,
never a file left behind."""

from __future__ import annotations

import json
import wave

import numpy as np
import pytest
import soundfile as sf

from voicedrill.audio import RATE
from voicedrill.synth import speak

RATES = [8000, 16000, 22050, 44100, 48000, 96000]
DEPTHS = ["PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE"]
CHANNELS = [1, 2, 6]


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    """A short spoken line at 16 kHz, float."""
    return speak("And what's a good phone number for you?")


pytestmark = pytest.mark.usefixtures("shared_engine")


def assert_report(cli, path, heard: bool | None = None) -> dict:
    code, out, err = cli("check", str(path), "--json")
    assert code == 0, err
    assert "Traceback" not in err
    report = json.loads(out)
    if heard is not None:
        assert bool(report["words"]) == heard
    return report


def resampled(speech: np.ndarray, rate: int) -> np.ndarray:
    import soxr

    return soxr.resample(speech, RATE, rate) if rate != RATE else speech


# every rate with every sample format, the channel counts turn about: each pair of the three is covered
FORMATS = [(rate, depth, CHANNELS[(i + j) % len(CHANNELS)]) for i, rate in enumerate(RATES) for j, depth in enumerate(DEPTHS)]


@pytest.mark.parametrize("rate, depth, channels", FORMATS)
def test_any_wav_format_is_analysed(tmp_path, cli, speech, rate, depth, channels):
    path = tmp_path / f"rep {rate} {depth} {channels}ch.wav"
    audio = np.repeat(resampled(speech, rate)[:, None] * 0.8, channels, axis=1)
    sf.write(str(path), audio, rate, subtype=depth)
    code, out, err = cli("check", str(path), "--json")
    assert code == 0 and "Traceback" not in err, err
    report = json.loads(out)
    assert report["words"] and report["audio_s"] == pytest.approx(speech.size / RATE, abs=0.02)
    phone = next(s for s in report["steps"] if s["id"] == "phone")["status"]
    if rate >= 16000:
        assert phone == "ok"
    else:  # telephone bandwidth: read correctly, recognised less well, and the user is told so
        assert "less reliable below 16 kHz" in err


@pytest.mark.parametrize(
    "name, make",
    [
        ("flac", lambda p, s: sf.write(str(p.with_suffix(".flac")), s, RATE, format="FLAC")),
        ("ogg", lambda p, s: sf.write(str(p.with_suffix(".ogg")), s, RATE, format="OGG", subtype="VORBIS")),
        ("clipped", lambda p, s: sf.write(str(p), np.clip(s * 20, -1, 1), RATE)),
        ("dc-offset", lambda p, s: sf.write(str(p), np.clip(s * 0.5 + 0.4, -1, 1), RATE)),
        ("quiet", lambda p, s: sf.write(str(p), s * 10 ** (-40 / 20) / max(1e-9, np.abs(s).max()), RATE, subtype="FLOAT")),
        ("spaces and ünïcödé", lambda p, s: sf.write(str(p.with_name("my rep — ünïcödé.wav")), s, RATE)),
    ],
)
def test_awkward_recordings_are_analysed(tmp_path, cli, speech, name, make):
    base = tmp_path / "rep.wav"
    make(base, speech)
    (path,) = tmp_path.iterdir()
    report = assert_report(cli, path)
    if name not in ("quiet",):
        assert report["words"], name


@pytest.mark.parametrize(
    "name, make, seconds",
    [
        ("ten minutes of silence", lambda p: _silence(p, 600), 600),
        ("0.1 s of audio", lambda p: sf.write(str(p), np.zeros(RATE // 10), RATE), 0.1),
        ("one sample", lambda p: sf.write(str(p), np.zeros(1), RATE), 0),
        ("digital full scale square", lambda p: sf.write(str(p), np.sign(np.sin(np.arange(RATE * 2) / 10)), RATE), 2),
    ],
)
def test_no_speech_is_refused_in_one_line_not_saved_as_a_rep(tmp_path, cli, name, make, seconds):
    """Nothing heard is no rep (it was saved as a score-0 rep): after the recogniser's name, one line, exit 2."""
    path = tmp_path / "input.wav"
    make(path)
    code, out, err = cli("check", str(path), "--json")
    assert code == 2 and out == "" and "Traceback" not in err
    assert err.splitlines()[-1] == (f"voicedrill: error: {path}: no word was heard clearly in {seconds} s, so nothing was scored or saved; "
                                    "is it a recording of the drill said out loud?")


def test_a_faint_guess_at_a_near_silent_rep_is_no_rep(tmp_path, cli, drill, pieces, make_rep):
    """A rep 60 dB down (a microphone all but muted): the recogniser put one unsure "you" on it, and
    it was saved as a rep at 353 words a minute (found by a new user). No word heard clearly and
    no step found is nothing heard; 40 dB down it is still a rep."""
    audio, rate = sf.read(str(make_rep(pieces, "clean")[0]))
    for db, refused in ((60, True), (40, False)):
        path = tmp_path / f"down-{db}.wav"
        sf.write(str(path), audio * 10 ** (-db / 20), rate)
        code, out, err = cli("check", str(path), "--json", "--no-save")
        assert (code == 2 and "no word was heard clearly in" in err) if refused else (code == 0 and json.loads(out)["score"] > 50), err


def test_noise_the_recogniser_puts_a_word_on_is_a_report_with_nothing_of_the_script(tmp_path, cli):
    path = tmp_path / "input.wav"
    sf.write(str(path), np.random.default_rng(1).normal(0, 0.2, RATE * 5).clip(-1, 1), RATE)
    report = assert_report(cli, path, heard=True)
    assert all(s["status"] == "missing" for s in report["steps"]) and report["score"] <= 10


def _silence(path, seconds: int) -> None:
    with sf.SoundFile(str(path), "w", RATE, 1, "PCM_16") as f:
        for _ in range(seconds):
            f.write(np.zeros(RATE, dtype=np.int16))


def _wav_bytes(speech: np.ndarray) -> bytes:
    import io

    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes((speech * 20000).astype(np.int16).tobytes())
    return buf.getvalue()


BROKEN_FILES = {
    "zero bytes": (lambda s: b"", "the file is empty (0 bytes)"),
    "truncated header": (lambda s: _wav_bytes(s)[:20], "not a readable audio file"),
    "header only": (lambda s: _wav_bytes(s)[:44], "contains no audio"),
    "text named .wav": (lambda s: b"This is a sales script, not audio.\n" * 40, "not a readable audio file"),
    "json named .wav": (lambda s: json.dumps({"a": 1}).encode() * 50, "not a readable audio file"),
    "random bytes": (lambda s: np.random.default_rng(3).integers(0, 256, 5000, dtype=np.uint8).tobytes(), "not a readable audio file"),
    "mp3 codec tag in wav": (lambda s: _wav_bytes(s)[:20] + b"\x55\x00" + _wav_bytes(s)[22:], "not a readable audio file"),
    "unknown codec tag": (lambda s: _wav_bytes(s)[:20] + b"\x99\x99" + _wav_bytes(s)[22:], "not a readable audio file"),
    "zero channels": (lambda s: _wav_bytes(s)[:22] + b"\x00\x00" + _wav_bytes(s)[24:], "not a readable audio file"),
    "zero sample rate": (lambda s: _wav_bytes(s)[:24] + b"\x00\x00\x00\x00" + _wav_bytes(s)[28:], "not a readable audio file"),
    "RIFF of another kind": (lambda s: b"RIFF\x24\x00\x00\x00AVI LIST" + b"\x00" * 200, "not a readable audio file"),
    "png named .wav": (lambda s: b"\x89PNG\r\n\x1a\n" + b"\x00" * 300, "not a readable audio file"),
}


@pytest.mark.parametrize("case", sorted(BROKEN_FILES))
def test_broken_files_are_refused(tmp_path, cli, speech, case):
    make, message = BROKEN_FILES[case]
    path = tmp_path / f"{case}.wav"
    path.write_bytes(make(speech))
    cli.refused(["check", str(path)], message, path.name)
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_truncated_data_is_refused_as_cut_short(tmp_path, cli, speech):
    """A recording cut off mid-data (the header promises more: an unfinished copy) is refused, as
    a FLAC cut the same way is: scored as far as it goes, it read as a rep that skipped its last
    steps, and went into the history so."""
    path = tmp_path / "cut.wav"
    path.write_bytes(_wav_bytes(speech)[: 44 + 2 * RATE])
    before = path.read_bytes()
    cli.refused(["check", path], "the recording is cut short: the file holds 1.0 s of the", path)
    assert path.read_bytes() == before


@pytest.mark.parametrize("kind, name", [("W64", "cut.w64"), ("RF64", "cut.wav"), ("AIFF", "cut.aiff")])
def test_other_containers_cut_short_are_refused_too(tmp_path, cli, speech, kind, name):
    """W64, RF64 and AIFF name their missing audio in other words than WAV's "data": cut in half,
    they were scored and saved as reps that stopped halfway (found by an attack)."""
    whole = tmp_path / f"whole-{name}"
    sf.write(str(whole), speech, RATE, format=kind)
    path = tmp_path / name
    path.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    seconds = len(speech) / RATE
    cli.refused(["check", path], f"the recording is cut short: the file holds {seconds / 2:.1f} s of the {seconds:.1f} s it should", path)


@pytest.mark.parametrize("kind, subtype, name", [("WAV", "GSM610", "phone.wav"), ("AIFF", "GSM610", "phone.aiff"), ("WAV", "G721_32", "g721.wav"),
                                                  ("AU", "G723_24", "g723.au"), ("WAV", "NMS_ADPCM_16", "nms.wav"), ("XI", "DPCM_8", "sample.xi")])
def test_a_sound_encoding_that_cannot_be_read_through_is_refused(tmp_path, cli, speech, kind, subtype, name):
    """Telephone encodings libsndfile opens but cannot read through (GSM 6.10, G.721, …) passed the
    header check and were a traceback in check, drill and the app (found by an attack)."""
    path = tmp_path / name
    sf.write(str(path), speech[::2], 8000, subtype=subtype, format=kind)
    cli.refused(["check", path], "which voicedrill cannot read; save it as WAV (16-bit PCM), FLAC or OGG", path)


def test_raw_samples_with_no_header_are_refused(tmp_path, cli, speech):
    path = tmp_path / "rep.raw"
    path.write_bytes((speech * 32767).astype(np.int16).tobytes())
    cli.refused(["check", path], "not a readable audio file", path)


@pytest.mark.parametrize("subtype", ["VORBIS", "OPUS"])
def test_an_ogg_recording_cut_short_is_refused_and_a_whole_one_is_a_rep(tmp_path, cli, speech, subtype):
    """No OGG header says how long its sound is: half a file was scored and saved as a rep that
    stopped halfway (found by an attack). A finished OGG file ends with a whole page marked end-of-stream."""
    whole = tmp_path / "whole.ogg"
    sf.write(str(whole), speech, RATE if subtype == "VORBIS" else 48000 // 3, format="OGG", subtype=subtype)
    cut = tmp_path / "cut.ogg"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    cli.refused(["check", cut, "--no-save"], "the recording is cut short: its end is missing" if subtype == "VORBIS" else "", cut)  # (half an Opus file: libsndfile refuses it)
    code, out, err = cli("check", whole, "--no-save")
    assert code == 0 and "Score" in out, err
    tagged = tmp_path / "tagged.ogg"  # a whole file with a tag after it (an ID3v1 "TAG" block) is whole (found by a review)
    tagged.write_bytes(whole.read_bytes() + b"TAG" + b"x" * 125)
    assert cli("check", tagged, "--no-save")[0] == 0


def test_a_whole_recording_whose_trailing_tag_is_cut_is_still_a_rep(tmp_path, cli, speech):
    """A WAV whose audio is whole and whose LIST tag after it is cut: the file's size note says
    "should be" less, and the first W64/AIFF fix refused it as cut short (found by a review)."""
    import struct

    path = tmp_path / "tagged.wav"
    sf.write(str(path), speech, RATE, subtype="PCM_16")
    data = bytearray(path.read_bytes()) + b"LIST" + struct.pack("<I", 200000) + b"INFO" + b"x" * 996
    struct.pack_into("<I", data, 4, len(data) - 8 + 199000)
    path.write_bytes(bytes(data))
    assert assert_report(cli, path, heard=True)["words"]


def test_out_naming_a_file_says_it_takes_a_folder(tmp_path, cli, speech):
    """`drill --out rep.wav` said "(File exists)" (found by an attack)."""
    good = tmp_path / "good.wav"
    sf.write(str(good), speech, RATE)
    code, out, err = cli("drill", "--input", good, "--speed", "0", "--no-speech", "--out", good)
    assert code == 2 and err.splitlines()[-1] == f"voicedrill: error: {good} is a file, not a folder: --out takes a folder, where each run gets a folder of its own"


@pytest.mark.parametrize(
    "case, args, message",
    [
        ("missing file", ["check", "{tmp}/nope.wav"], "no such file"),
        ("directory", ["check", "{tmp}"], "is a folder"),
        ("missing drill", ["check", "{good}", "--drill", "{tmp}/none.toml"], "no such drill file"),
        ("unknown drill", ["check", "{good}", "--drill", "nonesuch"], "no drill named"),
        ("model is a file", ["check", "{good}", "--engine", "vosk", "--model", "{good}"], "is a file"),
        ("empty model dir", ["check", "{good}", "--engine", "vosk", "--model", "{tmp}/empty"], "am/final.mdl missing"),
        ("missing model", ["check", "{good}", "--engine", "vosk", "--model", "{tmp}/none"], "does not exist"),
        ("drill input missing", ["drill", "--input", "{tmp}/nope.wav"], "no such file"),
        ("reps out of range", ["drill", "--input", "{good}", "--reps", "0"], "--reps"),
        ("speed out of range", ["drill", "--input", "{good}", "--speed", "-1"], "--speed"),
        ("speed too small to be a speed", ["drill", "--input", "{good}", "--speed", "1e-400"], "--speed"),
        ("no microphone", ["drill"], "--input FILE"),
        ("a seed for no customer", ["drill", "--input", "{good}", "--seed", "5"], "add --customer"),
        ("validate missing", ["drills", "validate", "{tmp}/none.toml"], "no such drill file"),
        # a mistyped history folder read as "No reps saved yet", and a check made the folders and saved there (found by a new user)
        ("history in no folder", ["--db", "{tmp}/no/such/h.db", "history"], "the folder {tmp}/no/such does not exist"),
        ("check into no folder", ["--db", "{tmp}/no/h.db", "check", "{good}"], "the folder {tmp}/no does not exist"),
        ("a history named as a folder", ["--db", "{tmp}/no/", "history"], "names a folder; give a history file's name"),
        # a folder name too long for the file system was a traceback (found by a fault attack)
        ("a folder name too long", ["--db", "{tmp}/" + "z" * 300 + "/h.db", "team"], "cannot be used (File name too long)"),
        ("a file as its folder", ["--db", "{good}/h.db", "history"], "good.wav is not a folder; check the path"),
    ],
)
def test_bad_arguments_are_refused(tmp_path, cli, speech, case, args, message):
    good = tmp_path / "good.wav"
    sf.write(str(good), speech, RATE)
    (tmp_path / "empty").mkdir()
    args = [a.format(tmp=tmp_path, good=good) for a in args]
    code, out, err = cli(*args)
    assert code == 2 and err.count("\n") == 1 and message.format(tmp=tmp_path) in err and "Traceback" not in err, err
    assert not (tmp_path / "no").exists()


def test_a_history_in_no_folder_stops_only_the_commands_that_open_it(tmp_path, cli):
    """`--db` naming no folder refused `drills list` and `synth` too, which never open a history (found by an attack)."""
    code, out, _ = cli("--db", str(tmp_path / "no" / "h.db"), "drills", "list")
    assert code == 0 and "hard-close" in out and not (tmp_path / "no").exists()


def test_two_hour_recording_streams_in_flat_memory(tmp_path):
    """Two hours of audio are read block by block: the reader's memory does not grow with length."""
    import subprocess
    import sys

    path = tmp_path / "two hours.wav"
    _silence(path, 2 * 3600)
    code = (
        "import sys\n"
        "from voicedrill.audio import SilenceTracker, stream_file\n"
        "t = SilenceTracker(); n = 0\n"
        "for b in t.tee(stream_file(sys.argv[1])): n += b.size\n"
        "hwm = next(l for l in open('/proc/self/status') if l.startswith('VmHWM:'))\n"
        "print(n, len(t.silences()), hwm.split()[1])\n"
    )
    run = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=600)
    samples, silences, peak_kib = run.stdout.split()
    assert int(samples) == 2 * 3600 * RATE and int(silences) == 1
    assert int(peak_kib) < 250 * 1024  # the file is 230 MB; the reader stays far below it (its own peak: not
    # ru_maxrss, which a child inherits from this test process across fork and exec)


def _foreign(path, data: bytes) -> None:
    import sqlite3

    path.unlink()
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE contacts (name TEXT)")
    db.execute("INSERT INTO contacts VALUES ('Ann')")
    db.commit()
    db.close()


def _newer(path, data: bytes) -> None:
    import sqlite3

    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 99")
    db.close()


DAMAGED_DBS = {
    "truncated to half": (lambda path, data: path.write_bytes(data[: len(data) // 2]), "left untouched"),
    "truncated mid-page": (lambda path, data: path.write_bytes(data[: len(data) - 1000]), "left untouched"),
    "header only": (lambda path, data: path.write_bytes(data[:100]), "left untouched"),
    "cut inside the header": (lambda path, data: path.write_bytes(data[:60]), "not an SQLite database"),
    "not a database": (lambda path, data: path.write_bytes(b"\x00\x01notsqlite" * 100), "not an SQLite database"),
    "a text file": (lambda path, data: path.write_text("rep,score\n1,88\n"), "not an SQLite database"),
    "another program's database": (_foreign, "another program"),
    "from a newer voicedrill": (_newer, "newer voicedrill"),
    "a folder": (lambda path, data: (path.unlink(), path.mkdir()), "is a folder"),
}
DB_COMMANDS = {"history": ["history"], "export": ["export"], "report": ["report", "1"], "plot": ["history", "--plot", "{tmp}/p.png"],
               "delete": ["history", "--delete", "1"], "check": ["check", "{good}"]}


@pytest.mark.parametrize("command", sorted(DB_COMMANDS))
@pytest.mark.parametrize("damage", sorted(DAMAGED_DBS))
def test_damaged_history_is_refused_and_left_untouched(tmp_path, cli, speech, history_bytes, monkeypatch, damage, command):
    import hashlib

    from voicedrill.history import DB_ENV

    good = tmp_path / "good.wav"
    sf.write(str(good), speech, RATE)
    path = tmp_path / "history.db"
    spoil, message = DAMAGED_DBS[damage]
    path.write_bytes(history_bytes)
    spoil(path, history_bytes)
    before = None if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    monkeypatch.setenv(DB_ENV, str(path))
    args = [a.format(tmp=tmp_path, good=good) for a in DB_COMMANDS[command]]
    cli.refused(args, message, str(path))
    if before:
        assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.wav", "history.db"]  # no -wal, no chart, nothing beside it
