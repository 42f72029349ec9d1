"""What the client module's docstring says of a call on a paused endpoint is true: which files of epmgr stand
between the caller and the socket at each send, and how many at most."""

from __future__ import annotations

import re
import socket
import threading
import traceback
from pathlib import Path
from typing import Any

import pytest

import epmgr.client
from epmgr.client import EndpointClient
from epmgr.domain.model import EndpointState
from tests.client.world import World

SOURCE = Path(epmgr.__file__).resolve().parent
MAX_FILES = 6  # "crosses at most 6 files" in epmgr/client/__init__.py


def named_files() -> set[str]:
    """The files the docstring names (``client/sync.py``, ``acting.py``, ...), as paths under epmgr/."""
    named = set()
    for name in re.findall(r"``([a-z_/]+\.py)``", epmgr.client.__doc__ or ""):
        in_client = "/" not in name and (SOURCE / "client" / name).is_file()  # "aio.py" after "client/sync.py"
        named.add(f"client/{name}" if in_client else name)
    return named


def test_a_call_on_a_paused_endpoint_crosses_only_the_files_the_docstring_names(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.create("ep", EndpointState.PAUSED)
    caller = threading.get_ident()
    sends: list[tuple[str, list[str]]] = []
    send = socket.socket.send

    def traced(sock: socket.socket, data: Any, *args: Any) -> int:
        if threading.get_ident() == caller:
            stack = [f.filename for f in traceback.extract_stack()]
            files = [str(Path(f).relative_to(SOURCE)) for f in stack if f.startswith(str(SOURCE))]
            sends.append((bytes(data[:40]).split(b" ")[0].decode(errors="replace"), list(dict.fromkeys(files))))
        return send(sock, data, *args)

    monkeypatch.setattr(socket.socket, "send", traced)
    with EndpointClient("ep") as client:
        assert client.text_generation("hi", max_new_tokens=3) == "echo: hi"
    monkeypatch.undo()

    crossed = {f for _, files in sends for f in files}
    assert "acting.py" in crossed  # the resume was sent through the executor
    assert "client/coordinator.py" not in crossed  # the coordinator prepares the audited call; the waker makes it
    assert sorted(crossed - named_files()) == []
    assert max(len(files) for _, files in sends) == MAX_FILES
    assert f"crosses at most {MAX_FILES} files" in " ".join((epmgr.client.__doc__ or "").split())
