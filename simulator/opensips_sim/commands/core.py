"""Core MI commands (``mi/mi_core.c``, ``mi/mi.c``): which, help, uptime, version, ps, arg,
pwd, log_level, xlog_level."""

from __future__ import annotations

from typing import Any

from ..dispatch import available
from ..errors import MIError, invalid_params
from ..params import Params
from ..registry import CallContext, Level, command, commands
from ..state.core import CoreState
from ..timefmt import ctime

HELP_USAGE = "Usage: help mi_cmd - returns information about 'mi_cmd'"
UNKNOWN_COMMAND = "unknown MI command"
NO_HELP = "not available for this command"
FIRST_MODULES = ("core", "statistics")


def _unknown_command() -> MIError:
    return MIError(404, UNKNOWN_COMMAND)


def offered_commands() -> list[str]:
    """Names ``which`` lists: core, statistics, then module by module (the real server lists
    them in registration order, which the capture did not keep)."""
    names = [name for name in commands() if available(name) is not None]

    def order(name: str) -> tuple[int, str, str]:
        module = commands()[name].module
        rank = FIRST_MODULES.index(module) if module in FIRST_MODULES else len(FIRST_MODULES)
        return (rank, module, name)

    return sorted(names, key=order)


@command("which", level="read")
def which(ctx: CallContext, params: Params) -> Any:
    """All command names, or the recipes (lists of parameter names) of one command."""
    offered = ctx.world.get(CoreState).commands
    if not params.has("command"):
        return list(offered) if offered is not None else offered_commands()
    asked = params.text("command")
    names = ctx.world.get(CoreState).names  # an impersonated version's names -> 3.6 command
    info = available(names.get(asked, asked))
    if info is None or (offered is not None and asked not in offered and asked not in names):
        raise _unknown_command()
    return [list(recipe) for recipe in info.recipes]


@command("help", level="read")
def help_(ctx: CallContext, params: Params) -> Any:
    """Usage text, or a command's help and the module exporting it."""
    if not params.has("mi_cmd"):
        return HELP_USAGE
    info = available(params.text("mi_cmd"))
    if info is None:
        raise _unknown_command()
    return {"Help": info.help or NO_HELP, "Exported by": info.module}


@command("uptime", level="read")
def uptime(ctx: CallContext, params: Params) -> Any:
    """Now, start time and seconds up, as ``ctime`` text."""
    now = ctx.world.clock.now()
    started = ctx.world.get(CoreState).started_at
    return {
        "Now": ctime(now),
        "Up since": ctime(started),
        "Up time": f"{int(now) - int(started)} [sec]",
    }


@command("version", level="read")
def version(ctx: CallContext, params: Params) -> Any:
    """The server string; with ``revision`` (value ignored, as in OpenSIPS) the revision."""
    core = ctx.world.get(CoreState)
    result = {"Server": core.server}
    if params.has("revision"):
        result[core.revision[0]] = core.revision[1]
    return result


@command("ps", level="read")
def ps(ctx: CallContext, params: Params) -> Any:
    """The process table."""
    processes = ctx.world.get(CoreState).processes
    return {"Processes": [{"ID": i, "PID": p.pid, "Type": p.type} for i, p in enumerate(processes)]}


@command("arg", level="read")
def arg(ctx: CallContext, params: Params) -> Any:
    """The command line the server was started with."""
    return list(ctx.world.get(CoreState).args)


@command("pwd", level="read")
def pwd(ctx: CallContext, params: Params) -> Any:
    """The working directory."""
    return {"WD": ctx.world.get(CoreState).pwd}


def _sets_level(params: Params) -> Level:
    return "admin" if params.has("level") else "read"


@command("log_level", level=_sets_level)
def log_level(ctx: CallContext, params: Params) -> Any:
    """Per-process levels; with ``level`` set the global level, with ``pid`` one process's."""
    core = ctx.world.get(CoreState)
    if not params.has("level"):
        return {
            "Processes": [
                {"PID": p.pid, "Log level": p.log_level, "Type": p.type} for p in core.processes
            ]
        }
    pid = params.integer("pid") if params.has("pid") else 0
    level = params.integer("level")
    if not pid:
        core.set_global_log_level(level)
        return {"New global log level": level}
    process = core.process_by_pid(pid)
    if process is None:
        raise invalid_params("Bad PID")
    process.log_level = level
    return {"Log level": level}


@command("xlog_level", level=_sets_level)
def xlog_level(ctx: CallContext, params: Params) -> Any:
    """The xlog level; with ``level`` set it."""
    core = ctx.world.get(CoreState)
    if not params.has("level"):
        return {"xLog Level": core.xlog_level}
    core.xlog_level = params.integer("level")
    return {"New xLog level": core.xlog_level}


PROFILING_OFF, PROFILING_FULL = 0, 3  # pt.h enum profiling_proc_level: OFF .. TIMER (FULL)


def _given_int(params: Params, name: str) -> int | None:
    """``try_get_mi_int_param``: a value that is not an integer counts as not given."""
    if not params.has(name):
        return None
    try:
        return params.integer(name)
    except MIError:
        return None


def _profiling_level(params: Params) -> Level:
    return "admin" if _given_int(params, "level") is not None else "read"


@command("core:profiling_proc", level=_profiling_level, since="4.0.1")
def profiling_proc(ctx: CallContext, params: Params) -> Any:
    """4.0's per-process profiling levels (``mi/mi_core.c`` ``w_profiling_proc``): all
    processes or one (``id`` or ``pid``); with ``level`` (clamped to 0..3) set them, "OK"."""
    processes = ctx.world.get(CoreState).processes
    index, pid, level = (_given_int(params, n) for n in ("id", "pid", "level"))
    chosen = list(range(len(processes)))
    if index is not None:
        if not 0 <= index < len(processes):
            raise invalid_params("Bad process ID")
        chosen = [index]
    elif pid is not None:
        chosen = [i for i, p in enumerate(processes) if p.pid == pid][:1]
        if not chosen:
            raise invalid_params("Bad PID")
    if level is not None:
        for i in chosen:
            processes[i].profiling_level = min(max(level, PROFILING_OFF), PROFILING_FULL)
        return "OK"
    return {
        "Processes": [
            {
                "ID": i,
                "PID": processes[i].pid,
                "Profiling level": processes[i].profiling_level,
                "Type": processes[i].type,
            }
            for i in chosen
        ]
    }
