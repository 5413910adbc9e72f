"""The repository stands alone: no file but ``.ci/run`` reaches outside it for data."""

from __future__ import annotations

import re
import subprocess

from tests.captures import REPO

#: Paths that leave the checkout for the steering folder beside it, written split so this
#: file does not match itself: the parent-relative one, an absolute one, ``parents[N]``.
OUTSIDE = re.compile(
    "|".join([r"\.\./" + "shared", r"/work/" + "shared", r"parents\[\d\]\s*/\s*[\"']" + "shared"])
)
ALLOWED = {".ci/run"}


def _tracked_text_files() -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    return [line for line in out.splitlines() if line]


def test_no_file_but_ci_run_names_a_path_outside_the_repository() -> None:
    offenders = []
    for name in _tracked_text_files():
        if name in ALLOWED:
            continue
        try:
            text = (REPO / name).read_text("utf-8")
        except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if OUTSIDE.search(line):
                offenders.append(f"{name}:{number}: {line.strip()[:120]}")
    assert offenders == []


def test_the_check_sees_a_path_to_the_old_shared_folder() -> None:
    assert OUTSIDE.search("../" + "shared/opensips/commands.json")
    assert OUTSIDE.search("Path(__file__).resolve().parents[3] / " + '"shared"')
    assert not OUTSIDE.search("from ..captures import version_dir")
