"""Recordings of raw game datagrams: ``f1-ingest-udp --record FILE`` writes one,
``--replay FILE`` reads it back through the same decoding as the socket.

The file format (version 1) is a gzip stream (RFC 1952) of:

* an 8-byte magic: ``F1UDP\\0`` then the format version as uint16 little-endian (1);
* per datagram, in arrival order: its arrival time in microseconds since the Unix epoch
  (int64 LE), its length in bytes (uint16 LE), then its bytes, unchanged (garbage included:
  a recording is what the socket received).

The writer flushes the compressor (a sync point) at least once a second, so a recording cut
short (the process killed, the disk full) is readable up to its last sync point; the reader
says how many whole datagrams it read before the cut. ``zcat FILE | xxd | head`` shows the
magic; the format needs nothing but gzip and struct to read (see
tests/fixtures/game_udp/make_fixtures.py, which writes it with the standard library alone).
"""

from __future__ import annotations

import gzip
import struct
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from runtime.errors import ConfigError

MAGIC = b"F1UDP\x00"
VERSION = 1
_PREFIX = struct.Struct("<qH")
SYNC_EVERY_S = 1.0


class RecordingError(ConfigError):
    """A recording that cannot be read: not one, another version, or cut short."""


class RecordingWriter:
    """Appends datagrams to a new recording (see the module doc)."""

    def __init__(self, path: str | Path, clock: Callable[[], float] = time.monotonic) -> None:
        self.path = Path(path)
        self._clock = clock
        try:
            self._raw: IO[bytes] = self.path.open("wb")
        except OSError as exc:
            raise ConfigError(f"{self.path}: cannot write the recording ({exc.strerror})") from None
        self._gz = gzip.GzipFile(fileobj=self._raw, mode="wb", compresslevel=1)
        self._gz.write(MAGIC + struct.pack("<H", VERSION))
        self._last_sync = clock()
        self.datagrams = 0

    def write(self, data: bytes, arrival_us: int) -> None:
        self._gz.write(_PREFIX.pack(arrival_us, len(data)))
        self._gz.write(data)
        self.datagrams += 1
        now = self._clock()
        if now - self._last_sync >= SYNC_EVERY_S:
            self.sync()
            self._last_sync = now

    def sync(self) -> None:
        """Make everything written so far readable, even if the file is never closed."""
        self._gz.flush(zlib.Z_SYNC_FLUSH)
        self._raw.flush()

    def close(self) -> None:
        if not self._gz.closed:
            self._gz.close()
            self._raw.close()

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_recording(path: str | Path) -> Iterator[tuple[int, bytes]]:
    """(arrival time in µs, datagram) of each datagram of the recording at ``path``, in order.

    Raises RecordingError (one line: the file, what is wrong, how many datagrams were read)
    for a missing or unreadable file, one that is not a recording, or one cut short; the
    datagrams before the problem have been yielded by then.
    """
    path = Path(path)
    count = 0
    try:
        with path.open("rb") as raw, gzip.GzipFile(fileobj=raw, mode="rb") as gz:
            head = gz.read(8)
            if len(head) < 8 or head[:6] != MAGIC:
                raise RecordingError(f"{path}: not a game UDP recording (no {MAGIC!r} magic)")
            (version,) = struct.unpack("<H", head[6:])
            if version != VERSION:
                raise RecordingError(f"{path}: recording format version {version}, not {VERSION}")
            read = gz.read
            size = _PREFIX.size
            unpack = _PREFIX.unpack
            while True:
                prefix = read(size)
                if not prefix:
                    return
                if len(prefix) < size:
                    raise _cut(path, count)
                arrival_us, length = unpack(prefix)
                data = read(length)
                if len(data) < length:
                    raise _cut(path, count)
                count += 1
                yield arrival_us, data
    except FileNotFoundError:
        raise RecordingError(f"{path}: no such recording") from None
    except IsADirectoryError:
        raise RecordingError(f"{path}: is a directory, not a recording") from None
    except PermissionError:
        raise RecordingError(f"{path}: cannot read the recording (permission denied)") from None
    except EOFError:
        raise _cut(path, count) from None
    except (gzip.BadGzipFile, zlib.error) as exc:
        if count:
            raise RecordingError(
                f"{path}: corrupt after {count} datagram(s) ({exc}); the datagrams before were read"
            ) from None
        raise RecordingError(f"{path}: not a game UDP recording (not gzip: {exc})") from None


def _cut(path: Path, count: int) -> RecordingError:
    return RecordingError(
        f"{path}: the recording is cut short after {count} whole datagram(s); "
        "those were read, the rest is lost"
    )
