"""`panelmap schedule`, `scheduler --once`, `jobs`, `services --history` and `price-index` as a
user runs them: exit codes, one-line errors, and one real scheduled crawl in real processes.

The quick checks run the command in-process (click's runner); the crawl runs as a user's would.
"""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from crawling import enrichment_arguments
from click.testing import CliRunner, Result
from sqlalchemy import select

from panelmap.cli import cli
from panelmap.storage import Database
from panelmap.storage.models import CrawlRun

SITES = ["eliteworld.store", "followzone-panel.co"]  # two small panels of the default world


def panelmap(database_url: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "panelmap", "--db", database_url, *args], check=False,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(autouse=True)
def keep_logging() -> object:
    """`panelmap` configures the root logger for its process; in this one, put it back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level


def run(database_url: str, *args: str) -> Result:
    """The command in this process: what `panelmap --db URL ARGS...` does, without a process's start-up time."""
    return CliRunner().invoke(cli, ["--db", database_url, *args], catch_exceptions=False)


def assert_one_line_error(result: Result, fragment: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], lines


def test_schedule_add_list_pause_resume_remove(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'panelmap.db'}"
    monkeypatch.chdir(tmp_path)
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("a.example\nb.example\n")
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('["a.example"]\napi_key = "k3y"\n')
    added = run(url, "schedule", "add", "nightly", "c.example", "--seeds", "seeds.txt", "--cron", "0 3 * * *",
                "--render", "never", "--secrets", "secrets.toml", "--no-autothrottle", "--retries", "1",
                "--webhook", "https://hooks.example/services/T0K3N")
    assert added.exit_code == 0, added.output
    assert "schedule nightly: cron 0 3 * * *, 3 site(s), first run" in added.stdout
    [row] = json.loads(run(url, "schedule", "list", "--format", "json").stdout)
    assert row["seeds"] == ["c.example", "a.example", "b.example"] and row["state"] == "waiting"
    assert row["crawl_options"] == {"--render": "never", "--secrets": str(secrets), "--no-autothrottle": True,
                                    "--retries": 1}  # the secrets file by its path, never its content
    assert row["alerts"] == {"webhook": "https://hooks.example/…"}
    assert "k3y" not in (tmp_path / "panelmap.db").read_bytes().decode("latin-1")
    assert run(url, "schedule", "pause", "nightly").stdout.strip() == "schedule nightly: paused"
    assert json.loads(run(url, "schedule", "list", "--format", "json").stdout)[0]["state"] == "paused"
    assert run(url, "schedule", "resume", "nightly").exit_code == 0
    assert run(url, "schedule", "remove", "nightly").exit_code == 0
    assert json.loads(run(url, "schedule", "list", "--format", "json").stdout) == []


@pytest.mark.parametrize("args,fragment", [
    (["schedule", "add", "x", "a.example", "--cron", "61 * * * *"], "invalid cron expression '61 * * * *'"),
    (["schedule", "add", "x", "a.example", "--every", "often"], "invalid duration 'often'"),
    (["schedule", "add", "x", "a.example"], "give exactly one of --every"),
    (["schedule", "add", "x", "--every", "1h"], "no seeds"),
    (["schedule", "add", "x", "a.example", "--every", "1h", "--rendr", "never"], "No such option '--rendr'"),
    (["schedule", "add", "x", "a.example", "--every", "1h", "--webhook", "hooks.example"], "invalid webhook URL"),
    (["schedule", "add", "x", "a.example", "--every", "1h", "--job", "mine"], "the scheduler names each job"),
    (["schedule", "pause", "nobody"], "no schedule named 'nobody'"),
    (["services", "--history", "12"], "--history needs --site"),
    (["services", "--site", "a.example", "--history", "12"], "no site 'a.example'"),
    (["price-index", "--chart", "index.pdf"], "use a .svg or .png"),
])
def test_bad_input_is_a_one_line_error(tmp_path: Path, args: list[str], fragment: str) -> None:
    url = f"sqlite:///{tmp_path / 'panelmap.db'}"
    Database.open(url).upgrade()
    assert_one_line_error(run(url, *args), fragment)


@pytest.mark.timeout(300)
def test_scheduler_once_runs_a_real_crawl_links_its_run_and_alerts(sandbox, ground_truth, secrets_file,
                                                                     tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'panelmap.db'}"
    alerts = tmp_path / "alerts.jsonl"
    added = run(url, "schedule", "add", "pair", *SITES, "--every", "6h", "--proxy", sandbox.proxy_url,
                "--render", "never", "--download-timeout", "5", "--retries", "1", "--secrets", str(secrets_file),
                "--warc-dir", str(tmp_path / "captures"), "--alert-file", str(alerts), *enrichment_arguments(sandbox))
    assert added.exit_code == 0, added.output
    once = panelmap(url, "scheduler", "--once", "--log-dir", str(tmp_path / "logs"), "--format", "json")
    assert once.returncode == 0, once.stderr
    [job] = json.loads(once.stdout)
    assert (job["schedule"], job["status"], job["sites"], job["changes"]) == ("pair", "succeeded", 2, 2)
    assert job["services"] > 300 and job["alerts"] == {"jsonl": "appended 2"}
    assert json.loads(run(url, "jobs", "--format", "json").stdout)[0]["id"] == job["id"]
    database = Database.open(url)
    with database.session() as session:
        crawl_run = session.scalar(select(CrawlRun))
        assert (crawl_run.job_id, crawl_run.job_name, crawl_run.id) == (job["id"], "pair", job["run_id"])
    database.dispose()
    log = Path(job["log_path"]).read_text()
    assert f"--job pair --job-id {job['id']}" in log and f"job {job['id']} succeeded" in log
    lines = [json.loads(line) for line in alerts.read_text().splitlines()]
    assert sorted((line["site"], line["kind"], line["change"]) for line in lines) == [
        (site, "site", "new") for site in SITES]
    again = run(url, "scheduler", "--once", "--log-dir", str(tmp_path / "logs"), "--format", "json")
    assert again.exit_code == 0 and json.loads(again.stdout) == []  # the next slot is six hours away

    service_id = str(ground_truth["sites"][SITES[0]]["catalogue"][0]["service_id"])
    history = run(url, "services", "--site", SITES[0], "--history", service_id, "--format", "json")
    assert history.exit_code == 0, history.output
    [price] = json.loads(history.stdout)
    assert price["run_id"] == job["run_id"] and price["change_percent"] is None
    chart = tmp_path / "index.svg"
    index = run(url, "price-index", "--chart", str(chart), "--format", "json")
    assert index.exit_code == 0, index.output
    rows = json.loads(index.stdout)
    assert rows and all(row["services"] >= 1 for row in rows)
    assert chart.read_text().lstrip().startswith("<?xml") and "<svg" in chart.read_text()


def test_the_long_running_scheduler_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "panelmap", "--db", f"sqlite:///{tmp_path / 'panelmap.db'}", "scheduler", "--poll", "1",
         "--log-dir", str(tmp_path / "logs")], stderr=subprocess.PIPE, text=True)
    try:
        assert "running due crawls" in process.stderr.readline()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        process.kill()
        process.wait()
