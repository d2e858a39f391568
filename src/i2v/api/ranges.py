"""Parse an HTTP Range header (RFC 9110) into one byte range of a representation."""

from __future__ import annotations

import re

from i2v.storage.base import ByteRange

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class UnsatisfiableRange(ValueError):
    pass


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """One (first, last) inclusive range, or None to send the whole body.

    Multiple ranges and malformed headers are ignored (a full 200 is a valid answer);
    a well-formed range that misses the representation raises UnsatisfiableRange.
    """
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if match is None:
        return None
    first_text, last_text = match.groups()
    if not first_text:  # suffix: the last N bytes
        if not last_text or int(last_text) == 0:
            raise UnsatisfiableRange(header)
        return max(0, size - int(last_text)), size - 1
    first = int(first_text)
    if first >= size:
        raise UnsatisfiableRange(header)
    last = int(last_text) if last_text else size - 1
    if last < first:
        return None
    return first, min(last, size - 1)
