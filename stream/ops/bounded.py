"""A Faust worker whose stop on SIGTERM or SIGINT ends within a bounded time, whatever the broker does."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from typing import Any

import faust

log = logging.getLogger(__name__)

# the process ends with this code when a graceful stop overran ALPHAWATCH_SHUTDOWN_TIMEOUT_S;
# nothing is lost: offsets not committed are read again by the next owner
EXIT_STOP_TIMEOUT = 71


class BoundedWorker(faust.Worker):
    """Faust's stop commits, flushes and leaves the group; with the broker gone each of those
    waits on retries (a worker was seen alive 40 minutes after SIGTERM). The first signal arms a
    timer that ends the process if the graceful stop has not finished by then."""

    def __init__(self, *args: Any, shutdown_timeout_s: float, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.shutdown_timeout_s = shutdown_timeout_s
        self._deadline: threading.Timer | None = None

    def _schedule_shutdown(self, signum: signal.Signals) -> None:
        if self._deadline is None:
            self._deadline = threading.Timer(self.shutdown_timeout_s, self._give_up, args=(signum,))
            self._deadline.daemon = True
            self._deadline.start()
        super()._schedule_shutdown(signum)

    def _give_up(self, signum: signal.Signals) -> None:
        print(f"stop after {signum.name} took over {self.shutdown_timeout_s:.0f} s "
              "(ALPHAWATCH_SHUTDOWN_TIMEOUT_S): exiting without a graceful stop", file=sys.stderr, flush=True)
        os._exit(EXIT_STOP_TIMEOUT)
