"""Where invitebot keeps files when nothing says otherwise: its SQLite database in ./data of the working directory."""

from __future__ import annotations

from pathlib import Path

DATA_FOLDER = "data"  # the default SQLite database lives in ./data/, made on first use
DATABASE_FILE = "invitebot.db"


def default_data_folder() -> Path:
    """Where the default SQLite database lives: ./data in the working directory."""
    return Path.cwd() / DATA_FOLDER


def default_database_url() -> str:
    return f"sqlite:///{default_data_folder() / DATABASE_FILE}"
