"""The scheduler with a controllable clock and a stand-in for the crawl: on time, catch-up
after downtime, no repeat after a restart, leases between schedulers (both databases)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from panelmap.scheduler import JobRequest, Scheduler, crawl_arguments
from panelmap.schedules import (
    Recurrence,
    ScheduleError,
    add_schedule,
    format_duration,
    list_schedules,
    parse_duration,
    pause_schedule,
    remove_schedule,
    resume_schedule,
)
from panelmap.storage import Database, upsert_site
from panelmap.storage.models import CrawlRun, Job, Schedule, SiteCrawl

T0 = datetime(2024, 6, 15, 3, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> None:
        self.now += by


class Runner:
    """Stands in for the crawl: records each request, optionally takes its time or fails."""

    def __init__(self, seconds: float = 0.0, error: str | None = None) -> None:
        self.seconds, self.error = seconds, error
        self.requests: list[JobRequest] = []
        self._lock = threading.Lock()
        self.running: Counter[str] = Counter()
        self.most_at_once: Counter[str] = Counter()

    def __call__(self, request: JobRequest, cancel: threading.Event) -> str | None:
        with self._lock:
            self.requests.append(request)
            self.running[request.name] += 1
            self.most_at_once[request.name] = max(self.most_at_once[request.name], self.running[request.name])
        with request.log_path.open("a") as log:
            log.write(f"crawling {request.seeds}\n")
        cancel.wait(self.seconds)
        with self._lock:
            self.running[request.name] -= 1
        return self.error


def add(database: Database, name: str, clock: Clock, *, every: str | None = "1h", cron: str | None = None,
        seeds: list[str] | None = None) -> None:
    with database.session() as session:
        add_schedule(session, name, seeds or ["panel.example"], Recurrence.parse(every=None if cron else every, cron=cron),
                     crawl_options={"--render": "never"}, now=clock())


def jobs(database: Database) -> list[tuple[str, datetime, str]]:
    with database.session() as session:
        return [(job.name, job.scheduled_for, job.status) for job in session.scalars(select(Job).order_by(Job.id))]


def next_run(database: Database, name: str) -> datetime | None:
    with database.session() as session:
        return session.scalar(select(Schedule.next_run_at).where(Schedule.name == name))


@pytest.fixture
def clock() -> Clock:
    return Clock()


def scheduler(database: Database, clock: Clock, runner: Runner, tmp_path: Path, **options) -> Scheduler:
    return Scheduler(database, runner=runner, clock=clock, log_dir=tmp_path / "logs", **options)


# --- recurrences -------------------------------------------------------------------------


def test_durations_and_recurrences() -> None:
    assert parse_duration("6h") == timedelta(hours=6)
    assert parse_duration("1h30m") == timedelta(minutes=90)
    assert format_duration(int(timedelta(days=1, minutes=30).total_seconds())) == "1d30m"
    for bad in ("", "6", "h", "6x", "-1h"):
        with pytest.raises(ScheduleError):
            parse_duration(bad)
    every = Recurrence.parse(every="6h")
    assert every.first(T0) == T0 and every.after(T0, T0) == T0 + 6 * HOUR
    assert every.after(T0, T0 + 20 * HOUR) == T0 + 24 * HOUR  # missed slots collapse; the grid is kept
    nightly = Recurrence.parse(cron="0  3 * * *")
    assert nightly.cron == "0 3 * * *" and nightly.describe() == "cron 0 3 * * *"
    assert nightly.first(T0) == T0 + 24 * HOUR  # strictly after now
    assert nightly.after(T0, T0 + 50 * HOUR) == T0 + 72 * HOUR
    for every_text, cron_text in (("10s", None), (None, "61 * * * *"), (None, "* * * *"), (None, "0 0 30 2 *"),
                                  ("1h", "* * * * *"), (None, None)):
        with pytest.raises(ScheduleError):
            Recurrence.parse(every=every_text, cron=cron_text)


def test_crawl_arguments_are_the_stored_flags_as_typed() -> None:
    stored = {"--proxy": "http://127.0.0.1:3128", "--no-autothrottle": True, "--retries": 1, "--header": ["a", "b"]}
    assert crawl_arguments(stored) == ["--proxy", "http://127.0.0.1:3128", "--no-autothrottle", "--retries", "1",
                                       "--header", "a", "--header", "b"]


# --- running on time -----------------------------------------------------------------------


def test_a_schedule_runs_on_time_and_not_before(database: Database, clock: Clock, tmp_path: Path) -> None:
    runner = Runner()
    add(database, "hourly", clock)
    add(database, "nightly", clock, cron="30 4 * * *")
    sched = scheduler(database, clock, runner, tmp_path)
    assert sched.run_due() and jobs(database) == [("hourly", T0, "succeeded")]  # `every`: due at once
    clock.advance(timedelta(minutes=59))
    assert sched.run_due() == []
    clock.advance(timedelta(minutes=31))  # 04:30
    sched.run_due()
    assert jobs(database)[1:] == [("hourly", T0 + HOUR, "succeeded"), ("nightly", T0 + timedelta(minutes=90), "succeeded")]
    assert next_run(database, "nightly") == T0 + timedelta(days=1, minutes=90)
    request = runner.requests[0]
    assert (request.seeds, request.crawl_options) == (["panel.example"], {"--render": "never"})
    with database.session() as session:
        job = session.get_one(Job, request.job_id)
        assert Path(job.log_path).read_text().startswith(f"job {job.id} (hourly) started")
        assert f"job {job.id} succeeded" in Path(job.log_path).read_text()


def test_missed_runs_are_caught_up_once_and_a_restart_repeats_nothing(database: Database, clock: Clock,
                                                                     tmp_path: Path) -> None:
    add(database, "hourly", clock)
    scheduler(database, clock, Runner(), tmp_path).run_due()
    clock.advance(5 * HOUR + timedelta(minutes=30))  # the scheduler was down for five slots
    restarted = scheduler(database, clock, Runner(), tmp_path)
    assert len(restarted.run_due()) == 1
    assert jobs(database) == [("hourly", T0, "succeeded"), ("hourly", T0 + HOUR, "succeeded")]
    assert next_run(database, "hourly") == T0 + 6 * HOUR
    assert scheduler(database, clock, Runner(), tmp_path).run_due() == []  # a second restart: nothing to repeat


def test_a_job_whose_scheduler_died_is_not_rerun_and_is_marked_interrupted(database: Database, clock: Clock,
                                                                          tmp_path: Path) -> None:
    add(database, "hourly", clock)
    crashed = scheduler(database, clock, Runner(), tmp_path, lease=timedelta(minutes=2))
    [schedule_id] = crashed.due()
    assert crashed.claim(schedule_id) is not None  # claimed, then the process died before running it
    other = scheduler(database, clock, Runner(), tmp_path)
    assert other.run_due() == [] and jobs(database) == [("hourly", T0, "running")]  # the lease still holds
    clock.advance(timedelta(minutes=3))
    assert other.run_due() == []
    assert jobs(database) == [("hourly", T0, "interrupted")]  # recorded, and the slot is not run again
    clock.advance(HOUR)
    assert len(other.run_due()) == 1


def test_paused_schedules_wait_and_resume_from_now(database: Database, clock: Clock, tmp_path: Path) -> None:
    add(database, "hourly", clock)
    with database.session() as session:
        pause_schedule(session, "hourly")
    sched = scheduler(database, clock, Runner(), tmp_path)
    assert sched.run_due() == []
    clock.advance(3 * HOUR)
    with database.session() as session:
        resume_schedule(session, "hourly", now=clock())
        assert list_schedules(session, now=clock())[0]["state"] == "waiting"
    sched.run_due()
    assert jobs(database) == [("hourly", T0 + 3 * HOUR, "succeeded")]  # nothing from the paused hours
    with database.session() as session:
        remove_schedule(session, "hourly")
        with pytest.raises(ScheduleError, match="no schedule named"):
            pause_schedule(session, "hourly")
    assert jobs(database) == [("hourly", T0 + 3 * HOUR, "succeeded")]  # jobs outlive their schedule


def test_failed_crawls_and_broken_runners_are_recorded_not_raised(database: Database, clock: Clock,
                                                                  tmp_path: Path) -> None:
    add(database, "failing", clock)
    scheduler(database, clock, Runner(error="Error: cannot connect to proxy"), tmp_path).run_due()

    def broken(request: JobRequest, cancel: threading.Event) -> str | None:
        raise RuntimeError("runner bug")

    clock.advance(HOUR)
    Scheduler(database, runner=broken, clock=clock, log_dir=tmp_path).run_due()
    with database.session() as session:
        errors = [(job.status, job.error) for job in session.scalars(select(Job).order_by(Job.id))]
        assert errors == [("failed", "Error: cannot connect to proxy"), ("failed", "RuntimeError: runner bug")]
        assert session.scalar(select(Schedule.lease_owner)) is None  # leases released either way


def test_counts_come_from_the_crawl_run_linked_to_the_job(database: Database, clock: Clock, tmp_path: Path) -> None:
    def crawl(request: JobRequest, cancel: threading.Event) -> str | None:
        with database.session() as session:
            run = CrawlRun(job_id=request.job_id, job_name=request.name, status="finished")
            session.add(run)
            session.flush()
            for domain, status, services in (("a.example", "complete", 10), ("b.example", "failed", 0)):
                session.add(SiteCrawl(run_id=run.id, site_id=upsert_site(session, domain), status=status,
                                      services=services))
        return None

    add(database, "pair", clock, seeds=["a.example", "b.example"])
    [job_id] = Scheduler(database, runner=crawl, clock=clock, log_dir=tmp_path).run_due()
    with database.session() as session:
        counts = session.get_one(Job, job_id).counts
    assert {key: counts[key] for key in ("sites", "complete", "failed", "services", "changes")} == {
        "sites": 2, "complete": 1, "failed": 1, "services": 10, "changes": 1}  # a.example is new


def test_a_job_that_loses_its_lease_or_outruns_its_limit_is_stopped(database: Database, clock: Clock,
                                                                    tmp_path: Path) -> None:
    slow = Runner(seconds=30)
    add(database, "removed-while-running", clock)
    sched = scheduler(database, clock, slow, tmp_path, lease=timedelta(seconds=3))
    worker = threading.Thread(target=sched.run_due)
    worker.start()
    while not slow.requests:
        time.sleep(0.05)
    with database.session() as session:
        remove_schedule(session, "removed-while-running")
    worker.join(20)
    add(database, "too-long", clock)
    started = time.monotonic()
    scheduler(database, clock, slow, tmp_path, job_timeout=timedelta(seconds=1)).run_due()
    assert time.monotonic() - started < 10
    with database.session() as session:
        outcomes = [(job.status, job.error) for job in session.scalars(select(Job).order_by(Job.id))]
    assert outcomes[0][0] == "interrupted" and "lost the schedule's lease" in outcomes[0][1]
    assert outcomes[1][0] == "interrupted" and "longer than its limit" in outcomes[1][1]


def test_a_serving_scheduler_runs_due_jobs_and_stops_a_running_one_when_told(database: Database, clock: Clock,
                                                                             tmp_path: Path) -> None:
    slow = Runner(seconds=30)
    add(database, "hourly", clock)
    sched = scheduler(database, clock, slow, tmp_path)
    stop = threading.Event()
    serving = threading.Thread(target=sched.serve, args=(stop,), kwargs={"poll": 1.0})
    serving.start()
    while not slow.requests:
        time.sleep(0.05)
    stop.set()
    serving.join(15)
    assert not serving.is_alive()
    with database.session() as session:
        job = session.scalars(select(Job)).one()
        assert (job.status, job.error) == ("interrupted", "the scheduler was stopped")
        assert session.scalar(select(Schedule.lease_owner)) is None


def test_a_slot_that_already_has_a_job_is_skipped_not_run_twice(database: Database, clock: Clock,
                                                               tmp_path: Path) -> None:
    add(database, "hourly", clock)
    with database.session() as session:  # as if the slot ran but next_run_at was put back (by hand, say)
        schedule = session.scalars(select(Schedule)).one()
        session.add(Job(name="hourly", schedule_id=schedule.id, scheduled_for=T0, status="succeeded"))
    runner = Runner()
    assert scheduler(database, clock, runner, tmp_path).run_due() == [] and runner.requests == []
    assert next_run(database, "hourly") == T0 + HOUR


# --- several schedulers on one database -------------------------------------------------------


def test_only_one_of_many_racing_claims_wins(database: Database, clock: Clock, tmp_path: Path) -> None:
    add(database, "contested", clock)
    contenders = [Scheduler(Database.open(database.engine.url.render_as_string(hide_password=False)),
                            runner=Runner(), clock=clock, owner=f"scheduler-{n}", log_dir=tmp_path) for n in range(8)]
    [schedule_id] = contenders[0].due()
    start = threading.Barrier(len(contenders))
    won: list[JobRequest] = []

    def race(contender: Scheduler) -> None:
        start.wait()
        request = contender.claim(schedule_id)
        if request is not None:
            won.append(request)

    threads = [threading.Thread(target=race, args=(contender,)) for contender in contenders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1
    for contender in contenders:
        contender.database.dispose()


@pytest.mark.postgres
def test_two_schedulers_on_postgresql_never_double_run(postgres_url: str, tmp_path: Path) -> None:
    database = Database.open(postgres_url)
    database.upgrade()
    clock, runner = Clock(), Runner(seconds=0.3)
    names = [f"schedule-{n}" for n in range(6)]
    for name in names:
        add(database, name, clock)
    schedulers = [Scheduler(Database.open(postgres_url), runner=runner, clock=clock, owner=owner, max_jobs=3,
                            log_dir=tmp_path) for owner in ("alpha", "beta")]
    for _ in range(3):  # three slots, each raced by both schedulers
        start = threading.Barrier(2)

        def run(sched: Scheduler, start: threading.Barrier = start) -> None:
            start.wait()
            sched.run_due()

        threads = [threading.Thread(target=run, args=(sched,)) for sched in schedulers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        clock.advance(HOUR)
    slots = Counter((name, slot) for name, slot, _ in jobs(database))
    assert len(slots) == 3 * len(names) and set(slots.values()) == {1}
    assert max(runner.most_at_once.values()) == 1
    assert {status for _, _, status in jobs(database)} == {"succeeded"}
    for sched in schedulers:
        sched.database.dispose()
    database.dispose()
