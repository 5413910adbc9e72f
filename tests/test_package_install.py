"""The project installs as a package: the wheel holds every file the code loads, and a fresh
virtualenv with only the wheel installed runs both commands from another folder.

How the fresh virtualenv is made, and why. ``pip install .`` builds a wheel from the checkout
and installs it; the test does the same in two steps so each can be checked:

1. **Build** the wheel with ``pip wheel --no-deps`` from a copy of the checkout's tracked
   files (not the checkout itself: setuptools keeps a ``build/`` folder that can carry
   modules deleted since, and only what git tracks reaches a user's clone).
2. **Install** it with ``pip --python <venv> install --no-deps --no-index`` into a virtualenv
   made by ``python -m venv --without-pip``: no network, nothing from the checkout, a few
   seconds. The dependencies (mcp, aiohttp, ...) are not downloaded again: a ``.pth`` file
   written *after* the install appends this development virtualenv's site-packages to the
   new one's ``sys.path``. Plain ``.pth`` lines do not run the ``.pth`` files found in the
   folder they add, so the editable install of the checkout stays inactive; the test checks
   that ``opensips_mcp`` and ``opensips_sim`` are imported from the new virtualenv. (``make``
   reinstalls this virtualenv whenever pyproject.toml changes, so it holds every declared
   dependency.) Since the borrowed packages include the development tools, a separate test
   checks that every third-party import of the packages is installed by the wheel's declared
   dependencies.
   Resolving the dependencies from an index instead would make the test slow and dependent on
   the network; the dependency list itself is pip's job and is exercised by ``make venv``.

The build step uses pip's isolated build (setuptools from the package index, as ``make venv``
does). Every process is started with a bounded wait and stopped by its PID.
"""

from __future__ import annotations

import ast
import asyncio
import fnmatch
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import httpx
import pytest
from mcp import Client, StdioServerParameters
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.captures import REPO

pytestmark = pytest.mark.timeout(90)

PACKAGES = {
    "opensips_mcp": REPO / "server" / "opensips_mcp",
    "opensips_sim": REPO / "simulator" / "opensips_sim",
}
WAIT = 30.0
"""Seconds any single step (a build, an install, a process start, a reply) may take."""

#: Code that opens a file next to a module (``__file__``) instead of through
#: ``importlib.resources``, with why that file need not be in the wheel.
FILE_RELATIVE_ALLOWED = {
    "opensips_sim/coverage.py": "development tool: rewrites simulator/COVERAGE.md in a checkout",
}

RESOURCE = re.compile(
    r"resources\.files\(\s*\"([\w.]+)\"\s*\)\s*\.joinpath\(\s*f?\"([^\"]+)\"\s*\)", re.S
)


def _tracked_files() -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=WAIT,
    ).stdout
    return [name for name in out.splitlines() if name and (REPO / name).is_file()]


def _package_files() -> dict[str, Path]:
    """Tracked files of both packages, keyed by their path inside the wheel."""
    files: dict[str, Path] = {}
    for name in _tracked_files():
        path = REPO / name
        for package, folder in PACKAGES.items():
            if path.is_relative_to(folder):
                files[f"{package}/{path.relative_to(folder).as_posix()}"] = path
    return files


def _clean_env() -> dict[str, str]:
    """The environment without anything pointing Python or the server elsewhere."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTHON", "OPENSIPS_MCP_", "VIRTUAL_ENV", "PIP_REQUIRE"))
    }


def _run(*argv: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in argv],
        cwd=cwd,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=WAIT * 2,
        check=False,
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from a copy of the checkout's tracked files."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    for name in _tracked_files():
        target = source / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, target)
    dist = root / "dist"
    done = _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", dist, source)
    assert done.returncode == 0, done.stderr[-2000:]
    (built,) = dist.glob("opensips_mcp-*.whl")
    return built


@pytest.fixture(scope="module")
def names(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as z:
        return set(z.namelist())


@dataclass(frozen=True)
class Installed:
    """A fresh virtualenv holding only the wheel, and a folder outside the checkout."""

    venv: Path
    elsewhere: Path

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    def script(self, name: str) -> Path:
        return self.venv / "bin" / name


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("fresh")
    venv = root / "venv"
    done = _run(sys.executable, "-m", "venv", "--without-pip", venv)
    assert done.returncode == 0, done.stderr
    python = venv / "bin" / "python"
    done = _run(
        sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps",
        "--no-index", wheel,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    site = _run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
    dev = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    Path(site.stdout.strip(), "dev-dependencies.pth").write_text("\n".join(sorted(dev)) + "\n")
    elsewhere = root / "elsewhere"
    elsewhere.mkdir()
    return Installed(venv, elsewhere)


# --- the wheel's contents ----------------------------------------------------------------


def test_the_wheel_holds_every_tracked_file_of_both_packages(names: set[str]) -> None:
    missing = sorted(set(_package_files()) - names)
    assert missing == []


def test_the_wheel_holds_nothing_but_the_two_packages(names: set[str]) -> None:
    tops = {n.split("/", 1)[0] for n in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == set(PACKAGES)


def test_the_wheel_declares_both_commands(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as z:
        entry = next(n for n in z.namelist() if n.endswith(".dist-info/entry_points.txt"))
        text = z.read(entry).decode()
    assert "opensips-mcp = opensips_mcp.cli:main" in text
    assert "opensips-sim = opensips_sim.cli:main" in text


def _resources_the_code_opens() -> dict[str, str]:
    """``{pattern inside the wheel: where the code opens it}`` for every
    ``resources.files("pkg").joinpath("path")``; an f-string part becomes ``*``."""
    found: dict[str, str] = {}
    for name, path in _package_files().items():
        if not name.endswith(".py"):
            continue
        for match in RESOURCE.finditer(path.read_text("utf-8")):
            package, inner = match.groups()
            pattern = package.replace(".", "/") + "/" + re.sub(r"\{[^}]*\}", "*", inner)
            found[pattern] = name
    return found


def test_every_resource_the_code_opens_is_in_the_wheel(names: set[str]) -> None:
    opened = _resources_the_code_opens()
    # the scan sees the known loaders (catalog, command table, statistics, scenarios)
    assert {
        "opensips_mcp/catalog/commands.json",
        "opensips_sim/data/commands-3.6.json",
        "opensips_sim/data/statistics-3.6.json",
        "opensips_sim/scenarios/*.json",
    } <= set(opened)
    absent = [
        f"{pattern} (opened in {where})"
        for pattern, where in opened.items()
        if not fnmatch.filter(names, pattern)
        and not any(n.startswith(pattern + "/") for n in names)
    ]
    assert absent == []


def test_no_module_opens_files_beside_itself_unless_allowed() -> None:
    users = {
        name
        for name, path in _package_files().items()
        if name.endswith(".py") and "__file__" in path.read_text("utf-8")
    }
    assert users <= set(FILE_RELATIVE_ALLOWED), sorted(users - set(FILE_RELATIVE_ALLOWED))


# --- a fresh virtualenv with only the wheel ------------------------------------------------


def test_the_packages_are_imported_from_the_fresh_virtualenv(installed: Installed) -> None:
    done = _run(
        installed.python,
        "-c",
        "import opensips_mcp, opensips_sim; print(opensips_mcp.__file__); "
        "print(opensips_sim.__file__)",
        cwd=installed.elsewhere,
    )
    assert done.returncode == 0, done.stderr
    for line in done.stdout.splitlines():
        assert Path(line).is_relative_to(installed.venv), line


@pytest.mark.parametrize("command", ["opensips-mcp", "opensips-sim"])
def test_the_commands_and_python_m_print_the_same_version(
    installed: Installed, command: str
) -> None:
    script = _run(installed.script(command), "--version", cwd=installed.elsewhere)
    module = _run(
        installed.python, "-m", command.replace("-", "_"), "--version", cwd=installed.elsewhere
    )
    assert (script.returncode, module.returncode) == (0, 0), script.stderr + module.stderr
    assert script.stdout == module.stdout
    assert script.stdout.split() == [command, "0.1.0"]


@pytest.mark.parametrize("form", ["script", "module"])
def test_serve_help_runs(installed: Installed, form: str) -> None:
    head = (
        [installed.script("opensips-mcp")]
        if form == "script"
        else [installed.python, "-m", "opensips_mcp"]
    )
    done = _run(*head, "serve", "--help", cwd=installed.elsewhere)
    assert done.returncode == 0, done.stderr
    assert "--mi-url" in done.stdout


@asynccontextmanager
async def _simulator(head: list[str], cwd: Path) -> AsyncIterator[str]:
    """``<head> --scenario large --port 0`` started in ``cwd``; yields the MI URL it prints,
    then stops it by its PID (SIGTERM, SIGKILL after WAIT seconds)."""
    process = await asyncio.create_subprocess_exec(
        *head,
        "--scenario",
        "large",
        "--port",
        "0",
        cwd=cwd,
        env=_clean_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), WAIT)).decode()
        assert line.startswith("opensips-sim listening on http://127.0.0.1:"), line
        yield line.split("listening on ", 1)[1].strip()
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), WAIT)
            except TimeoutError:
                process.kill()
                await process.wait()


@pytest.mark.parametrize("form", ["script", "module"])
async def test_the_installed_simulator_answers_and_the_server_lists_its_tools_over_stdio(
    installed: Installed, form: str, tmp_path: Path
) -> None:
    """``opensips-sim --scenario large --port 0`` answers ``uptime``; ``opensips-mcp serve``
    against it lists its tools and reaches it over stdio (or both as ``python -m``)."""
    python = str(installed.python)
    if form == "script":
        sim, mcp = [str(installed.script("opensips-sim"))], [str(installed.script("opensips-mcp"))]
    else:
        sim, mcp = [python, "-m", "opensips_sim"], [python, "-m", "opensips_mcp"]
    async with _simulator(sim, installed.elsewhere) as url:
        async with httpx.AsyncClient(timeout=WAIT) as http:
            reply = await http.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "uptime"})
        body = reply.json()
        assert "error" not in body, body
        assert {"Up since", "Up time"} <= set(body["result"])
        params = StdioServerParameters(
            command=mcp[0],
            args=[*mcp[1:], "serve", "--mi-url", url, "--audit-log", str(tmp_path / "a.jsonl")],
            cwd=installed.elsewhere,
        )
        async with asyncio.timeout(WAIT * 2), Client(params) as client:
            tools = {t.name for t in (await client.list_tools()).tools}
            health = await client.call_tool("opensips_health", {})
    assert {"mi_execute", "mi_list_commands", "mi_describe_command", "opensips_health"} <= tools
    assert health.structured_content is not None
    assert health.structured_content["reachable"] is True


def _third_party_imports() -> dict[str, str]:
    """``{top-level module: a file importing it}`` for every import in both packages that is
    neither the standard library nor the packages themselves."""
    found: dict[str, str] = {}
    for name, path in _package_files().items():
        if not name.endswith(".py"):
            continue
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".", 1)[0]
                if top not in sys.stdlib_module_names and top not in PACKAGES:
                    found.setdefault(top, name)
    return found


def _installed_with(requirements: list[str]) -> set[str]:
    """Canonical names of the distributions installing ``requirements`` brings (transitively,
    as resolved in this virtualenv; extras and environment markers not taken)."""
    seen: set[str] = set()
    todo = [Requirement(r) for r in requirements]
    while todo:
        req = todo.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        name = canonicalize_name(req.name)
        if name in seen:
            continue
        seen.add(name)
        todo.extend(Requirement(r) for r in metadata.requires(name) or [])
    return seen


def test_every_third_party_import_is_installed_by_the_declared_dependencies(
    wheel: Path,
) -> None:
    """The fresh virtualenv borrows this one's packages, dev tools included; this is the check
    that an import of, say, httpx in the server would not pass only because of that."""
    with zipfile.ZipFile(wheel) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        text = z.read(meta).decode()
    requires = [line.split(":", 1)[1].strip() for line in text.splitlines()
                if line.startswith("Requires-Dist:")]  # fmt: skip
    provided = _installed_with(requires)
    owners = metadata.packages_distributions()
    undeclared = {
        f"{top} (imported in {where})"
        for top, where in _third_party_imports().items()
        if not {canonicalize_name(d) for d in owners.get(top, [])} & provided
    }
    assert undeclared == set()


def test_json_data_in_the_wheel_parses(wheel: Path, names: set[str]) -> None:
    with zipfile.ZipFile(wheel) as z:
        for name in sorted(n for n in names if n.endswith(".json")):
            json.loads(z.read(name))
