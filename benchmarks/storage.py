"""Where audit logs go in the benchmarks: tmpfs or disk, checked from ``/proc/mounts``."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from benchmarks.harness import REPO

Kind = Literal["tmpfs", "disk"]
MEMORY_FILESYSTEMS = {"tmpfs", "ramfs"}


@dataclass(frozen=True)
class Mount:
    """The filesystem a path is on."""

    device: str
    mount_point: str
    fstype: str

    @property
    def in_memory(self) -> bool:
        """True for tmpfs/ramfs (an fsync there writes nothing to a device)."""
        return self.fstype in MEMORY_FILESYSTEMS


def mount_of(path: Path) -> Mount:
    """The mount holding ``path`` (the longest mount point that is a prefix of it)."""
    target = os.path.realpath(path)
    best = Mount("?", "/", "?")
    for line in Path("/proc/mounts").read_text().splitlines():
        device, point, fstype = line.split()[:3]
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best.mount_point):
            best = Mount(device, point, fstype)
    return best


def base_for(kind: Kind) -> Path:
    """A directory on tmpfs (``/dev/shm``) or on disk (``/tmp``, else under the repo)."""
    if kind == "tmpfs":
        candidates = [Path("/dev/shm")]
    else:
        candidates = [Path(tempfile.gettempdir()), Path("/var/tmp"), REPO]
    for candidate in candidates:
        if candidate.is_dir() and mount_of(candidate).in_memory == (kind == "tmpfs"):
            return candidate
    raise RuntimeError(f"no {kind} directory among {[str(c) for c in candidates]}")


@contextlib.contextmanager
def audit_dir(kind: Kind) -> Iterator[Path]:
    """A fresh directory on ``kind`` storage, removed with its files afterwards."""
    with tempfile.TemporaryDirectory(prefix="opensips-mcp-bench-", dir=base_for(kind)) as d:
        yield Path(d)
