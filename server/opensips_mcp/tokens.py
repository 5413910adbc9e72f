"""Bearer tokens for the HTTP transport: the tokens file and the verifier.

The tokens file is TOML and holds only hashes::

    [[token]]
    name = "alice"                 # the principal recorded in the audit trail
    role = "operator"              # viewer | operator | admin
    sha256 = "9f86d081..."         # hex SHA-256 of the token
    created = "2026-11-26T10:42:44Z"
    mi_rate = 5                    # optional: this token's MI calls per second (0: none)
    mi_rate_burst = 10             # optional: its bucket size (needs mi_rate)

Without ``mi_rate`` a token gets the server's ``mi_rate`` / ``mi_rate_burst``.
``opensips-mcp token add NAME --role R [--mi-rate N [--mi-rate-burst B]]`` creates a token with
``secrets.token_urlsafe(32)`` (256 random bits), prints it once and stores its hash.

Why a plain SHA-256 and no salt: salts and slow hashes protect low-entropy secrets
(passwords) against guessing. A 256-bit random token cannot be guessed, so a
fast unsalted hash loses nothing, and it lets the server check a token in
microseconds on every request. The file still never holds a usable credential.

Verification hashes the presented token once and compares it against every stored
hash with :func:`hmac.compare_digest`, without stopping at the first match, so the
time taken does not reveal which entry (if any) matched. Tokens are never logged.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mcp.server.auth.provider import AccessToken

from opensips_mcp.audit import utc_now
from opensips_mcp.gate import Principal, Role

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class TokenFileError(Exception):
    """The tokens file is unreadable or malformed; the message says where and why."""


@dataclass(frozen=True, slots=True)
class TokenEntry:
    """One stored token: who it is, what it may do, and the hash of its secret."""

    name: str
    role: Role
    sha256: str
    created: str = ""
    mi_rate: float | None = None
    """This token's MI calls per second (``0``: no limit); ``None``: the server's."""
    mi_rate_burst: int | None = None
    """This token's bucket size; ``None``: the server's ``mi_rate_burst``."""


def hash_token(token: str) -> str:
    """Hex SHA-256 of a token, as stored in the tokens file."""
    return hashlib.sha256(token.encode()).hexdigest()


def load_tokens(path: Path) -> tuple[TokenEntry, ...]:
    """Read and validate the tokens file. A missing file holds no tokens."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return ()
    except OSError as exc:
        raise TokenFileError(f"cannot read the tokens file {path}: {exc.strerror}") from exc
    try:
        data = tomllib.loads(raw.decode())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise TokenFileError(f"the tokens file {path} is not valid TOML: {exc}") from exc
    items = data.get("token", [])
    if not isinstance(items, list):
        raise TokenFileError(f"the tokens file {path}: 'token' must be an array of tables")
    entries: list[TokenEntry] = []
    seen: set[str] = set()
    for i, item in enumerate(items, start=1):
        where = f"the tokens file {path}, token #{i}"
        if not isinstance(item, dict):
            raise TokenFileError(f"{where}: must be a table")
        name, role, digest = item.get("name"), item.get("role"), item.get("sha256")
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            raise TokenFileError(f"{where}: 'name' must match {NAME_PATTERN.pattern}")
        if name in seen:
            raise TokenFileError(f"{where}: the name '{name}' is used twice")
        seen.add(name)
        if role not in {r.value for r in Role}:
            raise TokenFileError(f"{where} ({name}): 'role' must be viewer, operator or admin")
        if not isinstance(digest, str) or not _HEX64.match(digest):
            raise TokenFileError(f"{where} ({name}): 'sha256' must be 64 lowercase hex digits")
        created = item.get("created", "")
        rate, burst = _rate_limit(item, f"{where} ({name})")
        entries.append(TokenEntry(name, Role(role), digest, str(created), rate, burst))
    return tuple(entries)


def _rate_limit(item: dict[str, object], where: str) -> tuple[float | None, int | None]:
    """A token's own ``mi_rate`` and ``mi_rate_burst``, checked; ``None`` where unset."""
    rate, burst = item.get("mi_rate"), item.get("mi_rate_burst")
    if rate is not None and (
        isinstance(rate, bool) or not isinstance(rate, int | float) or not rate >= 0
    ):
        raise TokenFileError(f"{where}: 'mi_rate' must be a number >= 0 (0: no limit)")
    if burst is not None:
        if isinstance(burst, bool) or not isinstance(burst, int) or burst < 1:
            raise TokenFileError(f"{where}: 'mi_rate_burst' must be an integer >= 1")
        if rate is None:
            raise TokenFileError(f"{where}: 'mi_rate_burst' needs 'mi_rate'")
    return (float(rate) if rate is not None else None), burst


def _toml_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _render(entries: Sequence[TokenEntry]) -> str:
    lines = [
        "# opensips-mcp bearer tokens. Only SHA-256 hashes are stored here;",
        "# add tokens with `opensips-mcp token add NAME --role ROLE`.",
    ]
    for entry in entries:
        lines += [
            "",
            "[[token]]",
            f"name = {_toml_string(entry.name)}",
            f"role = {_toml_string(entry.role.value)}",
            f"sha256 = {_toml_string(entry.sha256)}",
            f"created = {_toml_string(entry.created)}",
        ]
        if entry.mi_rate is not None:
            lines.append(f"mi_rate = {entry.mi_rate!r}")
        if entry.mi_rate_burst is not None:
            lines.append(f"mi_rate_burst = {entry.mi_rate_burst}")
    return "\n".join(lines) + "\n"


def save_tokens(path: Path, entries: Sequence[TokenEntry]) -> None:
    """Replace the tokens file atomically, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(_render(entries))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def add_token(
    path: Path,
    name: str,
    role: Role,
    *,
    mi_rate: float | None = None,
    mi_rate_burst: int | None = None,
) -> str:
    """Create a token for ``name``, store its hash, and return the token (shown once).

    ``mi_rate``, ``mi_rate_burst``: the token's own rate limit (else the server's)."""
    _rate_limit({"mi_rate": mi_rate, "mi_rate_burst": mi_rate_burst}, f"the token '{name}'")
    if not NAME_PATTERN.match(name):
        raise TokenFileError(
            f"the token name '{name}' is not allowed: use letters, digits, '_', '.', '@', '-'"
        )
    entries = list(load_tokens(path))
    if any(e.name == name for e in entries):
        raise TokenFileError(
            f"a token named '{name}' already exists in {path}; "
            f"remove it first with `opensips-mcp token remove {name}`"
        )
    token = secrets.token_urlsafe(32)
    created = utc_now().replace(microsecond=0).isoformat().replace("+00:00", "Z")
    entries.append(TokenEntry(name, role, hash_token(token), created, mi_rate, mi_rate_burst))
    save_tokens(path, entries)
    return token


def remove_token(path: Path, name: str) -> None:
    """Delete the token named ``name``; raises :class:`TokenFileError` if there is none."""
    entries = list(load_tokens(path))
    kept = [e for e in entries if e.name != name]
    if len(kept) == len(entries):
        raise TokenFileError(f"no token named '{name}' in {path}")
    save_tokens(path, kept)


class TokenStore:
    """The tokens loaded at start, and the constant-time lookup of a presented token."""

    def __init__(self, entries: Sequence[TokenEntry]) -> None:
        self._entries = tuple(entries)

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, token: str) -> TokenEntry | None:
        """The entry whose hash matches ``token``, or ``None``. Compares every entry."""
        digest = hash_token(token).encode()
        found: TokenEntry | None = None
        for entry in self._entries:
            if hmac.compare_digest(digest, entry.sha256.encode()) and found is None:
                found = entry
        return found


ROLE_CLAIM = "opensips_mcp_role"
RATE_CLAIM = "opensips_mcp_mi_rate"
"""The token's own rate limit, ``[rate, burst or None]``, when its entry sets one."""


class StoreTokenVerifier:
    """A ``TokenVerifier`` for the MCP SDK's bearer middleware, backed by a :class:`TokenStore`.

    The returned ``AccessToken`` never carries the presented secret: its ``token``
    field holds the entry's hash prefix, so nothing downstream can log the credential.
    """

    def __init__(self, store: TokenStore) -> None:
        self._store = store

    async def verify_token(self, token: str) -> AccessToken | None:
        """The access info for a known token; ``None`` (answered 401) otherwise."""
        entry = self._store.lookup(token)
        if entry is None:
            return None
        return AccessToken(
            token=f"sha256:{entry.sha256[:12]}",
            client_id=entry.name,
            subject=entry.name,
            scopes=[entry.role.value],
            claims=_claims(entry),
        )


def _claims(entry: TokenEntry) -> dict[str, object]:
    claims: dict[str, object] = {ROLE_CLAIM: entry.role.value}
    if entry.mi_rate is not None:
        claims[RATE_CLAIM] = [entry.mi_rate, entry.mi_rate_burst]
    return claims


def principal_from_access_token(access: AccessToken) -> Principal | None:
    """The principal an access token from :class:`StoreTokenVerifier` stands for."""
    role = (access.claims or {}).get(ROLE_CLAIM)
    if role not in {r.value for r in Role}:
        return None
    limit = (access.claims or {}).get(RATE_CLAIM)
    rate, burst = limit if isinstance(limit, list) and len(limit) == 2 else (None, None)
    return Principal(name=access.client_id, role=Role(role), mi_rate=rate, mi_rate_burst=burst)
