"""Commands for recurring crawls and what they find: `schedule`, `scheduler`, `jobs`,
`changes`, `price-index`, and the price history behind `services --history`.

A thin shell over panelmap.schedules, .scheduler, .changes and .price_index.
"""

from __future__ import annotations

import os
import signal
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import click
from click.core import ParameterSource
from sqlalchemy import select

from panelmap.alerts import AlertTargets, WebhookPolicy, check_webhook_url, redact_webhook
from panelmap.changes import KINDS, compare_pending, list_changes
from panelmap.cli import AppContext, UserError
from panelmap.output import emit, format_option
from panelmap.price_index import PERIODS, price_index, write_chart
from panelmap.scheduler import Scheduler
from panelmap.schedules import (
    Recurrence,
    ScheduleError,
    add_schedule,
    list_schedules,
    parse_duration,
    pause_schedule,
    remove_schedule,
    resume_schedule,
)
from panelmap.spiders.secrets import Secrets
from panelmap.spiders.seeds import check_proxy_url, read_seeds_file
from panelmap.storage.models import Job, utcnow

# Crawl parameters the scheduler sets itself for each job.
SCHEDULER_OWNED = {"seeds", "seeds_file", "job", "job_id"}
JOB_STATUSES = ("running", "succeeded", "failed", "interrupted")
JOB_FIELDS = ["id", "schedule", "scheduled_for", "status", "started_at", "finished_at", "run_id", "sites",
              "services", "changes", "alerts", "error", "log_path"]
JOB_TABLE = ["id", "schedule", "scheduled_for", "status", "finished_at", "sites", "services", "changes", "error"]
CHANGE_FIELDS = ["id", "observed_at", "site", "run_id", "previous_run_id", "kind", "change", "subject", "old", "new",
                 "details", "summary"]
HISTORY_FIELDS = ["run_id", "observed_at", "source", "name", "rate", "rate_text", "currency", "rate_usd", "min", "max",
                  "change_percent"]


def fail(message: str) -> NoReturn:
    """One line on stderr, exit code 2."""
    raise UserError(message)


def parse_since(text: str | None, now: datetime) -> datetime | None:
    """`7d` (a duration back from now) or `2024-06-01` / an ISO time (UTC unless it says otherwise)."""
    if not text:
        return None
    try:
        return now - parse_duration(text)
    except ScheduleError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        fail(f"invalid --since {text!r}: use a duration (7d, 12h) or a date (2024-06-01)")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# --- schedule -------------------------------------------------------------------------


@click.group("schedule")
def schedule_group() -> None:
    """Recurring crawls: add, list, pause, resume, remove."""


def _long_flag(param: click.Option) -> str:
    return next((opt for opt in param.opts if opt.startswith("--")), param.opts[0])


def crawl_flags(command: click.Command, ctx: click.Context) -> dict[str, Any]:
    """The crawl options set on the command line (or from the config file), keyed by their
    `panelmap crawl` flag, paths made absolute: the scheduler's child gets them back as typed."""
    flags: dict[str, Any] = {}
    for param in command.params:
        if not isinstance(param, click.Option) or param.name in SCHEDULER_OWNED or param.name is None:
            continue
        if ctx.get_parameter_source(param.name) in (None, ParameterSource.DEFAULT):
            continue
        value = ctx.params[param.name]
        if param.is_flag:
            if param.secondary_opts:  # --autothrottle/--no-autothrottle
                flags[(param.opts if value else param.secondary_opts)[0]] = True
            elif value:
                flags[_long_flag(param)] = True
            continue
        if isinstance(param.type, click.Path) and value is not None:
            value = [os.path.abspath(item) for item in value] if param.multiple else os.path.abspath(value)
        flags[_long_flag(param)] = list(value) if param.multiple else value
    return flags


@schedule_group.command("add", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.argument("name", metavar="NAME [SITE]... [CRAWL OPTION]...")
@click.option("--every", metavar="DURATION", help="Run every DURATION (30m, 6h, 1d, 1h30m); the first run is due at once.")
@click.option("--cron", metavar="EXPRESSION", help='Run at each match of a five-field cron EXPRESSION, in UTC ("0 3 * * *").')
@click.option("--alert-file", type=click.Path(dir_okay=False), help="Append each change found as a JSON line to FILE.")
@click.option("--webhook", metavar="URL", help="POST each job's changes as JSON to URL (retried, time-bounded).")
@click.pass_context
def schedule_add(ctx: click.Context, name: str, every: str | None, cron: str | None, alert_file: str | None,
                 webhook: str | None) -> None:
    """Crawl SITE... (or --seeds FILE) on a schedule.

    Any `panelmap crawl` option (--proxy, --render, --secrets FILE, --warc-dir...) is
    checked now and stored with the schedule; a secrets file is stored by its path, never
    its content. The seeds are stored too: edit the file later and re-add to change them.
    """
    app: AppContext = ctx.obj
    try:
        recurrence = Recurrence.parse(every, cron)
        alerts = AlertTargets(jsonl=Path(alert_file).resolve() if alert_file else None,
                              webhook=check_webhook_url(webhook) if webhook else None)
    except ValueError as exc:
        fail(str(exc))
    root = ctx.find_root()
    crawl = root.command.get_command(root, "crawl")  # type: ignore[attr-defined]
    assert crawl is not None
    try:
        crawl_ctx = crawl.make_context("crawl", list(ctx.args), parent=root)
    except click.ClickException as exc:
        fail(f"schedule add: {exc.format_message()}")
    params = crawl_ctx.params
    if any(crawl_ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE for name in ("job", "job_id")):
        fail("schedule add: the scheduler names each job itself; drop --job")
    seeds = list(params["seeds"]) + (read_seeds_file(params["seeds_file"]) if params.get("seeds_file") else [])
    if params.get("proxy"):
        try:
            check_proxy_url(params["proxy"])
        except ValueError as exc:
            fail(str(exc))
    if params.get("secrets_file"):
        Secrets.load(params["secrets_file"])  # a broken file fails now, in one line, not at 3 a.m.
    database = app.open_database(migrate=True)
    try:
        with database.session() as session:
            schedule = add_schedule(session, name, seeds, recurrence, crawl_options=crawl_flags(crawl, crawl_ctx),
                                    alerts=alerts.as_options())
            description = Recurrence.of(schedule).describe()
            first, site_count = schedule.next_run_at, len(schedule.seeds)
    except ScheduleError as exc:
        fail(str(exc))
    if app.verbosity >= 0:
        assert first is not None
        click.echo(f"schedule {name}: {description}, {site_count} site(s), first run {first.isoformat()}")


@schedule_group.command("list")
@format_option
@click.pass_obj
def schedule_list(app: AppContext, format: str) -> None:
    """Every schedule: when it runs next, and how its last job went."""
    database = app.open_database()
    with database.session() as session:
        rows = list_schedules(session)
    for row in rows:
        if row["alerts"].get("webhook"):
            row["alerts"] = {**row["alerts"], "webhook": redact_webhook(row["alerts"]["webhook"])}
    columns = ["name", "recurrence", "sites", "state", "next_run_at", "last_status"]
    if format != "table":
        columns += ["paused", "last_run_at", "lease_owner", "lease_expires_at", "seeds", "crawl_options", "alerts"]
    emit(rows, columns, format, title="Schedules")


def _schedule_action(app: AppContext, name: str, action: Any, done: str) -> None:
    database = app.open_database()
    try:
        with database.session() as session:
            action(session, name)
    except ScheduleError as exc:
        fail(str(exc))
    if app.verbosity >= 0:
        click.echo(f"schedule {name}: {done}")


@schedule_group.command("pause")
@click.argument("name")
@click.pass_obj
def schedule_pause(app: AppContext, name: str) -> None:
    """Start no more jobs for NAME (a running one finishes)."""
    _schedule_action(app, name, pause_schedule, "paused")


@schedule_group.command("resume")
@click.argument("name")
@click.pass_obj
def schedule_resume(app: AppContext, name: str) -> None:
    """Run NAME again, from now on (runs missed while paused are not caught up)."""
    _schedule_action(app, name, resume_schedule, "resumed")


@schedule_group.command("remove")
@click.argument("name")
@click.pass_obj
def schedule_remove(app: AppContext, name: str) -> None:
    """Delete NAME; its past jobs and their logs stay."""
    _schedule_action(app, name, remove_schedule, "removed")


# --- scheduler and jobs -----------------------------------------------------------------


def list_jobs(session: Any, *, schedule: str | None = None, status: str | None = None, limit: int = 50,
              ids: list[int] | None = None) -> list[dict[str, Any]]:
    """The newest jobs first, with what their crawl did (the `jobs --format json` contract)."""
    query = select(Job).order_by(Job.id.desc()).limit(limit)
    if schedule:
        query = query.where(Job.name == schedule)
    if status:
        query = query.where(Job.status == status)
    if ids is not None:
        query = query.where(Job.id.in_(ids))
    return [
        {"id": job.id, "schedule": job.name, "scheduled_for": job.scheduled_for, "status": job.status,
         "started_at": job.started_at, "finished_at": job.finished_at, "run_id": job.counts.get("run_id"),
         "sites": job.counts.get("sites"), "services": job.counts.get("services"),
         "changes": job.counts.get("changes"), "alerts": job.counts.get("alerts"), "counts": job.counts,
         "error": job.error, "log_path": job.log_path}
        for job in session.scalars(query)
    ]


@click.command("scheduler")
@click.option("--once", is_flag=True, help="Run what is due now, then exit (for cron jobs and tests).")
@click.option("--max-jobs", type=click.IntRange(1, 32), default=1, show_default=True, help="Crawls run at the same time.")
@click.option("--log-dir", type=click.Path(file_okay=False), default="panelmap-jobs", show_default=True,
              help="Where each job's log file goes.")
@click.option("--poll", type=click.FloatRange(1, 3600), default=30.0, show_default=True,
              help="Longest wait, in seconds, between two looks at the schedules.")
@click.option("--job-timeout", metavar="DURATION", help="Stop a crawl that runs longer than DURATION (e.g. 6h).")
@click.option("--webhook-timeout", type=click.FloatRange(1, 600), default=20.0, show_default=True,
              help="Seconds one webhook delivery may take, retries included.")
@format_option
@click.pass_context
def scheduler_command(ctx: click.Context, once: bool, max_jobs: int, log_dir: str, poll: float,
                      job_timeout: str | None, webhook_timeout: float, format: str) -> None:
    """Start scheduled crawls when they are due, until stopped (Ctrl-C or SIGTERM).

    Several schedulers may share one database: a lease keeps each schedule to one of
    them at a time. With --once, exits 1 if a job did not succeed.
    """
    app: AppContext = ctx.obj
    try:
        timeout = parse_duration(job_timeout) if job_timeout else None
    except ScheduleError as exc:
        fail(str(exc))
    database = app.open_database(migrate=True)
    scheduler = Scheduler(database, log_dir=log_dir, max_jobs=max_jobs, job_timeout=timeout,
                          webhook_policy=WebhookPolicy(budget=webhook_timeout))
    if once:
        job_ids = scheduler.run_due()
        with database.session() as session:
            rows = list_jobs(session, ids=job_ids, limit=max(1, len(job_ids)))
        if app.verbosity >= 0 or format != "table":
            emit(rows, JOB_TABLE if format == "table" else JOB_FIELDS, format, title="Jobs run")
        if any(row["status"] != "succeeded" for row in rows):
            ctx.exit(1)
        return
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    if app.verbosity >= 0:
        click.echo(f"scheduler {scheduler.owner}: running due crawls, logs in {scheduler.log_dir}; Ctrl-C stops",
                   err=True)
    scheduler.serve(stop, poll=poll)


@click.command("jobs")
@click.option("--schedule", "schedule_name", metavar="NAME", help="Only this schedule's jobs.")
@click.option("--status", type=click.Choice(JOB_STATUSES), help="Only jobs in this state.")
@click.option("--limit", type=click.IntRange(1), default=50, show_default=True, help="How many of the newest jobs.")
@format_option
@click.pass_obj
def jobs_command(app: AppContext, schedule_name: str | None, status: str | None, limit: int, format: str) -> None:
    """Scheduled crawl jobs, newest first: status, counts, errors and log files."""
    database = app.open_database()
    with database.session() as session:
        rows = list_jobs(session, schedule=schedule_name, status=status, limit=limit)
    emit(rows, JOB_TABLE if format == "table" else JOB_FIELDS, format, title="Jobs")


# --- changes and prices -------------------------------------------------------------------


@click.command("changes")
@click.option("--since", metavar="DURATION|DATE", help="Only changes seen in the last DURATION (7d, 12h) or since DATE.")
@click.option("--site", help="Only this site (domain).")
@click.option("--kind", type=click.Choice(KINDS), help="Only this kind of change.")
@click.option("--run", "run_id", type=int, help="Only the changes a given crawl run found.")
@format_option
@click.pass_obj
def changes_command(app: AppContext, since: str | None, site: str | None, kind: str | None, run_id: int | None,
                    format: str) -> None:
    """What changed between consecutive crawls of each site: prices, services, hosting,
    name servers, certificates, payment rails, upstream links, sites new or gone.

    Crawls not compared yet (run by hand, say) are compared first, and the result kept.
    """
    moment = parse_since(since, utcnow())
    database = app.open_database()
    with database.session() as session:
        compare_pending(session)
    with database.session() as session:
        rows = list_changes(session, since=moment, site=site, kind=kind, run_id=run_id)
    columns = ["observed_at", "site", "kind", "change", "subject", "summary"] if format == "table" else CHANGE_FIELDS
    emit(rows, columns, format, title="Changes")


@click.command("price-index")
@click.option("--platform", help="Only this platform (spotify, instagram, youtube...).")
@click.option("--metric", help="Only this metric (plays, followers, views...).")
@click.option("--period", type=click.Choice(PERIODS), default="day", show_default=True, help="One index value per ...")
@click.option("--since", metavar="DURATION|DATE", help="Only prices seen in the last DURATION (30d) or since DATE.")
@click.option("--chart", type=click.Path(dir_okay=False), help="Also draw the index to FILE (.svg or .png).")
@format_option
@click.pass_obj
def price_index_command(app: AppContext, platform: str | None, metric: str | None, period: str, since: str | None,
                        chart: str | None, format: str) -> None:
    """Median price per 1000 (USD) by platform and metric over time, e.g. Spotify plays."""
    if chart and Path(chart).suffix.lower() not in (".svg", ".png"):
        fail(f"--chart {chart}: use a .svg or .png file name")
    moment = parse_since(since, utcnow())
    database = app.open_database()
    with database.session() as session:
        rows = price_index(session, platform=platform, metric=metric, period=period, since=moment)
    emit(rows, ["period", "platform", "metric", "median_usd", "services", "sites"], format, title="Price index")
    if chart:
        subject = " ".join(filter(None, [platform, metric])) or "all services"
        write_chart(rows, Path(chart), title=f"Median price per 1000 (USD): {subject}")
