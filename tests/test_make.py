"""The Makefile targets a newcomer runs: the port can be chosen, as the README says."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _planned(*args: str) -> str:
    """What `make -n` would run (nothing is run), without the directory lines a make run inside `make test` adds."""
    command = ["make", "--no-print-directory", "-n", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True).stdout


@pytest.mark.parametrize(("target", "command"), [("demo", "invitebot demo"), ("serve", "invitebot serve")])
def test_a_busy_port_can_be_avoided_with_port(target: str, command: str) -> None:
    assert f"{command} --port 0" in _planned(target, "PORT=0")
    assert "--port" not in _planned(target).splitlines()[-1]



def test_the_fast_tier_runs_the_unit_tests_alone() -> None:
    assert _planned("test-fast").splitlines()[-1] == ".venv/bin/python -m pytest -q tests/unit"
