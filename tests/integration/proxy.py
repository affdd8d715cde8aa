"""A TCP proxy in front of the broker whose link can be cut (blackholed) and restored, for fault tests."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress


class Proxy:
    """Forwards 127.0.0.1:`port` to `upstream`. `cut()` blackholes every connection, open and new
    (bytes are read and dropped, nothing answers, as in a network partition), until `restore()`,
    which closes them so clients reconnect."""

    def __init__(self, port: int, upstream: tuple[str, int]):
        self.port, self.upstream = port, upstream
        self.cut_now = False
        self._loop = asyncio.new_event_loop()
        self._writers: set[asyncio.StreamWriter] = set()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="proxy", daemon=True)

    def start(self) -> Proxy:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("proxy did not start")
        return self

    def cut(self) -> None:
        self._loop.call_soon_threadsafe(setattr, self, "cut_now", True)

    def restore(self) -> None:
        def reopen() -> None:
            self.cut_now = False
            for writer in list(self._writers):
                writer.close()

        self._loop.call_soon_threadsafe(reopen)

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", self.port))
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()
            for writer in list(self._writers):
                writer.close()
            self._loop.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.close()
            self._writers.discard(writer)
            return
        self._writers.add(up_writer)
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer),
                             return_exceptions=True)
        for w in (writer, up_writer):
            w.close()
            self._writers.discard(w)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with suppress(OSError, asyncio.IncompleteReadError):
            while data := await reader.read(65536):
                if self.cut_now:
                    continue  # dropped: neither side hears anything
                writer.write(data)
                await writer.drain()
        writer.close()


@contextmanager
def proxied(port: int, upstream: tuple[str, int]) -> Iterator[Proxy]:
    proxy = Proxy(port, upstream).start()
    try:
        yield proxy
    finally:
        proxy.stop()
