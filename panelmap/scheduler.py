"""The scheduler: starts due crawls, each in a child process, and records what they did.

    scheduler = Scheduler(database, log_dir=Path("panelmap-jobs"))
    scheduler.run_due()        # `panelmap scheduler --once`: what is due now, then return
    scheduler.serve(stop)      # `panelmap scheduler`: until `stop` is set

How it keeps its promises:
- Never one schedule twice at once, even with several schedulers on one database. A
  scheduler claims a due schedule with one conditional UPDATE (`SET lease_owner = me ...
  WHERE next_run_at <= now AND the lease has expired`). SQLite lets one writer at a time
  run it; on PostgreSQL the loser blocks on the row lock, re-checks the WHERE against the
  winner's row and updates nothing. The lease is renewed while the crawl runs; a scheduler
  that loses it (stalled, or the schedule was removed) stops its crawl. Job's unique
  (schedule_id, scheduled_for) is the second guard: a slot has one job, ever.
- No run repeated after a restart: the claim advances next_run_at in the transaction that
  creates the job, so a slot is spent the moment its job exists.
- No run missed: a slot whose claim never committed stays due, and the slots missed
  while no scheduler ran collapse into one run at start (`Recurrence.after`).
- A job whose scheduler died is marked interrupted once its lease has run out.

Each crawl is `python -m panelmap crawl ... --job NAME --job-id ID` in a child process
(Scrapy's reactor runs once per process), its output in a log file per job. The runner
is injectable, as is the clock, so tests drive all of this without real crawls or waits.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError

from panelmap.alerts import DEFAULT_WEBHOOK_POLICY, AlertTargets, WebhookPolicy, deliver_alerts
from panelmap.changes import list_changes, record_changes
from panelmap.schedules import Recurrence
from panelmap.storage import ENV_VAR, Database
from panelmap.storage.models import CrawlRun, Job, Schedule, SiteCrawl, utcnow

log = logging.getLogger(__name__)

DEFAULT_LEASE = timedelta(minutes=2)
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class JobRequest:
    """What a runner needs for one job: seeds and options, nothing in memory."""

    job_id: int
    name: str
    seeds: list[str]
    crawl_options: dict[str, Any]  # `panelmap crawl` flags as stored in the schedule
    log_path: Path
    alerts: dict[str, Any] = field(default_factory=dict)


JobRunner = Callable[[JobRequest, threading.Event], str | None]
"""Runs one job's crawl; returns None on success, else a one-line error. When the event
is set it must stop the crawl soon and return."""


def crawl_arguments(options: Mapping[str, Any]) -> list[str]:
    """`{"--proxy": "http://p:3128", "--no-autothrottle": True}` -> `["--proxy", "http://p:3128", "--no-autothrottle"]`."""
    arguments: list[str] = []
    for flag, value in options.items():
        if value is True:
            arguments.append(flag)
        elif isinstance(value, list):
            for item in value:
                arguments += [flag, str(item)]
        elif value is not None and value is not False:
            arguments += [flag, str(value)]
    return arguments


def _last_line(path: Path) -> str | None:
    try:
        lines = [line.strip() for line in path.read_text(encoding="utf-8", errors="replace").splitlines()]
    except OSError:
        return None
    return next((line for line in reversed(lines) if line), None)


class CrawlProcessRunner:
    """Runs a job as `python -m panelmap crawl ...`, output appended to the job's log.

    The database URL reaches the child through $PANELMAP_DATABASE_URL rather than `--db`,
    so a password in it shows neither in `ps` nor in the log.
    """

    def __init__(self, database_url: str, *, python: str = sys.executable, stop_grace: float = 30.0) -> None:
        self.database_url = database_url
        self.python = python
        self.stop_grace = stop_grace

    def command(self, request: JobRequest) -> list[str]:
        return [self.python, "-m", "panelmap", "-v", "crawl", *request.seeds, "--job", request.name,
                "--job-id", str(request.job_id), *crawl_arguments(request.crawl_options)]

    def __call__(self, request: JobRequest, cancel: threading.Event) -> str | None:
        command = self.command(request)
        with request.log_path.open("a", encoding="utf-8") as log_file:
            log_file.write(f"$ {' '.join(command[1:])}\n")
            log_file.flush()
            # Its own session: Ctrl-C at the scheduler's terminal reaches the scheduler, which stops the crawl in order.
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
                                       env={**os.environ, ENV_VAR: self.database_url}, start_new_session=True)
            while True:
                try:
                    code = process.wait(timeout=0.5)
                    break
                except subprocess.TimeoutExpired:
                    if cancel.is_set():
                        process.terminate()  # Scrapy closes the spider, and the run is marked interrupted
                        try:
                            process.wait(self.stop_grace)
                        except subprocess.TimeoutExpired:
                            process.kill()
                            process.wait()
                        return "the crawl was stopped"
        if code == 0:
            return None
        return _last_line(request.log_path) or f"the crawl exited with code {code}"


def run_counts(session: Any, run_id: int) -> dict[str, Any]:
    """What a crawl run did, for Job.counts: sites by outcome and services found."""
    counts: dict[str, Any] = {"run_id": run_id, "sites": 0, "complete": 0, "partial": 0, "failed": 0, "services": 0}
    query = (select(SiteCrawl.status, func.count(), func.coalesce(func.sum(SiteCrawl.services), 0))
             .where(SiteCrawl.run_id == run_id).group_by(SiteCrawl.status))
    for status, sites, services in session.execute(query):
        counts[status] = counts.get(status, 0) + sites
        counts["sites"] += sites
        counts["services"] += int(services)
    return counts


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")[:60] or "job"


class Scheduler:
    """Claims due schedules under a lease, runs their jobs, records outcomes, changes and alerts."""

    def __init__(self, database: Database, *, runner: JobRunner | None = None, clock: Clock = utcnow,
                 owner: str | None = None, lease: timedelta = DEFAULT_LEASE, log_dir: Path | str = "panelmap-jobs",
                 max_jobs: int = 1, job_timeout: timedelta | None = None,
                 webhook_policy: WebhookPolicy = DEFAULT_WEBHOOK_POLICY) -> None:
        self.database = database
        self.runner = runner or CrawlProcessRunner(database.engine.url.render_as_string(hide_password=False))
        self.clock = clock
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.lease = lease
        self.log_dir = Path(log_dir).resolve()
        self.max_jobs = max_jobs
        self.job_timeout = job_timeout
        self.webhook_policy = webhook_policy
        self._stopping = threading.Event()

    # -- claiming ----------------------------------------------------------------------

    def due(self, due_by: datetime | None = None) -> list[int]:
        """Ids of the schedules due by `due_by` (default now) that no live lease holds, most overdue first."""
        now = self.clock()
        with self.database.session() as session:
            return list(session.scalars(
                select(Schedule.id)
                .where(Schedule.paused.is_(False), Schedule.next_run_at <= (due_by or now),
                       or_(Schedule.lease_expires_at.is_(None), Schedule.lease_expires_at < now))
                .order_by(Schedule.next_run_at, Schedule.id)
            ))

    def claim(self, schedule_id: int, due_by: datetime | None = None) -> JobRequest | None:
        """Take the lease of a due schedule, create the job of its slot and move the schedule
        to its next slot, in one transaction; None when another scheduler got there first."""
        now = self.clock()
        try:
            with self.database.session() as session:
                won = session.execute(
                    update(Schedule)
                    .where(Schedule.id == schedule_id, Schedule.paused.is_(False),
                           Schedule.next_run_at <= (due_by or now),
                           or_(Schedule.lease_expires_at.is_(None), Schedule.lease_expires_at < now))
                    .values(lease_owner=self.owner, lease_expires_at=now + self.lease)
                    .execution_options(synchronize_session=False)
                ).rowcount
                if not won:
                    return None
                schedule = session.get_one(Schedule, schedule_id)
                slot = schedule.next_run_at
                assert slot is not None
                job = Job(name=schedule.name, schedule_id=schedule.id, scheduled_for=slot, status="running",
                          seeds=list(schedule.seeds), options=dict(schedule.options), created_at=now, started_at=now)
                session.add(job)
                session.flush()  # the unique (schedule_id, scheduled_for) speaks here
                job.log_path = str(self.log_dir / f"{job.id:06d}-{_slug(schedule.name)}.log")
                schedule.next_run_at = Recurrence.of(schedule).after(slot, now)
                schedule.last_run_at = now
                return JobRequest(job.id, schedule.name, list(schedule.seeds), dict(schedule.options.get("crawl", {})),
                                  Path(job.log_path), dict(schedule.options.get("alerts", {})))
        except IntegrityError:
            self._skip_spent_slot(schedule_id)
            return None

    def _skip_spent_slot(self, schedule_id: int) -> None:
        """A slot that already has a job is never run again: move the schedule past it."""
        now = self.clock()
        with self.database.session() as session:
            schedule = session.get(Schedule, schedule_id)
            if schedule is not None and schedule.next_run_at is not None and schedule.next_run_at <= now:
                log.warning("schedule %s: slot %s already has a job; skipping it", schedule.name, schedule.next_run_at)
                schedule.next_run_at = Recurrence.of(schedule).after(schedule.next_run_at, now)

    def recover(self) -> int:
        """Mark interrupted the running jobs whose schedule's lease has run out (their scheduler died)."""
        now = self.clock()
        unleased = select(Schedule.id).where(or_(Schedule.lease_expires_at.is_(None), Schedule.lease_expires_at < now))
        with self.database.session() as session:
            return session.execute(
                update(Job)
                .where(Job.status == "running", Job.schedule_id.in_(unleased))
                .values(status="interrupted", finished_at=now,
                        error="the scheduler running this job stopped before it finished")
                .execution_options(synchronize_session=False)
            ).rowcount

    def _renew(self, schedule_id: int) -> bool:
        with self.database.session() as session:
            return bool(session.execute(
                update(Schedule)
                .where(Schedule.id == schedule_id, Schedule.lease_owner == self.owner)
                .values(lease_expires_at=self.clock() + self.lease)
                .execution_options(synchronize_session=False)
            ).rowcount)

    def _release(self, session: Any, schedule_id: int) -> None:
        session.execute(
            update(Schedule)
            .where(Schedule.id == schedule_id, Schedule.lease_owner == self.owner)
            .values(lease_owner=None, lease_expires_at=None)
            .execution_options(synchronize_session=False)
        )

    # -- running -----------------------------------------------------------------------

    def execute(self, request: JobRequest) -> str:
        """Run a claimed job to its end and record it; returns its final status. Never raises
        for what the crawl did: a failing job is a row that says so."""
        request.log_path.parent.mkdir(parents=True, exist_ok=True)
        with request.log_path.open("a", encoding="utf-8") as log_file:
            log_file.write(f"job {request.job_id} ({request.name}) started {self.clock().isoformat()} by {self.owner}\n")
        log.info("job %s (%s) started: %s", request.job_id, request.name, request.log_path)
        cancel, done = threading.Event(), threading.Event()
        stopped_because: list[str] = []
        with self.database.session() as session:
            schedule_id = session.get_one(Job, request.job_id).schedule_id
        watcher = threading.Thread(target=self._watch, args=(schedule_id, cancel, done, stopped_because),
                                   name=f"job-{request.job_id}-lease", daemon=True)
        watcher.start()
        try:
            try:
                error = self.runner(request, cancel)
            except Exception as exc:  # a broken runner fails its job, not the scheduler
                log.exception("job %s: the runner failed", request.job_id)
                error = f"{type(exc).__name__}: {exc}"
            status = "interrupted" if stopped_because else "failed" if error else "succeeded"
            # The lease stays renewed while changes are compared and alerts sent.
            return self._finish(request, schedule_id, status, stopped_because[0] if stopped_because else error)
        finally:
            done.set()
            watcher.join()

    def _watch(self, schedule_id: int | None, cancel: threading.Event, done: threading.Event,
               stopped_because: list[str]) -> None:
        """Keep the lease while the job runs; stop the job when the lease is lost, the job
        outruns its time limit, or the scheduler is stopping."""
        started = last_renewal = time.monotonic()
        renew_every = max(1.0, self.lease.total_seconds() / 3)
        while not done.wait(1.0):
            reason = None
            if self._stopping.is_set():
                reason = "the scheduler was stopped"
            elif self.job_timeout and time.monotonic() - started > self.job_timeout.total_seconds():
                reason = f"the job ran longer than its limit of {self.job_timeout}"
            elif time.monotonic() - last_renewal >= renew_every:
                last_renewal = time.monotonic()
                if schedule_id is None or not self._renew(schedule_id):
                    reason = "the scheduler lost the schedule's lease (removed, or taken over by another scheduler)"
            if reason:
                stopped_because.append(reason)
                cancel.set()
                return

    def _finish(self, request: JobRequest, schedule_id: int | None, status: str, error: str | None) -> str:
        counts: dict[str, Any] = {}
        changes: list[dict[str, Any]] = []
        with self.database.session() as session:
            run_id = session.scalar(select(func.max(CrawlRun.id)).where(CrawlRun.job_id == request.job_id))
            if run_id is not None:
                counts = run_counts(session, run_id)
        if run_id is not None:
            try:
                with self.database.session() as session:
                    record_changes(session, run_id)
                    changes = list_changes(session, run_id=run_id)
                counts["changes"] = len(changes)
            except Exception as exc:  # the crawl's record must not be lost to a failed comparison
                log.exception("job %s: comparing run %s failed", request.job_id, run_id)
                counts["changes_error"] = f"{type(exc).__name__}: {exc}"
        targets = AlertTargets.from_options(request.alerts)
        if changes and (targets.jsonl or targets.webhook):  # outside any transaction: a slow webhook holds no lock
            payload = {"schedule": request.name, "job_id": request.job_id, "run_id": run_id, "changes": changes}
            counts["alerts"] = deliver_alerts(targets, payload, policy=self.webhook_policy)
        with self.database.session() as session:
            job = session.get_one(Job, request.job_id)
            job.status, job.error, job.counts, job.finished_at = status, error, counts, self.clock()
            if schedule_id is not None:
                self._release(session, schedule_id)
        summary = f"job {request.job_id} {status}" + (f": {error}" if error else "") + f" {counts}"
        with request.log_path.open("a", encoding="utf-8") as log_file:
            log_file.write(summary + "\n")
        (log.warning if status != "succeeded" else log.info)(summary)
        return status

    def _claim_next(self, due_by: datetime) -> JobRequest | None:
        for schedule_id in self.due(due_by):
            request = self.claim(schedule_id, due_by)
            if request is not None:
                return request
        return None

    def run_due(self) -> list[int]:
        """Run every job due now, `max_jobs` at a time; returns their ids once all have ended.

        Only slots due when it starts: a schedule that falls due again meanwhile waits for
        the next call, so `--once` always ends."""
        self.recover()
        cutoff = self.clock()
        job_ids: list[int] = []
        lock = threading.Lock()

        def worker() -> None:
            while (request := self._claim_next(cutoff)) is not None:
                with lock:
                    job_ids.append(request.job_id)
                self.execute(request)

        with ThreadPoolExecutor(self.max_jobs, thread_name_prefix="panelmap-job") as pool:
            for future in [pool.submit(worker) for _ in range(self.max_jobs)]:
                future.result()
        return sorted(job_ids)

    def serve(self, stop: threading.Event, *, poll: float = 30.0) -> None:
        """Run due jobs until `stop` is set; then stop running crawls, record them as
        interrupted and release their leases before returning."""
        log.info("scheduler %s: watching schedules in %s", self.owner, self.database.url)
        running: set[Future[str]] = set()
        with ThreadPoolExecutor(self.max_jobs, thread_name_prefix="panelmap-job") as pool:
            while not stop.is_set():
                pause = poll
                try:
                    self.recover()
                    running = {future for future in running if not future.done()}
                    while len(running) < self.max_jobs and (request := self._claim_next(self.clock())) is not None:
                        running.add(pool.submit(self.execute, request))
                    pause = self._pause(poll)
                except Exception:  # a database hiccup is retried at the next look
                    log.exception("scheduler: could not look at the schedules; trying again in %.0fs", poll)
                stop.wait(pause)
            self._stopping.set()

    def _pause(self, poll: float) -> float:
        """Seconds until the next look: the next slot, at most `poll`, at least one second."""
        with self.database.session() as session:
            upcoming = session.scalar(select(func.min(Schedule.next_run_at)).where(Schedule.paused.is_(False)))
        if upcoming is None:
            return poll
        return min(poll, max(1.0, (upcoming - self.clock()).total_seconds()))
