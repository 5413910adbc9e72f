"""OpenSIPS's ``core_hash``: decides the order of ``ul_dump`` (usrloc slots) and
``dlg_list`` (dialog hash entries), so the simulator lists things in the real order."""

from __future__ import annotations

import struct

_MASK = 0xFFFFFFFF


def core_hash(text: str, size: int = 0) -> int:
    """``core_hash(s, NULL, size)`` from OpenSIPS ``hash_func.h`` (size a power of two)."""
    data = text.encode()
    end = len(data) - len(data) % 4
    words: tuple[int, ...] = struct.unpack(f">{end // 4}I", data[:end])
    h = sum(w ^ (w >> 3) for w in words) & _MASK
    v = 0
    for byte in data[end:]:
        v = ((v << 8) + byte) & _MASK
    h = (h + (v ^ (v >> 3))) & _MASK
    h = ((h + (h >> 11)) + ((h >> 13) + (h >> 23))) & _MASK
    return h & (size - 1) if size else h


def reverse_hex(number: int) -> str:
    """OpenSIPS ``int2reverse_hex``: hex digits, least significant first (dialog IDs)."""
    if number == 0:
        return "0"
    digits = []
    while number:
        digits.append("0123456789abcdef"[number & 0xF])
        number >>= 4
    return "".join(digits)


def parse_reverse_hex(text: str) -> int | None:
    """The inverse of :func:`reverse_hex`; ``None`` when ``text`` is not hex."""
    if not text or len(text) > 8:
        return None
    value = 0
    for shift, ch in enumerate(text):
        digit = "0123456789abcdef".find(ch.lower())
        if digit < 0:
            return None
        value |= digit << (4 * shift)
    return value
