"""The `workbench` command: every verb has --help, errors are one line with a non-zero exit code."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from workbench.cli.main import build_parser, main


def _verbs() -> list[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return sorted(sub.choices)


def test_contract_verbs_exist():
    verbs = set(_verbs())
    assert {"new", "info", "demo", "gui"} <= verbs


@pytest.mark.parametrize("verb", _verbs())
def test_every_verb_has_help(verb, capsys):
    with pytest.raises(SystemExit) as exc:
        main([verb, "--help"])
    assert exc.value.code == 0
    assert "usage: workbench" in capsys.readouterr().out


def _run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "workbench", *args], capture_output=True, text=True, env=env, timeout=300
    )


def test_errors_are_one_line_without_traceback(tmp_path):
    not_a_project = tmp_path / "notes.txt"
    not_a_project.write_text("hello")
    result = _run("info", str(not_a_project))
    assert result.returncode != 0
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    assert "notes.txt" in lines[0] and "Traceback" not in result.stderr


def test_debug_shows_the_traceback(tmp_path):
    result = _run("--debug", "info", str(tmp_path / "missing.awb"))
    assert result.returncode != 0
    assert "Traceback" in result.stderr


def test_gui_without_display_says_so_and_writes_a_summary(tmp_path):
    assert main(["new", str(tmp_path / "s.awb")]) == 0
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    result = _run("gui", str(tmp_path / "s.awb"), env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].startswith("no display found")
    summary = tmp_path / "s_summary.txt"
    assert summary.exists() and "samples" in summary.read_text()
