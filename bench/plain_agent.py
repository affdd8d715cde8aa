"""A Faust agent that only iterates a topic: the engine's own per-record ceiling, for bench/throughput.py.

Run as `python bench/plain_agent.py worker -l warn` with BENCH_BROKER (kafka://host:port),
BENCH_TOPIC, BENCH_EVENTS and BENCH_OUT (a file that receives the seconds from the first event to
the last); the worker stops itself when it has seen BENCH_EVENTS events.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import faust

from stream.app import limit_fetch_wait

# the same fetch wait the product uses: Tansu answers a fetch only when the wait runs out
limit_fetch_wait(100)
app = faust.App(f"bench-plain-{os.getpid()}", broker=os.environ["BENCH_BROKER"], store="memory://",
                web_enabled=False, consumer_auto_offset_reset="earliest", topic_partitions=4)
source = app.topic(os.environ["BENCH_TOPIC"], value_serializer="raw", key_serializer="raw")
wanted = int(os.environ["BENCH_EVENTS"])


@app.agent(source)
async def iterate(stream: Any) -> None:
    seen, started = 0, 0.0
    async for _ in stream.events():
        if seen == 0:
            started = time.perf_counter()
        seen += 1
        if seen == wanted:
            # scale to n events: the first one started the clock
            elapsed = (time.perf_counter() - started) * wanted / max(1, wanted - 1)
            Path(os.environ["BENCH_OUT"]).write_text(f"{elapsed}\n")
            os.kill(os.getpid(), signal.SIGTERM)


if __name__ == "__main__":
    app.main()
