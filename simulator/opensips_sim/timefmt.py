"""Time formats OpenSIPS prints. The simulator renders every time in UTC (the captured
server ran in UTC), so answers do not depend on the host's time zone."""

from __future__ import annotations

import time
from email.utils import formatdate


def ctime(epoch: float) -> str:
    """C ``ctime()`` without the newline: ``Thu Nov 26 10:43:17 2026`` (day padded with a
    space, ``Nov  6``, as C does)."""
    t = time.gmtime(int(epoch))
    return time.strftime("%a %b ", t) + f"{t.tm_mday:2d}" + time.strftime(" %H:%M:%S %Y", t)


def datetime_text(epoch: float) -> str:
    """``%Y-%m-%d %H:%M:%S`` as in ``dlg_list`` (``datestart``, ``dateout``)."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(int(epoch)))


def http_date(epoch: float) -> str:
    """An HTTP ``Date`` header value: ``Thu, 26 Nov 2026 10:42:36 GMT``."""
    return formatdate(int(epoch), usegmt=True)
