"""tm MI commands ``t_uac_cancel`` and ``t_hash`` (``modules/tm/mi.c``: ``mi_tm_cancel``,
``mi_tm_hash``)."""

from __future__ import annotations

from typing import Any

from ..costs import TM_HASH_ENTRIES
from ..errors import MIError
from ..params import Params
from ..registry import CallContext, command
from ..state.tm import TmState


@command("t_uac_cancel", level="destructive")
def t_uac_cancel(ctx: CallContext, params: Params) -> Any:
    """Cancel every branch of the pending INVITE transaction with this Call-ID and CSeq."""
    tm = ctx.world.get(TmState)
    callid = params.text("callid")
    cseq = params.text("cseq")
    trans = tm.lookup(callid, cseq)
    if trans is None:
        raise MIError(481, "No such transaction")
    tm.cancel(trans)
    return "OK"


@command("t_hash", level="read")
def t_hash(ctx: CallContext, params: Params) -> Any:
    """Every bucket of tm's hash table (``TM_TABLE_ENTRIES``), in index order, with the
    transactions it holds now (``Current``) and has held (``Total``). The simulator keeps
    no per-bucket history: ``Total`` equals ``Current``."""
    tm = ctx.world.get(TmState)
    current: dict[int, int] = {}
    for trans in tm.transactions:
        bucket = sum(trans.callid.encode()) % TM_HASH_ENTRIES
        current[bucket] = current.get(bucket, 0) + 1
    return [
        {"index": i, "Current": current.get(i, 0), "Total": current.get(i, 0)}
        for i in range(TM_HASH_ENTRIES)
    ]
