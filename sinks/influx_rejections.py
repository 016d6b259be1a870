"""What InfluxDB's refusal of a write says about which lines were bad.

InfluxDB 2 refuses a body in two ways, and each says more than "some line is bad":

* HTTP 400, a line that does not parse: nothing of the body is written, and the message names
  every such line, one per message line: ``unable to parse '<the line>': <why>``;
* HTTP 422, a partial write (a field of another type than the one stored): the other lines
  are written, and the message ends in ``dropped=<how many lines were not>``.

:func:`named_lines` and :func:`dropped` read those, so the writer finds the bad lines of a
batch in a write or two instead of splitting it down to single lines. When a message says
neither (another version, a proxy), they return nothing and the writer splits as before.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_UNPARSED = "unable to parse '"
_DROPPED = re.compile(r"\bdropped=(\d+)\s*$")


def named_lines(message: str, lines: Sequence[bytes]) -> dict[int, str]:
    """Index in ``lines`` -> InfluxDB's reason, for every line the message names as one that
    does not parse; empty when it names none of them."""
    wanted: dict[str, list[int]] = {}
    for i, line in enumerate(lines):
        wanted.setdefault(line.decode("utf-8", errors="replace"), []).append(i)
    found: dict[int, str] = {}
    for entry in message.splitlines():
        if not entry.startswith(_UNPARSED):
            continue
        quoted = entry[len(_UNPARSED) :]
        # The line itself may hold "': " (in a string field): try each end the quote may have.
        at = quoted.find("': ")
        while at >= 0:
            indices = wanted.get(quoted[:at])
            if indices is not None:
                found.update(dict.fromkeys(indices, entry))
                break
            at = quoted.find("': ", at + 1)
    return found


def dropped(message: str) -> int | None:
    """How many lines a partial write left out, or None when the message does not say."""
    match = _DROPPED.search(message)
    return int(match.group(1)) if match else None
