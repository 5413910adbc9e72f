"""``make bench``: run every benchmark, then write ``benchmarks/results/latest.{json,md}``.

    python -m benchmarks.run            # all benchmarks, about 4 minutes on 2 cores
    python -m benchmarks.run -k mcp     # a subset (pytest's -k), same outputs

pytest runs in a child process with pytest-benchmark's options; its JSON
(``--benchmark-json``) gets one extra key, ``opensips_mcp_run`` (command, duration,
load average before and after), and `benchmarks.report` renders the markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.harness import REPO
from benchmarks.report import render

RESULTS = REPO / "benchmarks" / "results"

PYTEST_ARGS = (
    "-p",
    "no:cacheprovider",
    # Benchmarks take longer than unit tests; each still stops on its own.
    "-o",
    "timeout=600",
    "--benchmark-sort=name",
    "--benchmark-columns=min,median,max,rounds",
)


def pytest_command(json_path: Path, extra: Sequence[str] = ()) -> list[str]:
    """The pytest command line that runs the benchmarks and writes ``json_path``."""
    return [
        sys.executable,
        "-m",
        "pytest",
        str(REPO / "benchmarks"),
        *PYTEST_ARGS,
        f"--benchmark-json={json_path}",
        *extra,
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmarks; returns pytest's exit code."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("-k", dest="keyword", help="only benchmarks matching (pytest -k)")
    parser.add_argument(
        "--out", type=Path, default=RESULTS, help="results directory (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    json_path = args.out / "latest.json"
    extra = ["-k", args.keyword] if args.keyword else []
    shown = "python -m benchmarks.run" + (f" -k {args.keyword!r}" if args.keyword else "")
    load_before = round(os.getloadavg()[0], 2)
    started = time.monotonic()
    rc = subprocess.call(pytest_command(json_path, extra), cwd=REPO)
    seconds = round(time.monotonic() - started, 1)
    if not json_path.exists():
        print(f"benchmarks.run: pytest wrote no {json_path} (exit {rc})", file=sys.stderr)
        return rc or 1
    data = json.loads(json_path.read_text())
    data["opensips_mcp_run"] = {
        "command": shown,
        "seconds": seconds,
        "load_before": load_before,
        "load_after": round(os.getloadavg()[0], 2),
        "pytest_exit": rc,
    }
    json_path.write_text(json.dumps(data, indent=2) + "\n")
    md_path = args.out / "latest.md"
    md_path.write_text(render(data))
    print(f"wrote {json_path} and {md_path} in {seconds} s")
    return rc


if __name__ == "__main__":
    sys.exit(main())
