"""The lab's AORs as its usrloc keys them: ``alice`` by default, ``alice@127.0.0.1`` on a
lab started with ``LAB_USE_DOMAIN=1`` (usrloc ``use_domain`` on, OpenSIPS 4.x's default;
``lab.env`` carries the setting, ``make lab-tools`` passes it on)."""

from __future__ import annotations

import os

#: The domain SIPp registers under (To: user@<the lab's SIP address>).
LAB_DOMAIN = "127.0.0.1"


def use_domain() -> bool:
    """True when the lab under test keys AORs as ``user@domain``."""
    return os.environ.get("LAB_USE_DOMAIN", "0") == "1"


def aor(user: str) -> str:
    """The AOR the lab keeps ``user``'s registrations under."""
    return f"{user}@{LAB_DOMAIN}" if use_domain() else user
