# invitebot: `invitebot serve` (gunicorn, Bolt at /slack/events, /healthz) on port 3000, with its worker process (the
# outbox, sync and reminders) beside it; `invitebot serve --no-worker` and `invitebot work` run the two apart
# (compose.yaml does).
#
#   docker build -t invitebot .
#   docker run --env-file .env -p 3000:3000 invitebot
#
# Two stages: the builder makes a virtualenv in /opt/venv with every dependency (and the `postgres` extra), then
# installs invitebot itself into it; the runtime stage copies that venv and the source, and nothing else (no pip
# cache, no build tools). tests/test_docker.py checks this file, and `make test` lints it with hadolint.

FROM python:3.11-slim AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv
WORKDIR /app

# Dependencies in their own layer: it is rebuilt only when pyproject.toml changes, not on every source edit.
# The requirement list (dependencies + the postgres extra) is read from pyproject.toml with the stdlib's tomllib.
COPY pyproject.toml ./
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; print('\n'.join(p['dependencies'] + p['optional-dependencies']['postgres']))" > /tmp/requirements.txt \
    && pip install --no-cache-dir -r /tmp/requirements.txt

# Then the project itself, as an *editable* install of /app. app/store/migrate.py finds the Alembic scripts at
# Path(app/store/migrate.py).parents[2] / "migrations", i.e. next to the `app` package. A plain `pip install .` would
# put the package in site-packages, where no migrations/ sits beside it, and `invitebot migrate` (and the migration
# that `serve` runs at start) would fail. Editable keeps the package at /app/app, so migrations are at /app/migrations;
# the runtime stage copies /app to the same path, so the venv's pointer to it stays valid.
COPY README.md ./
COPY app ./app
COPY migrations ./migrations
RUN pip install --no-cache-dir --no-deps --editable . \
    && python -m compileall -q app migrations


FROM python:3.11-slim

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DATABASE_URL=sqlite:////data/invitebot.db

# A non-root user. /data is the only writable place, for the default SQLite database (mount a volume there, or set
# DATABASE_URL to PostgreSQL as compose.yaml does; several replicas need PostgreSQL).
RUN groupadd --system --gid 10001 invitebot \
    && useradd --system --uid 10001 --gid invitebot --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin invitebot \
    && mkdir /data \
    && chown invitebot:invitebot /data

COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /app /app
WORKDIR /app
USER 10001:10001

EXPOSE 3000
# slim has no curl: the stdlib's urllib asks /healthz (200 while the database answers; anything else exits non-zero).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:3000/healthz', timeout=4).status == 200 else 1)"]
# Applies pending migrations (under a lock, so replicas may start together), then serves, and starts its worker.
CMD ["invitebot", "serve", "--host", "0.0.0.0", "--port", "3000"]
