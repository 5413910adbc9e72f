"""tm MI command ``t_uac_cancel`` (``modules/tm/mi.c``: ``mi_tm_cancel``)."""

from __future__ import annotations

from typing import Any

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
