"""permissions MI commands: ``address_dump``, ``address_reload``
(``modules/permissions/mi.c``, ``hash.c``)."""

from __future__ import annotations

from typing import Any

from ..errors import MIError
from ..params import Params
from ..registry import CallContext, command
from ..state.permissions import PermissionsState, PermPartition


def _destinations(part: PermPartition) -> list[dict[str, Any]]:
    return [
        {
            "grp": a.grp,
            "ip": a.ip,
            "mask": a.mask,
            "port": a.port,
            "proto": a.proto,
            "pattern": a.pattern,
            "context_info": a.context_info,
        }
        for a in part.addresses
    ]


@command("address_dump", level="read")
def address_dump(ctx: CallContext, params: Params) -> Any:
    """The address table of every partition, or of one (``part`` + ``Destinations``)."""
    perms = ctx.world.get(PermissionsState)
    if not params.has("partition"):
        return {
            "Partitions": [
                {"name": p.name, "Destinations": _destinations(p)} for p in perms.partitions
            ]
        }
    part = perms.partition(params.text("partition"))
    if part is None:
        raise MIError(404, "No such partition")
    return {"part": part.name, "Destinations": _destinations(part)}


@command("address_reload", level="write")
def address_reload(ctx: CallContext, params: Params) -> Any:
    """Reload the address table(s) from the database."""
    perms = ctx.world.get(PermissionsState)
    if not params.has("partition"):
        perms.reload()
        return "OK"
    name = params.text("partition")
    if perms.partition(name) is None:
        # the module's own message for this case, although it is the address table
        raise MIError(400, "Trusted table reload failed")
    perms.reload(name)
    return "OK"
