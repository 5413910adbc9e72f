"""lab/lab.py without an OpenSIPS: templates, port offsets, version lines, source lookup."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.captures import REPO


def _load_lab() -> ModuleType:
    spec = importlib.util.spec_from_file_location("lab_script", REPO / "lab" / "lab.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["lab_script"] = module
    spec.loader.exec_module(module)
    return module


lab = _load_lab()
VALUES = {"RUN": "/run/lab", "MPATH": "/mods/", "MI_DATAGRAM": "udp:127.0.0.1:9"}


@pytest.mark.parametrize("version", ["3.4.18", "3.6.8", "4.0.1"])
def test_the_cfg_template_fills_every_placeholder_and_shifts_every_port(version: str) -> None:
    template = (REPO / "lab" / "opensips.cfg.in").read_text()
    values = {**VALUES, "USE_DOMAIN": lab.use_domain_line(version)}
    plain = lab.render(template, values, version, 0)
    shifted = lab.render(template, values, version, 300)
    assert "@" not in re.sub(r"\[\w+\]|sip:\w+@", "", plain.split("####### Global", 1)[1])
    assert "socket=udp:127.0.0.1:5060" in plain
    assert "socket=udp:127.0.0.1:5360" in shifted
    assert 'modparam("httpd", "port", 9190)' in shifted
    assert 'modparam("usrloc", "use_domain", 0)' in shifted
    assert "8888" not in plain  # never make sim's port


@pytest.mark.parametrize(
    ("setting", "version", "line"),
    [
        ("0", "4.0.1", 'modparam("usrloc", "use_domain", 0)'),
        ("0", "3.4.18", 'modparam("usrloc", "use_domain", 0)'),
        ("1", "4.0.1", "# usrloc use_domain: left at OpenSIPS 4.x's default, on"),
        ("1", "3.6.8", 'modparam("usrloc", "use_domain", 1)'),
    ],
)
def test_lab_use_domain_picks_the_usrloc_line(
    setting: str, version: str, line: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAB_USE_DOMAIN", setting)
    assert lab.use_domain_line(version).startswith(line)


def test_a_bad_lab_use_domain_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAB_USE_DOMAIN", "yes")
    with pytest.raises(lab.LabError):
        lab.use_domain_line("4.0.1")


def test_if_lines_are_kept_only_for_their_versions() -> None:
    text = "a\n@IF>=4.0@ new\n@IF<4.0@ old\nb\n"
    assert lab.render(text, {}, "4.0.1", 0) == "a\nnew\nb\n"
    assert lab.render(text, {}, "3.6.8", 0) == "a\nold\nb\n"


def test_an_unfilled_placeholder_is_refused() -> None:
    with pytest.raises(lab.LabError):
        lab.render("x @NOPE@\n", {}, "3.6.8", 0)


def test_the_3_4_seed_leaves_out_the_domain_column_it_lacks() -> None:
    template = (REPO / "lab" / "seed.sql").read_text()
    assert "accept_subdomain)" not in lab.render(template, {}, "3.4.18", 0)
    assert "accept_subdomain)" in lab.render(template, {}, "3.6.8", 0)


def test_seed_destinations_follow_the_offset() -> None:
    seed = lab.render((REPO / "lab" / "seed.sql").read_text(), {}, "3.6.8", 100)
    assert "sip:127.0.0.1:5181" in seed
    assert "bin:127.0.0.1:5666" in seed
    assert not re.search(r"@PORT:\d+@", seed)


def test_offset_blocks_of_the_helpers_never_share_a_port() -> None:
    bases = [5060, 5061, 5071, 5072, 5074, 5075, 5076, 5078, 5079, 5566, 5567]
    bases += [8890, 8891, 8895, 8896, 8897, 8898, 8899, 16000, 16010, 16020, 16030, 16040]
    used: dict[int, int] = {}
    for offset in range(0, 1000, 100):
        for base in bases:
            port = base + offset
            assert port not in used, (port, offset, used.get(port))
            used[port] = offset


def test_without_source_or_cached_build_the_error_says_what_to_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LAB_CACHE", str(tmp_path))
    monkeypatch.delenv("OPENSIPS_SRC", raising=False)
    monkeypatch.delenv("OPENSIPS_BIN", raising=False)
    with pytest.raises(lab.LabError, match="OPENSIPS_SRC"):
        lab.resolve_install()


def test_a_source_folder_of_tarballs_is_searched_by_version(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "opensips-4.0.1.tar.xz").write_bytes(b"x")
    monkeypatch.setenv("OPENSIPS_SRC", str(tmp_path))
    monkeypatch.setenv("VERSION", "4.0.1")
    src, version = lab._resolve_source()
    assert (src.name, version) == ("opensips-4.0.1.tar.xz", "4.0.1")
    monkeypatch.setenv("VERSION", "3.4.18")
    with pytest.raises(lab.LabError):
        lab._resolve_source()
