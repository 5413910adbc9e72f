#!/usr/bin/env python3
"""A real OpenSIPS on loopback for opensips-mcp: build, start, seed, traffic, stop.

Standard library only. Subcommands::

    lab.py deps     install the Debian build packages and SIPp (apt-get; explicit step)
    lab.py build    build OpenSIPS from OPENSIPS_SRC into the cache (no-op when cached)
    lab.py start    build if needed, start OpenSIPS, seed it, register users, hold calls
    lab.py stop     stop every process `start` recorded (by PID), bounded waits
    lab.py status   what runs, and the MI addresses
    lab.py env      print the lab.env of the running lab

Settings (environment): ``OPENSIPS_SRC`` (a source tarball, a source folder, or a folder
holding ``opensips-<VERSION>.tar.*``), ``VERSION`` (default 3.6.8), ``OPENSIPS_BIN`` (an
installed ``opensips`` binary instead of a build), ``LAB_PORT_OFFSET`` (default 0: shifts
every port and the run folder), ``LAB_CACHE`` (default ``~/.cache/opensips-mcp/lab``),
``LAB_JOBS`` (make -j, default 2), ``LAB_MI_DATAGRAM`` (``udp`` default, or ``unix``),
``LAB_CALLS`` (held calls, default 3), ``LAB_HOLD_S`` (how long calls are held, default 3600),
``LAB_USE_DOMAIN`` (``0`` default: usrloc keys AORs as ``user``; ``1``: as ``user@domain``,
which is 4.x's own default). See lab/README.md.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_VERSION = "3.6.8"
#: Modules excluded by OpenSIPS's default Makefile.conf that the lab loads.
INCLUDE_MODULES = (
    "db_sqlite httpd mi_http tls_openssl tls_mgm proto_tls presence pua pua_mi "
    "b2b_entities b2b_logic call_center rtpengine carrierroute dialplan"
)
DEB_PACKAGES = [
    "build-essential",
    "bison",
    "flex",
    "pkg-config",
    "libsqlite3-dev",
    "sqlite3",
    "libssl-dev",
    "libmicrohttpd-dev",
    "libxml2-dev",
    "libcurl4-openssl-dev",
    "libjson-c-dev",
    "libconfuse-dev",
    "libpcre2-dev",
    "openssl",
    "sip-tester",
]
#: Schema scripts (scripts/sqlite/<name>-create.sql) the lab's modules need.
SCHEMAS = [
    "standard",
    "acc",
    "b2b",
    "call_center",
    "carrierroute",
    "clusterer",
    "dialog",
    "dialplan",
    "dispatcher",
    "domain",
    "drouting",
    "fraud_detection",
    "load_balancer",
    "permissions",
    "presence",
    "registrant",
    "tracer",
    "usrloc",
    "tls_mgm",
    "rtpengine",
]
MARKER = ".lab-build.json"
SCHEMA_DIR = "share/opensips-mcp-lab/sqlite"
#: Bounds of every wait (seconds).
START_WAIT_S = 60.0
STOP_WAIT_S = 20.0
TRAFFIC_WAIT_S = 60.0


class LabError(Exception):
    """A lab step failed; the message says what was wrong and what to do next."""


def log(msg: str) -> None:
    """Progress on stderr (stdout carries only the KEY=value lines)."""
    print(f"lab: {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class Ports:
    """Every port the lab uses, shifted by the offset."""

    offset: int

    def p(self, base: int) -> int:
        """Port ``base`` shifted by the offset."""
        return base + self.offset

    @property
    def sip(self) -> int:
        return self.p(5060)

    @property
    def tls(self) -> int:
        return self.p(5061)

    @property
    def bin(self) -> int:
        return self.p(5566)

    @property
    def mi_http(self) -> int:
        return self.p(8890)

    @property
    def mi_datagram(self) -> int:
        return self.p(8891)

    @property
    def uac(self) -> int:
        return self.p(5071)

    @property
    def uas(self) -> int:
        return self.p(5072)

    @property
    def reg(self) -> int:
        return self.p(5074)


def cache_root() -> Path:
    return Path(os.environ.get("LAB_CACHE") or Path.home() / ".cache/opensips-mcp/lab")


def offset() -> int:
    raw = os.environ.get("LAB_PORT_OFFSET", "0") or "0"
    try:
        value = int(raw)
    except ValueError as exc:
        raise LabError(f"LAB_PORT_OFFSET={raw!r} is not a number (e.g. 0, 100, 200)") from exc
    if not 0 <= value <= 5000:
        raise LabError(f"LAB_PORT_OFFSET={value} is out of range 0..5000")
    return value


def run_dir() -> Path:
    return cache_root() / f"run-{offset()}"


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", version)[:3])


# --------------------------------------------------------------------------- deps


def cmd_deps(_: argparse.Namespace) -> None:
    """Install the Debian build packages and SIPp (skips apt when all are installed)."""
    missing = [p for p in DEB_PACKAGES if not _deb_installed(p)]
    if not missing:
        log("Debian packages already installed: " + " ".join(DEB_PACKAGES))
        return
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    log("installing " + " ".join(missing))
    subprocess.run([*sudo, "apt-get", "update"], check=True, env=env, timeout=600)
    subprocess.run(
        [*sudo, "apt-get", "install", "-y", "--no-install-recommends", *missing],
        check=True,
        env=env,
        timeout=1200,
    )


def _deb_installed(package: str) -> bool:
    out = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", package],
        capture_output=True,
        text=True,
        check=False,
    )
    return out.returncode == 0 and "install ok installed" in out.stdout


# --------------------------------------------------------------------------- build


@dataclass(frozen=True)
class Install:
    """An OpenSIPS ready to run: binary, modules folder, sqlite schema folder, version."""

    binary: Path
    modules: Path
    schema: Path
    version: str


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _folder_sha256(folder: Path) -> str:
    """Hash of a source folder's files (names and contents), build artefacts left out."""
    digest = hashlib.sha256()
    skip = {".o", ".d", ".so", ".a", ".pyc"}
    for path in sorted(folder.rglob("*")):
        if ".git" in path.parts or not path.is_file() or path.suffix in skip:
            continue
        digest.update(str(path.relative_to(folder)).encode() + b"\0")
        digest.update(_sha256(path).encode())
    return digest.hexdigest()


def _resolve_source() -> tuple[Path, str]:
    """(tarball or folder, version) from OPENSIPS_SRC and VERSION."""
    raw = os.environ.get("OPENSIPS_SRC", "")
    wanted = os.environ.get("VERSION") or ""
    if not raw:
        raise LabError(
            f"no OpenSIPS {wanted or DEFAULT_VERSION} to run (none built in {cache_root()}): "
            "set OPENSIPS_SRC to a source tarball or folder "
            "(e.g. OPENSIPS_SRC=/path/opensips-3.6.8.tar.xz), or OPENSIPS_BIN to an "
            "installed opensips binary"
        )
    src = Path(raw).expanduser().resolve()
    if not src.exists():
        raise LabError(f"OPENSIPS_SRC={raw} does not exist")
    if src.is_dir() and not (src / "Makefile.defs").exists():
        version = wanted or DEFAULT_VERSION
        found = sorted(src.glob(f"opensips-{version}.tar.*"))
        if not found:
            raise LabError(
                f"OPENSIPS_SRC={raw} is a folder without opensips-{version}.tar.* and is "
                "not an OpenSIPS source tree: give the tarball or the source folder"
            )
        src = found[0]
    if src.is_dir():
        version = _folder_version(src)
    else:
        match = re.search(r"opensips-(\d+\.\d+\.\d+)", src.name)
        version = match.group(1) if match else (wanted or DEFAULT_VERSION)
    if wanted and wanted != version:
        raise LabError(f"VERSION={wanted} but OPENSIPS_SRC holds OpenSIPS {version}")
    return src, version


def _folder_version(folder: Path) -> str:
    text = (folder / "Makefile.defs").read_text(errors="replace")
    parts = [
        re.search(rf"^{key}\s*=\s*(\S+)", text, re.M)
        for key in ("VERSION", "PATCHLEVEL", "SUBLEVEL")
    ]
    if not all(parts):
        raise LabError(f"cannot read the version from {folder}/Makefile.defs")
    return ".".join(m.group(1) for m in parts if m)


def prefix_for(src: Path, version: str) -> Path:
    """The cache folder of a build: ``opensips-<version>-<sha256[:16]>``."""
    digest = _sha256(src) if src.is_file() else _folder_sha256(src)
    return cache_root() / f"opensips-{version}-{digest[:16]}"


def _installed(prefix: Path) -> Install | None:
    marker = prefix / MARKER
    if not marker.is_file():
        return None
    data = json.loads(marker.read_text())
    return Install(
        binary=prefix / "sbin/opensips",
        modules=Path(data["modules"]),
        schema=prefix / SCHEMA_DIR,
        version=str(data["version"]),
    )


def finalize(prefix: Path, source_tree: Path, version: str, origin: str) -> Install:
    """Check an installed build, copy its sqlite schema, and only then write the marker."""
    binary = prefix / "sbin/opensips"
    modules = next(
        (
            d
            for d in (prefix / "lib64/opensips/modules", prefix / "lib/opensips/modules")
            if d.is_dir()
        ),
        None,
    )
    if not binary.is_file() or modules is None:
        raise LabError(f"the build in {prefix} has no sbin/opensips or modules folder")
    need = set(INCLUDE_MODULES.split()) | {"mi_fifo", "mi_datagram", "dialog", "usrloc"}
    lacking = sorted(m for m in need if not (modules / f"{m}.so").is_file())
    if lacking:
        raise LabError(f"the build in {prefix} lacks modules: {', '.join(lacking)}")
    out = subprocess.run(
        [str(binary), "-V"], capture_output=True, text=True, timeout=30, check=False
    )
    if out.returncode != 0 or version not in out.stdout:
        raise LabError(f"{binary} -V does not report version {version}: {out.stdout[:200]!r}")
    schema = prefix / SCHEMA_DIR
    schema.mkdir(parents=True, exist_ok=True)
    for name in SCHEMAS:
        shutil.copy2(source_tree / "scripts/sqlite" / f"{name}-create.sql", schema)
    marker = {
        "version": version,
        "source": origin,
        "modules": str(modules),
        "include_modules": INCLUDE_MODULES,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (prefix / MARKER).write_text(json.dumps(marker, indent=2) + "\n")
    return Install(binary=binary, modules=modules, schema=schema, version=version)


def _build(src: Path, version: str) -> Install:
    prefix = prefix_for(src, version)
    done = _installed(prefix)
    if done is not None:
        log(f"using the cached build {prefix}")
        return done
    cache_root().mkdir(parents=True, exist_ok=True)
    with (cache_root() / f"build-{prefix.name}.lock").open("w") as lock:
        # one build per source at a time: a second `make lab` waits, then reuses it
        log(f"waiting for the build lock of {prefix.name}")
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = _installed(prefix)
        if done is not None:
            log(f"using the build {prefix} another run just finished")
            return done
        return _build_locked(src, version, prefix)


def _build_locked(src: Path, version: str, prefix: Path) -> Install:
    if src.is_dir():
        tree = src
    else:
        tree = cache_root() / "src" / prefix.name
        if not (tree / "Makefile.defs").exists():
            log(f"extracting {src} into {tree}")
            tmp = tree.with_name(tree.name + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            with tarfile.open(src) as tar:
                tar.extractall(tmp, filter="data")
            inner = [p for p in tmp.iterdir() if p.is_dir()]
            top = inner[0] if len(inner) == 1 and not (tmp / "Makefile.defs").exists() else tmp
            shutil.rmtree(tree, ignore_errors=True)
            top.rename(tree)
            shutil.rmtree(tmp, ignore_errors=True)
    jobs = os.environ.get("LAB_JOBS", "2")
    args = ["nice", "make", f"-j{jobs}", f"include_modules={INCLUDE_MODULES}", f"prefix={prefix}"]
    build_log = cache_root() / f"build-{prefix.name}.log"
    log(f"building OpenSIPS {version} into {prefix} (log: {build_log}; 4-8 minutes on 2 cores)")
    with build_log.open("w") as fh:
        for target in ("all", "install"):
            step = subprocess.run(
                [*args, target],
                cwd=tree,
                stdout=fh,
                stderr=subprocess.STDOUT,
                timeout=3600,
                check=False,
            )
            if step.returncode != 0:
                raise LabError(
                    f"make {target} failed ({step.returncode}); see {build_log} "
                    "(missing build packages? run make lab-deps)"
                )
    return finalize(prefix, tree, version, str(src))


def _from_binary(raw: str) -> Install:
    binary = Path(shutil.which(raw) or raw).resolve()
    if not binary.is_file():
        raise LabError(f"OPENSIPS_BIN={raw} is not a file")
    out = subprocess.run(
        [str(binary), "-V"], capture_output=True, text=True, timeout=30, check=False
    )
    match = re.search(r"version: opensips (\d+\.\d+\.\d+)", out.stdout)
    if not match:
        raise LabError(f"{binary} -V does not say its version: {out.stdout[:200]!r}")
    version = match.group(1)
    root = binary.parent.parent
    candidates = [
        root / "lib64/opensips/modules",
        root / "lib/opensips/modules",
        root / "lib/x86_64-linux-gnu/opensips/modules",
        Path("/usr/lib/x86_64-linux-gnu/opensips/modules"),
    ]
    modules = next((d for d in candidates if (d / "dialog.so").is_file()), None)
    schemas = [
        root / SCHEMA_DIR,
        root / "share/opensips/sqlite",
        Path("/usr/share/opensips/sqlite"),
    ]
    schema = next((d for d in schemas if (d / "standard-create.sql").is_file()), None)
    if modules is None or schema is None:
        raise LabError(
            f"cannot find the modules folder or the sqlite schema scripts of {binary} "
            "(looked under its prefix and /usr); install the sqlite module package"
        )
    return Install(binary=binary, modules=modules, schema=schema, version=version)


def resolve_install(build: bool = True) -> Install:
    """The OpenSIPS to run: OPENSIPS_BIN, else a cached or fresh build of OPENSIPS_SRC."""
    raw_bin = os.environ.get("OPENSIPS_BIN", "")
    if raw_bin:
        return _from_binary(raw_bin)
    if not os.environ.get("OPENSIPS_SRC"):
        cached = _cached_build(os.environ.get("VERSION") or DEFAULT_VERSION)
        if cached is not None:
            return cached
    src, version = _resolve_source()
    if not build:
        done = _installed(prefix_for(src, version))
        if done is None:
            raise LabError(f"OpenSIPS {version} is not built yet: run make lab-build")
        return done
    return _build(src, version)


def _cached_build(version: str) -> Install | None:
    """Without OPENSIPS_SRC: the newest finished build of ``version`` in the cache, if any."""
    found = [
        (marker.stat().st_mtime, marker.parent)
        for marker in cache_root().glob(f"opensips-{version}-*/{MARKER}")
    ]
    if not found:
        return None
    prefix = max(found)[1]
    log(f"OPENSIPS_SRC not set: using the cached build {prefix}")
    return _installed(prefix)


def cmd_build(_: argparse.Namespace) -> None:
    install = resolve_install()
    print(f"OPENSIPS_BIN={install.binary}")


# --------------------------------------------------------------------------- run folder


def render(text: str, values: dict[str, str], version: str, off: int) -> str:
    """Fill @RUN@-style placeholders, @PORT:N@ (N + offset) and @IF>=X.Y@ lines."""
    lines = []
    have = version_tuple(version)
    for line in text.splitlines(keepends=True):
        cond = re.match(r"@IF(>=|<)(\d+(?:\.\d+)*)@ ?", line)
        if cond:
            bound = version_tuple(cond.group(2))
            keep = have >= bound if cond.group(1) == ">=" else have < bound
            if not keep:
                continue
            line = line[cond.end() :]
        lines.append(line)
    out = re.sub(r"@PORT:(\d+)@", lambda m: str(int(m.group(1)) + off), "".join(lines))
    for key, value in values.items():
        out = out.replace(f"@{key}@", value)
    left = re.findall(r"@[A-Z_]+(?::\d+)?@", out)
    if left:
        raise LabError(f"unfilled placeholders {sorted(set(left))} in a lab template")
    return out


def use_domain() -> bool:
    """``LAB_USE_DOMAIN``: ``1`` runs usrloc with ``use_domain`` on, ``0`` (default) off."""
    raw = os.environ.get("LAB_USE_DOMAIN", "0") or "0"
    if raw not in ("0", "1"):
        raise LabError(f"LAB_USE_DOMAIN={raw!r}: use 0 (AOR = user) or 1 (AOR = user@domain)")
    return raw == "1"


def use_domain_line(version: str) -> str:
    """The cfg line for usrloc ``use_domain``: off by default (3.x's state on every version);
    with ``LAB_USE_DOMAIN=1``, 4.x keeps its own default (on) and 3.x sets it on."""
    if not use_domain():
        return 'modparam("usrloc", "use_domain", 0)   # LAB_USE_DOMAIN=0 (the default)'
    if version_tuple(version) >= (4,):
        return "# usrloc use_domain: left at OpenSIPS 4.x's default, on (LAB_USE_DOMAIN=1)"
    return 'modparam("usrloc", "use_domain", 1)   # LAB_USE_DOMAIN=1'


def datagram_address(run: Path, ports: Ports) -> str:
    kind = os.environ.get("LAB_MI_DATAGRAM", "udp")
    if kind == "unix":
        return str(run / "mi_datagram.sock")
    if kind != "udp":
        raise LabError(f"LAB_MI_DATAGRAM={kind!r}: use udp or unix")
    return f"udp:127.0.0.1:{ports.mi_datagram}"


def prepare(run: Path, install: Install, ports: Ports) -> None:
    """Write the cfg, the sqlite db, the TLS pair and the SIPp users into the run folder."""
    run.mkdir(parents=True, exist_ok=True)
    for stale in ("opensips.sqlite", "opensips_fifo", "mi_datagram.sock"):
        (run / stale).unlink(missing_ok=True)
    values = {
        "RUN": str(run),
        "MPATH": str(install.modules) + "/",
        "MI_DATAGRAM": datagram_address(run, ports),
        "USE_DOMAIN": use_domain_line(install.version),
    }
    cfg = render((HERE / "opensips.cfg.in").read_text(), values, install.version, ports.offset)
    (run / "opensips.cfg").write_text(cfg)
    users = render((HERE / "sipp/users.csv.in").read_text(), {}, install.version, ports.offset)
    (run / "users.csv").write_text(users)
    schema = "".join((install.schema / f"{name}-create.sql").read_text() for name in SCHEMAS)
    seed = render((HERE / "seed.sql").read_text(), {}, install.version, ports.offset)
    subprocess.run(
        ["sqlite3", str(run / "opensips.sqlite")],
        input=schema + seed,
        text=True,
        check=True,
        capture_output=True,
        timeout=60,
    )
    tls = run / "tls"
    if not (tls / "cert.pem").is_file():
        tls.mkdir(exist_ok=True)
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "3650",
                "-subj",
                "/CN=127.0.0.1",
                "-keyout",
                str(tls / "key.pem"),
                "-out",
                str(tls / "cert.pem"),
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
    out = subprocess.run(
        [str(install.binary), "-C", "-f", str(run / "opensips.cfg")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if out.returncode != 0:
        tail = "\n".join((out.stdout + out.stderr).splitlines()[-15:])
        raise LabError(
            f"OpenSIPS {install.version} refuses the lab cfg {run}/opensips.cfg:\n{tail}"
        )


# --------------------------------------------------------------------------- processes


def _pids_file(run: Path) -> Path:
    return run / "pids.json"


def _read_pids(run: Path) -> dict[str, dict[str, Any]]:
    path = _pids_file(run)
    if not path.is_file():
        return {}
    data: dict[str, dict[str, Any]] = json.loads(path.read_text())
    return data


def _record(run: Path, name: str, pid: int, argv: list[str]) -> None:
    pids = _read_pids(run)
    pids[name] = {"pid": pid, "exe": Path(argv[0]).name, "argv": argv}
    _pids_file(run).write_text(json.dumps(pids, indent=2) + "\n")


def _alive(entry: dict[str, Any]) -> bool:
    """The recorded process still runs (same PID and same program: no reused PID)."""
    pid = int(entry["pid"])
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    if stat.rsplit(")", 1)[-1].split()[0] == "Z":
        return False
    return bool(cmdline) and Path(cmdline[0].decode(errors="replace")).name == entry["exe"]


def _spawn(run: Path, name: str, argv: list[str], cwd: Path) -> subprocess.Popen[bytes]:
    logfile = (run / f"{name}.log").open("wb")
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=logfile,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    logfile.close()
    _record(run, name, proc.pid, argv)
    return proc


def _wait(predicate: Any, timeout: float, step: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return bool(predicate())


def mi(url: str, method: str, params: dict[str, Any] | None = None, timeout: float = 5.0) -> Any:
    """One JSON-RPC call over mi_http (headers and body in one write); the result or raise."""
    body = {"jsonrpc": "2.0", "method": method, "id": 1}
    if params is not None:
        body["params"] = params
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        answer = json.loads(resp.read())
    if "error" in answer:
        raise LabError(f"MI {method}: {answer['error']}")
    return answer.get("result")


def _mi_up(url: str) -> bool:
    try:
        mi(url, "uptime", timeout=2.0)
    except (OSError, urllib.error.URLError, LabError, ValueError):
        return False
    return True


def _stop_entry(name: str, entry: dict[str, Any]) -> None:
    if not _alive(entry):
        return
    pid = int(entry["pid"])
    log(f"stopping {name} (pid {pid})")
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    if not _wait(lambda: not _alive(entry), STOP_WAIT_S):
        log(f"{name} (pid {pid}) ignored SIGTERM for {STOP_WAIT_S:.0f}s: SIGKILL")
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        _wait(lambda: not _alive(entry), STOP_WAIT_S)


def _opensips_children(pid: int) -> list[int]:
    """PIDs whose session is the OpenSIPS main process's (its forked workers)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[-1].split()
        except OSError:
            continue
        if int(fields[3]) == pid and int(proc.name) != pid and fields[0] != "Z":
            found.append(int(proc.name))
    return found


def cmd_stop(_: argparse.Namespace) -> None:
    """Stop the SIPp processes, then OpenSIPS, each by its recorded PID."""
    run = run_dir()
    pids = _read_pids(run)
    for name in [n for n in pids if n != "opensips"]:
        _stop_entry(name, pids[name])
    entry = pids.get("opensips")
    if entry is not None:
        sid = int(entry["pid"])
        _stop_entry("opensips", entry)
        # workers share the main process's session (start_new_session); wait for them too
        if not _wait(lambda: not _opensips_children(sid), STOP_WAIT_S):
            for child in _opensips_children(sid):
                log(f"opensips worker {child} outlived the main process: SIGKILL")
                os.kill(child, signal.SIGKILL)
    if _pids_file(run).exists():
        _pids_file(run).unlink()
    log(f"lab at offset {offset()} stopped")


# --------------------------------------------------------------------------- start


def lab_env(run: Path, ports: Ports, install: Install) -> dict[str, str]:
    """The addresses a client needs (written to lab.env, printed by start)."""
    dgram = datagram_address(run, ports)
    return {
        "OPENSIPS_MI_URL": f"http://127.0.0.1:{ports.mi_http}/mi",
        "OPENSIPS_MI_FIFO": str(run / "opensips_fifo"),
        "OPENSIPS_MI_DATAGRAM": dgram.removeprefix("udp:"),
        "OPENSIPS_VERSION": install.version,
        "OPENSIPS_SIP": f"udp:127.0.0.1:{ports.sip}",
        "LAB_PORT_OFFSET": str(ports.offset),
        "LAB_RUN_DIR": str(run),
        "LAB_USE_DOMAIN": "1" if use_domain() else "0",
    }


def _write_env(run: Path, env: dict[str, str]) -> None:
    text = "# written by lab/lab.py start; `source` it\n" + "".join(
        f"{k}={v}\n" for k, v in env.items()
    )
    (run / "lab.env").write_text(text)


def _env_of(run: Path) -> dict[str, str]:
    """The settings in the run folder's lab.env (empty when there is none)."""
    env_file = run / "lab.env"
    if not env_file.is_file():
        return {}
    pairs = (line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
    return {key: value.split("#", 1)[0].strip() for key, value in pairs}


def _sipp(ports: Ports, run: Path, name: str, extra: list[str], cp: int, mp: int) -> list[str]:
    return [
        shutil.which("sipp") or "/usr/bin/sipp",
        *extra,
        "-i", "127.0.0.1",
        "-ci", "127.0.0.1", "-cp", str(ports.p(cp)),
        "-mp", str(ports.p(mp)),
        "-nostdin",
        "-trace_err", "-error_file", str(run / f"{name}-errors.log"),
    ]  # fmt: skip


def start_traffic(run: Path, ports: Ports, url: str) -> None:
    """Register alice, bob, carol; bob's UAS answers; alice's UAC holds LAB_CALLS calls."""
    calls = int(os.environ.get("LAB_CALLS", "3"))
    hold_s = int(os.environ.get("LAB_HOLD_S", "3600"))
    sipp_dir = HERE / "sipp"
    target = f"127.0.0.1:{ports.sip}"
    users = str(run / "users.csv")
    reg_args = [target, "-sf", str(sipp_dir / "reg.xml"), "-inf", users, "-p", str(ports.reg)]
    reg = _sipp(ports, run, "sipp-reg", [*reg_args, "-m", "3", "-timeout", "30"], 8895, 16000)
    log("registering alice, bob, carol (SIPp)")
    proc = _spawn(run, "sipp-reg", reg, run)
    try:
        code = proc.wait(timeout=40)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
        raise LabError(f"SIPp registrations did not end in 40s; see {run}/sipp-reg.log") from None
    if code != 0:
        raise LabError(
            f"SIPp registrations failed (exit {code}); see {run}/sipp-reg.log and opensips.log"
        )
    uas_args = ["-sf", str(sipp_dir / "uas_bob.xml"), "-p", str(ports.uas), "-m", str(calls)]
    uas = _sipp(ports, run, "sipp-uas", [*uas_args, "-timeout", str(hold_s + 120)], 8896, 16010)
    _spawn(run, "sipp-uas", uas, run)
    uac_args = [target, "-sf", str(sipp_dir / "uac_call.xml"), "-s", "bob", "-p", str(ports.uac)]
    hold = ["-m", str(calls), "-l", str(calls), "-r", str(calls), "-d", str(hold_s * 1000)]
    uac = _sipp(
        ports, run, "sipp-uac", [*uac_args, *hold, "-timeout", str(hold_s + 60)], 8897, 16020
    )
    if not _wait(lambda: _udp_bound(ports.uas), 10.0):
        raise LabError(f"SIPp UAS did not bind udp 127.0.0.1:{ports.uas}; see {run}/sipp-uas.log")
    _spawn(run, "sipp-uac", uac, run)
    log(f"holding {calls} calls alice -> bob for up to {hold_s}s")

    def confirmed() -> bool:
        try:
            dialogs = mi(url, "dlg_list").get("Dialogs", [])
        except (OSError, LabError, ValueError, AttributeError):
            return False
        return sum(1 for d in dialogs if d.get("state") == 4) >= calls

    if not _wait(confirmed, TRAFFIC_WAIT_S):
        raise LabError(
            f"{calls} calls were not confirmed in {TRAFFIC_WAIT_S:.0f}s; see {run}/sipp-uac.log"
        )


def _udp_bound(port: int) -> bool:
    """Some socket is bound to udp ``port`` (from /proc/net/udp)."""
    try:
        rows = Path("/proc/net/udp").read_text().splitlines()[1:]
    except OSError:
        return False
    return any(row.split()[1].endswith(f":{port:04X}") for row in rows if len(row.split()) > 1)


def _traffic_running(run: Path) -> bool:
    pids = _read_pids(run)
    return all(n in pids and _alive(pids[n]) for n in ("sipp-uas", "sipp-uac"))


def cmd_start(_: argparse.Namespace) -> None:
    """Start the lab (idempotent: a running lab is kept, its traffic restarted if it ended)."""
    run = run_dir()
    ports = Ports(offset())
    install = resolve_install()
    env = lab_env(run, ports, install)
    url = env["OPENSIPS_MI_URL"]
    pids = _read_pids(run)
    running = "opensips" in pids and _alive(pids["opensips"]) and _mi_up(url)
    if running:
        started = _env_of(run).get("LAB_USE_DOMAIN", "0")
        if started != env["LAB_USE_DOMAIN"]:
            raise LabError(
                f"the lab at offset {ports.offset} runs with LAB_USE_DOMAIN={started}: "
                f"stop it first (make lab-stop LAB_PORT_OFFSET={ports.offset})"
            )
        log(f"already running (pid {pids['opensips']['pid']})")
        if not _traffic_running(run):
            for name in ("sipp-uas", "sipp-uac"):
                if name in pids:
                    _stop_entry(name, pids[name])
            start_traffic(run, ports, url)
    else:
        if pids:
            cmd_stop(argparse.Namespace())
        if _mi_up(url):
            raise LabError(
                f"something else answers MI on {url}: stop it or pick another LAB_PORT_OFFSET"
            )
        prepare(run, install, ports)
        pidfile = run / "opensips.pid"
        pidfile.unlink(missing_ok=True)
        argv = [
            str(install.binary),
            "-F",
            "-f",
            str(run / "opensips.cfg"),
            "-P",
            str(pidfile),
            "-m",
            "256",
            "-M",
            "32",
        ]
        log(f"starting OpenSIPS {install.version} ({run}/opensips.log)")
        proc = _spawn(run, "opensips", argv, run)
        if not _wait(lambda: _mi_up(url) or proc.poll() is not None, START_WAIT_S):
            cmd_stop(argparse.Namespace())
            raise LabError(
                f"OpenSIPS MI did not answer in {START_WAIT_S:.0f}s; see {run}/opensips.log"
            )
        if proc.poll() is not None:
            tail = "\n".join((run / "opensips.log").read_text(errors="replace").splitlines()[-15:])
            cmd_stop(argparse.Namespace())
            raise LabError(f"OpenSIPS exited ({proc.returncode}) at start:\n{tail}")
        try:
            start_traffic(run, ports, url)
        except LabError:
            cmd_stop(argparse.Namespace())
            raise
    _write_env(run, env)
    summary = _summary(url)
    log(summary)
    for key, value in env.items():
        print(f"{key}={value}")
    print(f"# source {run}/lab.env   |   stop: make lab-stop LAB_PORT_OFFSET={ports.offset}")


def _summary(url: str) -> str:
    try:
        dialogs = mi(url, "dlg_list").get("Dialogs", [])
        aors = mi(url, "ul_dump", {"brief": "1"})
    except (OSError, LabError, ValueError, AttributeError) as exc:
        return f"MI read failed: {exc}"
    count = (
        sum(len(d.get("AORs", [])) for d in aors.get("Domains", []))
        if isinstance(aors, dict)
        else "?"
    )
    return f"{len(dialogs)} dialogs, {count} registered AORs"


def cmd_status(_: argparse.Namespace) -> None:
    run = run_dir()
    pids = _read_pids(run)
    if not pids:
        print(f"no lab at offset {offset()} ({run})")
        return
    for name, entry in pids.items():
        print(f"{name}: pid {entry['pid']} {'running' if _alive(entry) else 'gone'}")
    env_file = run / "lab.env"
    if env_file.is_file():
        url = next(
            (
                line.split("=", 1)[1]
                for line in env_file.read_text().splitlines()
                if line.startswith("OPENSIPS_MI_URL=")
            ),
            "",
        )
        if url:
            print(("MI up: " if _mi_up(url) else "MI down: ") + url + " | " + _summary(url))


def cmd_env(_: argparse.Namespace) -> None:
    env_file = run_dir() / "lab.env"
    if not env_file.is_file():
        raise LabError(f"no lab.env in {run_dir()}: run make lab first")
    sys.stdout.write(env_file.read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lab.py", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    for name, func in (
        ("deps", cmd_deps),
        ("build", cmd_build),
        ("start", cmd_start),
        ("stop", cmd_stop),
        ("status", cmd_status),
        ("env", cmd_env),
    ):
        sub.add_parser(name).set_defaults(func=func)
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except LabError as exc:
        print(f"lab: error: {exc}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as exc:
        print(f"lab: error: {exc} (stderr: {(exc.stderr or '')!s:.500})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
