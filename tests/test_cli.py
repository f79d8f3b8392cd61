"""The panelmap command as a user runs it: a real process, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from panelmap import __version__
from panelmap.storage import Database
from panelmap.version import git_commit


def panelmap(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "panelmap", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=120,
    )


def assert_one_line_error(result: subprocess.CompletedProcess, fragment: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert fragment in lines[0]


def test_version_names_release_and_commit() -> None:
    result = panelmap("--version")
    assert result.returncode == 0
    assert __version__ in result.stdout
    commit = git_commit()
    if commit:  # running from a checkout
        assert commit in result.stdout


def test_db_upgrade_then_panels_on_both_databases(database_url: str) -> None:
    upgrade = panelmap("--db", database_url, "db", "upgrade")
    assert upgrade.returncode == 0, upgrade.stderr
    assert f"schema at revision {Database.open(database_url).current_revision()}" in upgrade.stdout
    listing = panelmap("--db", database_url, "panels", "--format", "json")
    assert listing.returncode == 0, listing.stderr
    assert json.loads(listing.stdout) == []


@pytest.mark.parametrize("url,fragment", [
    ("not a url", "invalid database URL"),
    ("mysql://localhost/x", "unsupported database 'mysql'"),
    ("postgresql+psycopg://127.0.0.1:1/nothing", "cannot connect to"),
    ("sqlite:////nonexistent-dir/x/panelmap.db", "cannot connect to"),
])
def test_bad_database_is_a_one_line_error(url: str, fragment: str) -> None:
    assert_one_line_error(panelmap("--db", url, "db", "upgrade"), fragment)


def test_listing_an_unmigrated_database_says_what_to_do(tmp_path: Path) -> None:
    result = panelmap("--db", f"sqlite:///{tmp_path / 'empty.db'}", "panels")
    assert_one_line_error(result, "run `panelmap db upgrade`")


def test_config_file_supplies_options(tmp_path: Path) -> None:
    database = tmp_path / "from-config.db"
    config = tmp_path / "panelmap.toml"
    config.write_text(f'database = "sqlite:///{database}"\n\n[panels]\nformat = "csv"\n')
    assert panelmap("--config", str(config), "db", "upgrade").returncode == 0
    assert database.exists()
    listing = panelmap("--config", str(config), "panels")
    assert listing.stdout.splitlines()[0] == "site,kind,software,services,last_crawled,status"


@pytest.mark.parametrize("content,fragment", [
    ("database = ", "is not valid TOML"),
    (None, "does not exist"),
])
def test_bad_config_file_is_a_one_line_error(tmp_path: Path, content: str | None, fragment: str) -> None:
    config = tmp_path / "bad.toml"
    if content is not None:
        config.write_text(content)
    assert_one_line_error(panelmap("--config", str(config), "panels"), fragment)


def test_environment_variable_selects_database(tmp_path: Path) -> None:
    import os

    database = tmp_path / "env.db"
    env = {**os.environ, "PANELMAP_DATABASE_URL": f"sqlite:///{database}"}
    assert panelmap("db", "upgrade", env=env).returncode == 0
    assert database.exists()


def test_quiet_crawl_prints_nothing_but_errors(tmp_path: Path) -> None:
    # An unreachable seed: the crawl runs, records the failure, and -q keeps Scrapy's logs off the terminal.
    result = panelmap("-q", "--db", f"sqlite:///{tmp_path / 'q.db'}", "crawl", "http://127.0.0.1:9/",
                      "--render", "never", "--retries", "0", "--no-enrich", "--warc-dir", str(tmp_path / "w"))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert "DEBUG" not in result.stderr and "INFO" not in result.stderr


def test_scrapy_never_downloads_the_public_suffix_list() -> None:
    # A fresh machine has no tldextract cache: the crawl must use the bundled snapshot, not the internet.
    code = ("import panelmap, os; from scrapy.downloadermiddlewares.cookies import _split_domain; "
            "print(list(_split_domain.suffix_list_urls))")
    env = {key: value for key, value in __import__("os").environ.items() if key != "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert result.stdout.strip() == "[]", result.stdout + result.stderr
