"""Schedules: named, recurring crawls kept in the database, and when each is due.

A schedule is seeds + crawl options (the `panelmap crawl` flags, stored as typed) +
a recurrence (every N seconds, or a five-field cron expression evaluated in UTC) +
where its alerts go. All of it is plain JSON in one Schedule row, so any scheduler
process that reaches the database can run it.

    with database.session() as session:
        add_schedule(session, "jap-nightly", ["justanotherpanel.com"], Recurrence.parse(cron="0 3 * * *"))

Cron expressions are evaluated by cronsim: small, dependency-free, maintained, and
faithful to Debian cron (day-of-month/day-of-week OR rule, DST), which is what
people who write crontabs expect.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cronsim import CronSim, CronSimError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from panelmap.storage.models import Job, Schedule, utcnow

# Crawling the same panels more often than this is load on them, not reconnaissance.
MIN_INTERVAL = timedelta(minutes=1)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"(\d+)([smhdw])")


class ScheduleError(ValueError):
    """A schedule that cannot be made or found: bad recurrence, duplicate or unknown name. One line."""


def parse_duration(text: str) -> timedelta:
    """`"6h"`, `"30m"`, `"1h30m"`, `"7d"`, `"2w"` -> timedelta."""
    compact = text.strip().lower().replace(" ", "")
    if not compact or _DURATION.sub("", compact):
        raise ScheduleError(f"invalid duration {text!r}: use a number and a unit (s, m, h, d, w), e.g. 6h or 1h30m")
    return timedelta(seconds=sum(int(amount) * _UNITS[unit] for amount, unit in _DURATION.findall(compact)))


def format_duration(seconds: int) -> str:
    """21600 -> `"6h"`, 5400 -> `"1h30m"`: the inverse of `parse_duration`."""
    parts = []
    for unit in ("w", "d", "h", "m", "s"):
        amount, seconds = divmod(seconds, _UNITS[unit])
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts) or "0s"


@dataclass(frozen=True)
class Recurrence:
    """When a schedule runs: every `every_seconds`, or at each match of `cron` (UTC)."""

    every_seconds: int | None = None
    cron: str | None = None

    @classmethod
    def parse(cls, every: str | None = None, cron: str | None = None) -> Recurrence:
        """From the command line's `--every 6h` or `--cron "0 3 * * *"` (exactly one)."""
        if (every is None) == (cron is None):
            raise ScheduleError("give exactly one of --every DURATION or --cron EXPRESSION")
        if every is not None:
            interval = parse_duration(every)
            if interval < MIN_INTERVAL:
                raise ScheduleError(f"--every {every} is too often: at least {format_duration(int(MIN_INTERVAL.total_seconds()))}")
            return cls(every_seconds=int(interval.total_seconds()))
        assert cron is not None
        expression = " ".join(cron.split())
        if len(expression.split()) != 5:
            raise ScheduleError(f"invalid cron expression {cron!r}: expected five fields (minute hour day month weekday)")
        try:
            next(CronSim(expression, utcnow()))
        except (CronSimError, StopIteration) as exc:
            raise ScheduleError(f"invalid cron expression {cron!r}: {exc or 'it never matches'}") from None
        return cls(cron=expression)

    @classmethod
    def of(cls, schedule: Schedule) -> Recurrence:
        return cls(every_seconds=schedule.every_seconds, cron=schedule.cron)

    def first(self, now: datetime) -> datetime:
        """The first slot of a new (or resumed) schedule: at once for `every`, the next match for cron."""
        return now if self.every_seconds else self._next_match(now)

    def after(self, slot: datetime, now: datetime) -> datetime:
        """The slot after `slot` that is still ahead of `now`.

        Slots missed while no scheduler ran collapse into the one being run: a
        scheduler down for three days runs a daily schedule once, not three times.
        """
        if self.every_seconds:
            step = timedelta(seconds=self.every_seconds)
            missed = max(0, int((now - slot) / step))
            return slot + step * (missed + 1)
        return self._next_match(max(slot, now))

    def describe(self) -> str:
        return f"every {format_duration(self.every_seconds)}" if self.every_seconds else f"cron {self.cron}"

    def _next_match(self, moment: datetime) -> datetime:
        assert self.cron is not None
        return next(CronSim(self.cron, moment))


def add_schedule(session: Session, name: str, seeds: list[str], recurrence: Recurrence, *,
                 crawl_options: dict[str, Any] | None = None, alerts: dict[str, Any] | None = None,
                 now: datetime | None = None) -> Schedule:
    """Store a new schedule; its first run is due at `recurrence.first(now)`."""
    name = name.strip()
    if not name or len(name) > 200:
        raise ScheduleError("a schedule name must have 1 to 200 characters")
    if not seeds:
        raise ScheduleError("no seeds: name sites as arguments or give --seeds FILE")
    if session.scalar(select(Schedule.id).where(Schedule.name == name)) is not None:
        raise ScheduleError(f"a schedule named {name!r} exists: remove it first or choose another name")
    now = now or utcnow()
    schedule = Schedule(
        name=name, seeds=list(dict.fromkeys(seeds)), every_seconds=recurrence.every_seconds, cron=recurrence.cron,
        options={"crawl": crawl_options or {}, "alerts": alerts or {}}, created_at=now,
        next_run_at=recurrence.first(now),
    )
    session.add(schedule)
    session.flush()
    return schedule


def get_schedule(session: Session, name: str) -> Schedule:
    schedule = session.scalar(select(Schedule).where(Schedule.name == name))
    if schedule is None:
        raise ScheduleError(f"no schedule named {name!r} (see `panelmap schedule list`)")
    return schedule


def pause_schedule(session: Session, name: str) -> Schedule:
    """Stop starting jobs for a schedule; a job already running finishes."""
    schedule = get_schedule(session, name)
    schedule.paused = True
    return schedule


def resume_schedule(session: Session, name: str, *, now: datetime | None = None) -> Schedule:
    """Start again from now: runs missed while paused are not caught up (pausing was meant)."""
    schedule = get_schedule(session, name)
    if schedule.paused:
        schedule.paused = False
        schedule.next_run_at = Recurrence.of(schedule).first(now or utcnow())
    return schedule


def remove_schedule(session: Session, name: str) -> None:
    """Delete a schedule; its jobs stay (their schedule_id becomes NULL) with their logs."""
    session.delete(get_schedule(session, name))


def list_schedules(session: Session, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """One row per schedule with its state (paused / running / waiting), next slot, lease and last job's outcome."""
    now = now or utcnow()
    last_job = select(Job.schedule_id, func.max(Job.id).label("job_id")).group_by(Job.schedule_id).subquery()
    query = (
        select(Schedule, Job)
        .outerjoin(last_job, last_job.c.schedule_id == Schedule.id)
        .outerjoin(Job, Job.id == last_job.c.job_id)
        .order_by(Schedule.name)
    )
    rows = []
    for schedule, job in session.execute(query):
        leased = schedule.lease_expires_at is not None and schedule.lease_expires_at >= now
        rows.append({
            "name": schedule.name,
            "recurrence": Recurrence.of(schedule).describe(),
            "seeds": schedule.seeds,
            "sites": len(schedule.seeds),
            "state": "paused" if schedule.paused else "running" if leased else "waiting",
            "paused": schedule.paused,
            "next_run_at": None if schedule.paused else schedule.next_run_at,
            "last_run_at": schedule.last_run_at,
            "last_status": job.status if job else None,
            "lease_owner": schedule.lease_owner,
            "lease_expires_at": schedule.lease_expires_at,
            "crawl_options": schedule.options.get("crawl", {}),
            "alerts": schedule.options.get("alerts", {}),
        })
    return rows
