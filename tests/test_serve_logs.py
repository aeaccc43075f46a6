"""What `invitebot serve` prints: JSON log lines only (gunicorn's own too), and nothing from gunicorn's control socket."""

from __future__ import annotations

import json
import urllib.request

from tests.support.cards import wait_for_card
from tests.support.stand_in import new_request

LAST_LINE = "Shutting down: Master"  # gunicorn's last words after SIGTERM


def _run_until_sigterm(fake, serve_process, **env):
    """Start `invitebot serve --port 0`, let it sync and answer a request, SIGTERM it; every line it printed."""
    url = serve_process(**env)
    new_request(fake)
    wait_for_card(fake, "ada@example.com")  # the start-up sync ran in the worker
    with urllib.request.urlopen(url.replace("/slack/events", "/healthz"), timeout=10) as answer:
        assert answer.status == 200
    [process] = serve_process.processes
    process.terminate()
    assert process.wait(timeout=60) == 0
    output = serve_process.output[url]
    output.wait_for_line(LAST_LINE)
    return output.lines


def test_every_line_serve_prints_is_a_json_log_entry(fake, serve_process):
    lines = _run_until_sigterm(fake, serve_process)

    entries = []
    for line in lines:
        try:
            entries.append(json.loads(line))
        except ValueError:
            raise AssertionError(f"not a JSON line: {line!r}\nall of them:\n{''.join(lines)}") from None
    for entry in entries:
        assert {"time", "level", "logger", "message"} <= entry.keys(), entry
    messages = [entry["message"] for entry in entries]
    assert any(m.startswith("Starting gunicorn") for m in messages)  # gunicorn's own lines are JSON too
    [listening] = [entry for entry in entries if "invitebot listening on http://127.0.0.1:" in entry["message"]]
    assert listening["level"] == "info" and listening["logger"] == "app.main.serve"


def test_serve_under_a_home_that_does_not_exist_logs_no_error_and_writes_nothing_there(fake, serve_process, tmp_path):
    home = tmp_path / "nonexistent"  # as in the Docker image, whose user's home is /nonexistent
    lines = _run_until_sigterm(fake, serve_process, HOME=str(home), XDG_RUNTIME_DIR="")

    assert not home.exists()  # no ~/.gunicorn/gunicorn.ctl, which every gunicorn on the host would share
    problems = [line for line in lines if _level(line) in ("error", "critical") or "control socket" in line.lower()]
    assert not problems, problems


def _level(line):
    """A JSON line's level; for anything else, gunicorn's own "[ERROR]"-style tag, so this test stands on its own."""
    try:
        return json.loads(line)["level"]
    except ValueError:
        return next((tag.lower() for tag in ("ERROR", "CRITICAL") if f"[{tag}]" in line), None)
