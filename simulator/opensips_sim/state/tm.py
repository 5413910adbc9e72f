"""Transaction state: the INVITE client transactions still waiting for a final reply.

Scenario section ``"tm"`` (absent section = no transactions)::

    {"transactions": [
      {"callid": "a84b4c76e66710@pc33", "cseq": 1,
       "to": "sip:bob@example.com",      # informative only
       "expires_in": 30}]}                # optional: seconds until it ends by itself

``t_uac_cancel`` finds a transaction by Call-ID and CSeq number (INVITE only, as
``t_lookup_callid`` does). A cancelled transaction stays ``CANCEL_GRACE`` seconds (until
its 487 would arrive), so a repeated cancel in that window also succeeds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..world import StatePart

CANCEL_GRACE = 1.0


@dataclass
class Transaction:
    """A pending INVITE transaction."""

    callid: str
    cseq: str
    to: str = ""
    ends_at: float | None = None
    cancelled_at: float | None = None


class TmState(StatePart):
    """Pending INVITE transactions, in creation order."""

    key = "tm"

    def __init__(self, world: Any) -> None:
        super().__init__(world)
        self.transactions: list[Transaction] = []
        self._modelled = False

    def load(self, section: Mapping[str, Any]) -> None:
        """Replace the pending transactions."""
        now = self.world.clock.now()
        self._modelled = True
        self.transactions = []
        for raw in section.get("transactions", []):
            expires = raw.get("expires_in")
            self.transactions.append(
                Transaction(
                    callid=str(raw["callid"]),
                    cseq=str(raw["cseq"]),
                    to=str(raw.get("to", "")),
                    ends_at=None if expires is None else now + float(expires),
                )
            )

    def lookup(self, callid: str, cseq: str) -> Transaction | None:
        """The INVITE transaction with this Call-ID and CSeq number."""
        return next((t for t in self.transactions if t.callid == callid and t.cseq == cseq), None)

    def cancel(self, trans: Transaction) -> None:
        """Send CANCEL on every branch: the transaction ends once the 487 is in."""
        if trans.cancelled_at is None:
            trans.cancelled_at = self.world.clock.now()

    def tick(self, now: float) -> None:
        """Drop transactions that got their final reply (487 after cancel) or timed out."""
        self.transactions = [
            t
            for t in self.transactions
            if not (t.cancelled_at is not None and now >= t.cancelled_at + CANCEL_GRACE)
            and not (t.ends_at is not None and now >= t.ends_at)
        ]

    def statistics(self) -> dict[str, int | str]:
        """``tm:inuse_transactions``, once a scenario models the transactions (until then the
        statistics part keeps its captured value)."""
        return {"tm:inuse_transactions": len(self.transactions)} if self._modelled else {}

    def snapshot(self) -> Any:
        """Pending transactions (with their cancel time, if cancelled)."""
        return {
            "transactions": [
                {
                    "callid": t.callid,
                    "cseq": int(t.cseq) if t.cseq.isdigit() else t.cseq,
                    "to": t.to,
                    "ends_at": t.ends_at,
                    "cancelled_at": t.cancelled_at,
                }
                for t in self.transactions
            ]
        }
