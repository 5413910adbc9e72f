"""``mi_fifo`` reply FIFOs kept from call to call: a reply only ever reaches its own call.

A FIFO is kept only after a call that read a whole reply to its own request, and every
call renames it to a fresh name; any other end of a call removes it. These tests play
OpenSIPS's part by hand: it opens ``reply_dir/<name>`` with ``O_WRONLY | O_NONBLOCK`` to
answer (``modules/mi_fifo/fifo_fnc.c``), so a late reply under a name that is gone fails
with ``ENOENT`` and is dropped.
"""

from __future__ import annotations

import asyncio
import errno
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from opensips_mcp.catalog.levels import AccessLevel
from opensips_mcp.mi import MIOutcomeUnknown
from opensips_mcp.mi import fifo as fifo_module

from .conftest import ClientFactory
from .fakestreams import FakeFIFOServer, FakeHandler, answer_ok


@pytest.fixture
def directory() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="mi-r-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


class Scripted:
    """A fake mi_fifo whose handler is swapped by the test."""

    def __init__(self, directory: Path) -> None:
        self.handler: FakeHandler = answer_ok
        self.server = FakeFIFOServer(directory, lambda request: self.handler(request))

    def reply_to(self, name: str, payload: dict[str, Any]) -> int:
        """Answer under ``name`` as OpenSIPS does; 0, or the errno that dropped it."""
        try:
            fd = os.open(self.server.reply_dir / name, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:
            return exc.errno or -1
        try:
            os.write(fd, json.dumps(payload).encode())
        finally:
            os.close(fd)
        return 0


@pytest.fixture
async def fake(directory: Path) -> AsyncIterator[Scripted]:
    scripted = Scripted(directory)
    scripted.server.start()
    yield scripted
    scripted.server.stop()


def _ok(request: dict[str, Any], result: Any = "OK") -> dict[str, Any]:
    return {"jsonrpc": "2.0", "result": result, "id": request["id"]}


async def test_late_reply_of_a_timed_out_call_never_reaches_the_next_call(
    fake: Scripted, make_client: ClientFactory
) -> None:
    mi = make_client(fake.server.url, read_timeout=0.1, max_in_flight=1, pool_size=1)
    await mi.call("uptime", level=AccessLevel.READ)  # its FIFO is kept for the next call
    fake.handler = lambda request: None  # the next request is held
    with pytest.raises(MIOutcomeUnknown):
        await mi.call("ds_reload", level=AccessLevel.WRITE)
    held = fake.server.requests[1]
    late_errors: list[int] = []

    def late_first(request: dict[str, Any]) -> bytes:
        # While the next call waits for its answer, the held reply comes in late, under
        # the timed-out call's name and under the first call's: neither name exists.
        for name in fake.server.reply_names[:2]:
            late_errors.append(fake.reply_to(name, _ok(held, "LATE")))
        return json.dumps(_ok(request)).encode()

    fake.handler = late_first

    resp = await mi.call("uptime", level=AccessLevel.READ)

    assert resp.result == "OK"
    assert late_errors == [errno.ENOENT, errno.ENOENT]
    assert len(set(fake.server.reply_names)) == 3


async def test_reply_still_being_written_when_its_call_timed_out_never_reaches_the_next(
    fake: Scripted, make_client: ClientFactory
) -> None:
    # OpenSIPS opened the reply FIFO of the second call and is slow to write its reply
    # (a big reply, a blocked write): the call times out with the writer still attached.
    mi = make_client(fake.server.url, read_timeout=0.1, max_in_flight=1, pool_size=1)
    await mi.call("uptime", level=AccessLevel.READ)
    writer: list[int] = []

    def open_and_stall(request: dict[str, Any]) -> None:
        name = fake.server.reply_names[-1]
        writer.append(os.open(fake.server.reply_dir / name, os.O_WRONLY | os.O_NONBLOCK))
        os.write(writer[0], b'{"jsonrpc":"2.0",')
        return None

    fake.handler = open_and_stall
    with pytest.raises(MIOutcomeUnknown):
        await mi.call("ds_reload", level=AccessLevel.WRITE)
    held = fake.server.requests[1]
    late: list[BaseException | None] = []

    def finish_late_first(request: dict[str, Any]) -> bytes:
        try:
            os.write(writer[0], json.dumps(_ok(held, "LATE")).encode())
            late.append(None)
        except OSError as exc:
            late.append(exc)
        finally:
            os.close(writer[0])
        return json.dumps(_ok(request)).encode()

    fake.handler = finish_late_first

    resp = await mi.call("uptime", level=AccessLevel.READ)

    assert resp.result == "OK"
    assert isinstance(late[0], BrokenPipeError)  # nobody reads that FIFO any more


async def test_every_call_has_a_fresh_name_for_one_reused_fifo(
    fake: Scripted, make_client: ClientFactory
) -> None:
    mi = make_client(fake.server.url, max_in_flight=1, pool_size=1)
    inodes = set()
    for _ in range(5):
        await mi.call("uptime", level=AccessLevel.READ)
        (kept,) = fake.server.reply_dir.iterdir()
        inodes.add(kept.lstat().st_ino)
    assert len(set(fake.server.reply_names)) == 5
    assert len(inodes) == 1
    # an answer under a name of an earlier call is dropped: the name is gone
    assert fake.reply_to(fake.server.reply_names[0], _ok({"id": 1})) == errno.ENOENT


async def test_at_most_max_in_flight_fifos_are_kept(
    fake: Scripted, make_client: ClientFactory
) -> None:
    mi = make_client(fake.server.url, max_in_flight=4, pool_size=4)

    await asyncio.gather(*(mi.call("uptime", level=AccessLevel.READ) for _ in range(20)))

    assert 1 <= len(list(fake.server.reply_dir.iterdir())) <= 4
    await mi.close()
    assert list(fake.server.reply_dir.iterdir()) == []


@pytest.mark.parametrize("command", ["t_uac_dlg", "uac_dlg", "pua_publish", "publish"])
async def test_fifo_of_a_command_answering_twice_is_never_reused(
    command: str, fake: Scripted, make_client: ClientFactory
) -> None:
    # tm's t_uac_dlg and pua_mi's pua_publish answer a provisional reply, then the final
    # one later, each through its own open of the reply FIFO.
    mi = make_client(fake.server.url, max_in_flight=1, pool_size=1)
    first = await mi.call(command, {"x": 1}, level=AccessLevel.ADMIN)
    assert first.result == "OK"
    assert list(fake.server.reply_dir.iterdir()) == []
    final = _ok(fake.server.requests[0], "final")
    assert fake.reply_to(fake.server.reply_names[0], final) == errno.ENOENT

    resp = await mi.call("uptime", level=AccessLevel.READ)

    assert resp.result == "OK"


async def test_fifo_of_a_reply_to_another_request_is_removed(
    fake: Scripted, make_client: ClientFactory
) -> None:
    fake.handler = lambda request: json.dumps(_ok({"id": request["id"] + 1000})).encode()
    mi = make_client(fake.server.url, max_in_flight=1, pool_size=1)

    with pytest.raises(MIOutcomeUnknown):
        await mi.call("ds_reload", level=AccessLevel.WRITE)

    assert list(fake.server.reply_dir.iterdir()) == []


async def test_cancelled_call_removes_its_fifo(fake: Scripted, make_client: ClientFactory) -> None:
    mi = make_client(fake.server.url, max_in_flight=1, pool_size=1)
    await mi.call("uptime", level=AccessLevel.READ)
    fake.handler = lambda request: None
    task = asyncio.create_task(mi.call("uptime", level=AccessLevel.READ))
    for _ in range(1000):  # until the request reached the fake (bounded)
        if len(fake.server.requests) == 2:
            break
        await asyncio.sleep(0)
    assert len(fake.server.requests) == 2

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert list(fake.server.reply_dir.iterdir()) == []
    assert fake.reply_to(fake.server.reply_names[1], _ok({"id": 1})) == errno.ENOENT


async def test_replies_are_read_without_epoll_too(
    fake: Scripted, make_client: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fifo_module, "_HAS_EPOLL", False)  # loop.add_reader per call
    mi = make_client(fake.server.url, max_in_flight=4, pool_size=4)

    results = await asyncio.gather(*(mi.call("uptime", level=AccessLevel.READ) for _ in range(10)))

    assert [r.result for r in results] == ["OK"] * 10


async def test_reply_written_in_pieces_is_read_whole(
    fake: Scripted, make_client: ClientFactory
) -> None:
    # OpenSIPS flushes a long reply in pieces through one open: the client reads up to
    # end-of-file, not up to the first piece.
    loop = asyncio.get_running_loop()
    big = "x" * 100_000  # more than one pipe buffer (64 KiB)

    def in_pieces(request: dict[str, Any]) -> None:
        name = fake.server.reply_names[-1]
        fd = os.open(fake.server.reply_dir / name, os.O_WRONLY)  # blocking, as OpenSIPS
        data = json.dumps(_ok(request, big)).encode()
        os.write(fd, data[:100])

        def rest() -> None:
            try:
                os.set_blocking(fd, True)
                view = memoryview(data)[100:]
                while view:
                    view = view[os.write(fd, view[:4096]) :]
            finally:
                os.close(fd)

        loop.call_soon(lambda: loop.run_in_executor(None, rest))
        return None

    fake.handler = in_pieces
    mi = make_client(fake.server.url, max_in_flight=1, pool_size=1)

    resp = await mi.call("uptime", level=AccessLevel.READ)

    assert resp.result == big
    assert len(list(fake.server.reply_dir.iterdir())) == 1  # whole: kept


def test_kept_fifos_of_a_transport_never_closed_go_when_it_is_collected(
    directory: Path,
) -> None:
    replies = fifo_module.ReplyFIFOs(str(directory) + "/", keep=2)
    taken = [replies.take()[1] for _ in range(2)]
    for path in taken:
        replies.give_back(path)
    assert sorted(p.name for p in directory.iterdir()) == sorted(Path(p).name for p in taken)

    del replies
    gc.collect()

    assert list(directory.iterdir()) == []


def test_kept_fifos_of_a_transport_never_closed_go_at_interpreter_exit(directory: Path) -> None:
    program = (
        "import sys\n"
        "from opensips_mcp.mi.fifo import ReplyFIFOs\n"
        "replies = ReplyFIFOs(sys.argv[1], keep=1)\n"
        "replies.give_back(replies.take()[1])\n"
        "print(len(replies.kept))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", program, str(directory) + "/"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "1"
    assert list(directory.iterdir()) == []


def test_a_forked_child_leaving_does_not_remove_its_parents_fifos(directory: Path) -> None:
    replies = fifo_module.ReplyFIFOs(str(directory) + "/", keep=1)
    replies.give_back(replies.take()[1])
    pid = os.fork()
    if pid == 0:  # the child: run the finalizer as its exit would, and leave
        try:
            replies._finalizer()
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert len(list(directory.iterdir())) == 1
    replies.close()
    assert list(directory.iterdir()) == []
