"""The same outcome rules over ``mi_fifo`` and ``mi_datagram`` (UDP and unix sockets)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import stat
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from opensips_mcp.catalog.levels import AccessLevel
from opensips_mcp.mi import (
    MIClient,
    MICommandNotFound,
    MIConnectionError,
    MIOutcomeUnknown,
    MIProtocolError,
    MIRequestTooLarge,
    MISettings,
    MITimeoutError,
)
from opensips_mcp.mi.datagram import MAX_DATAGRAM
from opensips_mcp.mi.fifo import MAX_FIFO_REQUEST

from .conftest import ClientFactory
from .fakestreams import FakeDatagramServer, FakeFIFOServer, FakeHandler, answer_ok, silent

KINDS = ["fifo", "udp", "unix"]


class Fake:
    """A started fake server of one kind, with what it received."""

    def __init__(self, kind: str, server: FakeFIFOServer | FakeDatagramServer) -> None:
        self.kind = kind
        self.server = server

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def requests(self) -> list[dict[str, Any]]:
        return self.server.requests


FakeFactory = Callable[..., Awaitable[Fake]]


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A short private directory (unix socket paths are limited to 107 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="mi-t-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
async def make_fake(short_dir: Path) -> AsyncIterator[FakeFactory]:
    fakes: list[Fake] = []

    async def make(kind: str, handler: FakeHandler = answer_ok) -> Fake:
        server: FakeFIFOServer | FakeDatagramServer
        if kind == "fifo":
            server = FakeFIFOServer(short_dir, handler).start()
        elif kind == "unix":
            server = await FakeDatagramServer(handler, unix_path=short_dir / "mi.sock").start()
        else:
            server = await FakeDatagramServer(handler).start()
        fake = Fake(kind, server)
        fakes.append(fake)
        return fake

    yield make
    for fake in fakes:
        fake.server.stop()


def error_reply(code: int, message: str) -> FakeHandler:
    def handle(request: dict[str, Any]) -> bytes:
        reply = {"jsonrpc": "2.0", "error": {"code": code, "message": message}}
        return json.dumps({**reply, "id": request["id"]}).encode()

    return handle


@pytest.mark.parametrize("kind", KINDS)
async def test_answer_comes_back_with_its_result(
    kind: str, make_fake: FakeFactory, make_client: ClientFactory
) -> None:
    fake = await make_fake(kind)
    mi = make_client(fake.url)

    for _ in range(3):
        resp = await mi.call("ds_set_state", {"state": "i", "group": 1}, level=AccessLevel.WRITE)
        assert resp.result == "OK"
        assert resp.attempts == 1

    assert [r["method"] for r in fake.requests] == ["ds_set_state"] * 3
    assert fake.requests[0]["params"] == {"state": "i", "group": 1}


@pytest.mark.parametrize("kind", KINDS)
async def test_jsonrpc_error_is_an_answer_and_is_not_resent(
    kind: str, make_fake: FakeFactory, make_client: ClientFactory
) -> None:
    fake = await make_fake(kind, error_reply(-32601, "Method not found"))
    mi = make_client(fake.url)

    with pytest.raises(MICommandNotFound):
        await mi.call("no_such", level=AccessLevel.READ)

    assert len(fake.requests) == 1


@pytest.mark.parametrize("level", [AccessLevel.WRITE, AccessLevel.DESTRUCTIVE, AccessLevel.ADMIN])
@pytest.mark.parametrize("kind", KINDS)
async def test_write_without_answer_is_sent_once_and_unknown(
    kind: str, level: AccessLevel, make_fake: FakeFactory, make_client: ClientFactory
) -> None:
    fake = await make_fake(kind, silent)
    mi = make_client(fake.url, read_timeout=0.2)

    with pytest.raises(MIOutcomeUnknown) as caught:
        await mi.call("dlg_end_dlg", {"dialog_id": "1"}, level=level)

    assert caught.value.cause == "read_timeout"
    assert caught.value.attempts == 1
    assert len(fake.requests) == 1


@pytest.mark.parametrize("kind", KINDS)
async def test_read_without_answer_is_not_resent_either(
    kind: str, make_fake: FakeFactory, make_client: ClientFactory
) -> None:
    fake = await make_fake(kind, silent)
    mi = make_client(fake.url, read_timeout=0.2)

    with pytest.raises(MITimeoutError) as caught:
        await mi.call("uptime", level=AccessLevel.READ)

    assert len(fake.requests) == 1
    # the tool error names the transport's own suspects (mi_fifo: a reply_dir mismatch)
    assert caught.value.transport == kind


@pytest.mark.parametrize("kind", ["udp", "unix"])
async def test_unparsable_reply_to_a_write_is_unknown(
    kind: str, make_fake: FakeFactory, make_client: ClientFactory
) -> None:
    fake = await make_fake(kind, lambda request: b'{"jsonrpc":"2.0","res')
    mi = make_client(fake.url)

    with pytest.raises(MIOutcomeUnknown) as caught:
        await mi.call("ds_reload", level=AccessLevel.WRITE)

    assert caught.value.cause == "malformed"
    assert len(fake.requests) == 1


@pytest.mark.parametrize("level", [AccessLevel.READ, AccessLevel.WRITE])
@pytest.mark.parametrize("kind", KINDS)
async def test_nobody_listening_is_not_sent_and_retried_at_any_level(
    kind: str, level: AccessLevel, short_dir: Path, make_client: ClientFactory
) -> None:
    if kind == "fifo":
        os.mkfifo(short_dir / "opensips_fifo")  # a FIFO nobody reads: ENXIO
        (short_dir / "replies").mkdir()
        url = f"fifo://{short_dir}/opensips_fifo?reply_dir={short_dir}/replies"
    elif kind == "unix":
        url = f"unix://{short_dir}/absent.sock"
    else:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        url = f"udp://127.0.0.1:{port}"  # closed: ICMP port unreachable
    mi = make_client(url, max_attempts=3, read_timeout=1.0)

    with pytest.raises(MIConnectionError) as caught:
        await asyncio.wait_for(mi.call("ds_reload", level=level), 2)

    assert caught.value.cause == "refused"
    assert caught.value.attempts == 0
    # the tool error names the module to check: mi_fifo or mi_datagram, not mi_http
    assert caught.value.transport == kind


@pytest.mark.parametrize("target", ["file", "directory"])
async def test_a_fifo_url_naming_no_fifo_writes_nothing_and_is_not_sent(
    target: str, short_dir: Path, make_client: ClientFactory
) -> None:
    # an operator's slip such as fifo:///etc/opensips/opensips.cfg: a regular file opens
    # for writing, and each request would be appended to it while the call waited for a
    # reply that never comes (then outcome_unknown for a write)
    path = short_dir / "opensips.cfg"
    if target == "file":
        path.write_text("listen=udp:127.0.0.1:5060\n")
    else:
        path.mkdir()
    (short_dir / "replies").mkdir()
    mi = make_client(f"fifo://{path}?reply_dir={short_dir}/replies", read_timeout=5.0)

    with pytest.raises(MIConnectionError) as caught:
        await asyncio.wait_for(mi.call("ds_reload", level=AccessLevel.WRITE), 3)

    assert caught.value.cause == "not_a_fifo"
    assert caught.value.attempts == 0
    if target == "file":
        assert path.read_text() == "listen=udp:127.0.0.1:5060\n"
    assert os.listdir(short_dir / "replies") == []


@pytest.mark.parametrize("kind", KINDS)
async def test_request_larger_than_the_transport_carries_is_refused_unsent(
    kind: str, make_fake: FakeFactory, make_client: ClientFactory
) -> None:
    fake = await make_fake(kind)
    mi = make_client(fake.url)
    limit = MAX_FIFO_REQUEST if kind == "fifo" else MAX_DATAGRAM

    with pytest.raises(MIRequestTooLarge) as caught:
        await mi.call("dp_translate", {"input": "x" * limit}, level=AccessLevel.WRITE)

    assert caught.value.attempts == 0
    assert caught.value.size > caught.value.limit
    assert fake.requests == []
    resp = await mi.call("dp_translate", {"input": "x" * 1000}, level=AccessLevel.WRITE)
    assert resp.result == "OK"


def test_a_reply_dir_too_long_for_mi_fifo_is_refused_when_the_client_is_made() -> None:
    # mi_fifo drops, unrun and unanswered, a request whose reply_dir + name + NUL exceeds
    # 128 bytes (measured on 3.6.8: a 122-byte name in /tmp/ is answered, 123 is not);
    # this client's names are 45 bytes, leaving 82 for the directory
    fits = "/" + "d" * 80 + "/"
    MIClient(MISettings(url=f"fifo:///run/opensips_fifo?reply_dir={fits}"))
    with pytest.raises(ValueError, match="reply_dir"):
        MIClient(MISettings(url=f"fifo:///run/opensips_fifo?reply_dir={fits}x/"))


async def test_fifo_request_is_framed_with_a_private_reply_fifo_removed_on_close(
    make_fake: FakeFactory, make_client: ClientFactory
) -> None:
    fake = await make_fake("fifo")
    server = fake.server
    assert isinstance(server, FakeFIFOServer)
    mi = make_client(fake.url)

    await mi.call("uptime", level=AccessLevel.READ)
    await mi.call("uptime", level=AccessLevel.READ)

    name = server.reply_names[0]
    assert server.frames[0].startswith(b":%s:{" % name.encode())
    assert json.loads(server.frames[0][len(name) + 2 :]) == fake.requests[0]
    assert not any(c in name for c in "./\\")  # mi_fifo refuses such names
    assert server.reply_names[0] != server.reply_names[1]
    # the FIFO of a call answered whole is kept for the next call, under a new name:
    (kept,) = server.reply_dir.iterdir()
    assert kept.name == server.reply_names[1]
    assert stat.S_ISFIFO(kept.lstat().st_mode) and kept.lstat().st_mode & 0o777 == 0o600
    await mi.close()
    assert list(server.reply_dir.iterdir()) == []


async def test_fifo_reply_fifo_is_removed_after_a_timeout_too(
    make_fake: FakeFactory, make_client: ClientFactory
) -> None:
    answered = False

    def first_only(request: dict[str, Any]) -> bytes | None:
        nonlocal answered
        reply, answered = (None if answered else answer_ok(request)), True
        return reply

    fake = await make_fake("fifo", first_only)
    server = fake.server
    assert isinstance(server, FakeFIFOServer)
    mi = make_client(fake.url, read_timeout=0.1)
    await mi.call("uptime", level=AccessLevel.READ)  # its FIFO is kept ...

    with pytest.raises(MIOutcomeUnknown):
        await mi.call("ds_reload", level=AccessLevel.WRITE)  # ... and serves this one

    assert list(server.reply_dir.iterdir()) == []


@pytest.mark.parametrize("kind", ["udp", "unix"])
async def test_late_reply_never_reaches_the_next_request(
    kind: str, make_fake: FakeFactory, make_client: ClientFactory
) -> None:
    first = True

    def hold_first(request: dict[str, Any]) -> bytes | None:
        nonlocal first
        if first:
            first = False
            return None
        return answer_ok(request)

    fake = await make_fake(kind, hold_first)
    server = fake.server
    assert isinstance(server, FakeDatagramServer)
    mi = make_client(fake.url, read_timeout=0.1, pool_size=1, max_in_flight=1)
    with pytest.raises(MIOutcomeUnknown):
        await mi.call("ds_reload", level=AccessLevel.WRITE)
    late = {"jsonrpc": "2.0", "result": "LATE", "id": fake.requests[0]["id"]}
    server.send(json.dumps(late).encode(), server.senders[0])  # to the first socket

    resp = await mi.call("uptime", level=AccessLevel.READ)

    assert resp.result == "OK"
    assert server.senders[0] != server.senders[1]


async def test_unix_client_sockets_live_in_a_private_directory_removed_on_close(
    make_fake: FakeFactory, make_client: ClientFactory
) -> None:
    fake = await make_fake("unix")
    server = fake.server
    assert isinstance(server, FakeDatagramServer)
    mi = make_client(fake.url)

    await mi.call("uptime", level=AccessLevel.READ)

    directory = Path(server.senders[0]).parent
    assert directory.stat().st_mode & 0o777 == 0o700
    await mi.close()
    assert not directory.exists()


@pytest.mark.parametrize("kind", KINDS)
async def test_concurrent_calls_each_get_their_own_answer(
    kind: str, make_fake: FakeFactory, make_client: ClientFactory
) -> None:
    def echo(request: dict[str, Any]) -> bytes:
        reply = {"jsonrpc": "2.0", "result": request["params"], "id": request["id"]}
        return json.dumps(reply).encode()

    fake = await make_fake(kind, echo)
    mi = make_client(fake.url, max_in_flight=4, pool_size=4)

    results = await asyncio.gather(
        *(mi.call("echo", {"n": n}, level=AccessLevel.READ) for n in range(40))
    )

    assert [r.result for r in results] == [{"n": n} for n in range(40)]


@pytest.mark.parametrize("kind", ["udp", "unix"])
@pytest.mark.parametrize("level", [AccessLevel.READ, AccessLevel.WRITE])
async def test_an_answer_too_large_for_a_datagram_is_unprintable_and_not_resent(
    kind: str, level: AccessLevel, make_fake: FakeFactory, make_client: ClientFactory
) -> None:
    """mi_datagram sends the text ``500 Internal error`` when the command's answer does not
    fit in one datagram (measured on real 3.6.8): the command ran, its answer is lost."""
    fake = await make_fake(kind, lambda request: b"500 Internal error")
    mi = make_client(fake.url)

    with pytest.raises(MIProtocolError if level.is_read else MIOutcomeUnknown) as caught:
        await mi.call("ul_dump", None, level=level)

    assert caught.value.cause == "unprintable"
    assert caught.value.attempts == 1
    assert len(fake.requests) == 1


@pytest.mark.parametrize("url", ["http://opensips.invalid:8888/mi", "udp://opensips.invalid:8889"])
async def test_a_host_that_does_not_resolve_is_unresolved_and_not_sent(
    url: str, make_client: ClientFactory
) -> None:
    # .invalid never resolves (RFC 2606); the error names the host, not a missing module
    mi = make_client(url, max_attempts=1)

    with pytest.raises(MIConnectionError) as caught:
        await asyncio.wait_for(mi.call("ds_reload", level=AccessLevel.WRITE), 10)

    assert caught.value.cause == "unresolved"
    assert caught.value.attempts == 0
    assert "opensips.invalid" in caught.value.detail


async def test_a_fifo_this_user_may_not_write_is_permission_denied_and_not_sent(
    short_dir: Path, make_client: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # OpenSIPS's fifo_mode (0600 by default) with OpenSIPS running as another user; the
    # tests run as root, which no mode stops, so the refusal is the kernel's answer forged
    os.mkfifo(short_dir / "opensips_fifo")
    (short_dir / "replies").mkdir()
    fifo = str(short_dir / "opensips_fifo")
    real_open = os.open

    def forbidden(path: str, flags: int, *args: Any) -> int:
        if str(path) == fifo and flags & os.O_WRONLY:
            raise PermissionError(13, "Permission denied", path)
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", forbidden)
    mi = make_client(f"fifo://{fifo}?reply_dir={short_dir}/replies", max_attempts=1)

    with pytest.raises(MIConnectionError) as caught:
        await asyncio.wait_for(mi.call("ds_reload", level=AccessLevel.WRITE), 5)

    assert caught.value.cause == "permission_denied"
    assert caught.value.attempts == 0
    assert fifo in caught.value.detail
