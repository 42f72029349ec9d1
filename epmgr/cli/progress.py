"""Progress while waiting for an endpoint: a spinner line on a terminal, plain lines otherwise."""

from __future__ import annotations

import itertools
import sys
from datetime import timedelta
from typing import TextIO

from epmgr.domain.model import EndpointSnapshot


class WaitProgress:
    """Called on each poll with the latest snapshot and the time waited so far."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self._spinner = itertools.cycle("|/-\\")
        self._last_state: str | None = None

    def __call__(self, snapshot: EndpointSnapshot, waited: timedelta) -> None:
        state = snapshot.state.value
        seconds = int(waited.total_seconds())
        if self.tty:
            self.stream.write(f"\r{next(self._spinner)} {snapshot.ref}: {state}, {seconds}s elapsed   ")
            self.stream.flush()
        elif state != self._last_state:
            self.stream.write(f"{snapshot.ref}: {state} after {seconds}s\n")
        self._last_state = state

    def done(self) -> None:
        if self.tty:
            self.stream.write("\n")
