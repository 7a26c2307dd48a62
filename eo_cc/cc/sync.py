"""The hourly batch: remove voters who voted from each election's chosen CC list.

Flask-free: the cron script, `flask cc-sync` and the "Sync now" button all call `run_sync(db, config, ...)`.
One run takes a file lock, then per election (oldest waiting first): re-polls activities left by an earlier
run, resolves queued emails to contact ids the cheaper way, submits removals in batches of at most 500
(recorded BEFORE polling, so a killed run never loses or resubmits a batch) and polls them.
"""
import time
from dataclasses import dataclass, field

from .. import clock
from ..db import instance_file, one, rows
from . import accounts, mailings, run_record, sharing, tokens
from .api import CCError, GrantRevoked, QuotaExceeded, activity_error
from .budget import BudgetExhausted, RequestLedger, call_with_backoff, sync_lock
from .pace import api_pace
from .removals import DONE, QUEUED, SUBMITTED, WAITING
from .report import ElectionResult, RunResult, run_message
from .resolve import resolve

PROGRESS_EVERY = 500
POLL_FIRST_SECONDS = 2
POLL_MAX_INTERVAL_SECONDS = 15
LOCK_WAIT_SECONDS = 2
LOCK_FILE = "cc_sync.lock"
FINISHED_OK = {"completed"}
FINISHED_BADLY = {"failed", "cancelled", "timed_out"}


@dataclass
class _Job:
    """One election's work in this run."""
    election: dict
    result: ElectionResult
    client: object = None
    batches: list = field(default_factory=list)   # [[(removal_id, contact_id), ...], ...]
    pending: dict = field(default_factory=dict)   # activity ids still to poll, oldest first
    stopped: bool = False
    last_removal_id: int | None = None            # the queue as resolve() read it
    early_poll_at: float | None = None            # time.monotonic() for its first poll

    @property
    def list_id(self):
        return self.election["cc_list_id"]


def run_sync(db, config, *, election_id=None, dry_run=False, verbose=False, echo=print,
             client_factory=None, lock_path=None, sleep=time.sleep, poll_seconds=None):
    """One sync run over every due election (or just election_id); returns a RunResult."""
    problem = None if client_factory else config_problem(config)
    if problem:
        echo(f"Configuration error: {problem}")
        return RunResult(2, f"Configuration error: {problem}")
    lock_path = lock_path or sync_lock_path(config)
    with sync_lock(lock_path, LOCK_WAIT_SECONDS) as acquired:
        if not acquired:
            message = "Another sync is running; nothing done this time."
            echo(message)
            return RunResult(0, message)
        run = _Run(db, config, dry_run=dry_run, verbose=verbose, echo=echo, sleep=sleep,
                   client_factory=client_factory, poll_seconds=poll_seconds)
        return run.execute(election_id)


def config_problem(config):
    """Why the CC settings are unusable, or None."""
    missing = [key for key in ("SECRET_KEY", "CC_CLIENT_ID", "CC_CLIENT_SECRET")
               if not config.get(key)]
    if missing:
        return f"{' and '.join(missing)} must be set to sync with Constant Contact."
    return None


def sync_lock_path(config):
    """The run lock every sync takes: the hourly job, Sync now and `flask cc-sync`."""
    return instance_file(config, LOCK_FILE)


class _Run:
    """The state of one run: the shared pacer, the request ledger, one client per organisation."""

    def __init__(self, db, config, *, dry_run, verbose, echo, sleep, client_factory, poll_seconds):
        self.db, self.config = db, config
        self.dry_run, self.verbose, self.echo, self.sleep = dry_run, verbose, echo, sleep
        self.client_factory = client_factory or tokens.make_client
        self.poll_seconds = (poll_seconds if poll_seconds is not None
                             else config["CC_SYNC_POLL_SECONDS"])
        # One pace for every process using the instance folder: the site shares CC's 4/s too.
        self.pacer = api_pace(config)
        self.ledger = RequestLedger(db, int(config["CC_DAILY_REQUEST_BUDGET"]))
        self.clients = {}          # organisation_id -> Client, or the GrantRevoked that stopped it
        self.checked_accounts = set()   # organisations whose chosen lists were checked this run
        self.stop_reason = None    # quota or budget: stop every election
        self.started_at = clock.iso()
        self.run_id = None

    # --- the run --------------------------------------------------------------------

    def execute(self, election_id):
        if self.ledger.quota_exceeded_today():
            message = ("Constant Contact's daily request quota was used up today; "
                       "syncing resumes after 00:00 UTC.")
            self.echo(message)
            return RunResult(1 if self._due(election_id) else 0, message)
        elections, mail_work = self._due(election_id), mailings.due(self.db, election_id)
        if not elections and not mail_work:
            message = "Nothing to sync: no voter who voted is waiting to be removed."
            self.echo(message)
            return RunResult(0, message)
        if self.verbose:
            self.echo(f"Syncing {len(elections)} election(s) with Constant Contact"
                      + (" (dry run)" if self.dry_run else ""))
        run_id = self.run_id = self._start_record()
        try:  # mailings first: voters who vote while an import runs are removed after it
            mailed = mailings.Step(self, mail_work, self._client).execute()
            elections = [e for e in self._due(election_id) if e["cc_list_id"] not in mailed.busy_lists]
            jobs = self._prepare_all(elections)
            self._submit_round_robin(jobs)
            self._poll(jobs)
        finally:
            self.ledger.save()
        return self._finish(run_id, jobs, mailed)

    def _due(self, election_id):
        """Elections with a chosen list and waiting removals, oldest waiting first."""
        only = "AND e.id = :only" if election_id is not None else ""
        return rows(self.db, f"""
            SELECT e.id, e.organisation_id, e.title, e.cc_list_id, MIN(r.queued_at) AS waiting_since
            FROM elections e JOIN cc_removals r ON r.election_id = e.id
            WHERE e.cc_list_id IS NOT NULL AND e.cc_list_id != '' AND e.cc_list_problem IS NULL
              AND r.state IN {WAITING} AND {sharing.due("r", ":now")} {only}
            GROUP BY e.id ORDER BY waiting_since, e.id""", {"only": election_id, "now": clock.iso()})

    def _prepare(self, election):
        """Connect, re-poll, resolve and submit the first batch (the rest go round robin) for one election."""
        job = _Job(election, ElectionResult(election["id"], election["title"]))
        self._guarded(job, self._prepare_steps)
        if job.batches and not self.dry_run:
            self._guarded(job, self._submit, job.batches.pop(0))
            job.early_poll_at = time.monotonic() + POLL_FIRST_SECONDS
        return job

    def _prepare_all(self, elections):
        """Prepare each election in turn; first polls due meanwhile fill the wait for the next token turn."""
        jobs = []
        for election in elections:
            for job in jobs:
                if job.early_poll_at is not None and job.early_poll_at <= time.monotonic():
                    job.early_poll_at = None     # one early poll; the others wait for _poll
                    self._guarded(job, self._poll_round)
            jobs.append(self._prepare(election))
        return jobs

    def _prepare_steps(self, job):
        job.client = self._client(job.election["organisation_id"])
        if self._list_not_in_account(job):
            return
        if not self.dry_run:
            self._repoll(job)
        # Ballots cast from here on wait for the next run: they are no failure of this one.
        job.last_removal_id = one(self.db, "SELECT max(id) AS id FROM cc_removals "
                                  "WHERE election_id = ?", [job.election["id"]])["id"]
        found = resolve(self.db, job.client, self.call, job.list_id, job.election["id"],
                        dry_run=self.dry_run, progress=lambda *args: self.progress(job, *args),
                        on_restart=lambda: setattr(job.result, "scan_restarted", True))
        job.batches = found.batches
        job.result.not_in_list, job.result.would_remove = found.not_in_list, found.would_remove

    def _list_not_in_account(self, job):
        """Once per run and organisation, what a grant left unchecked; a marked list gets nothing."""
        organisation_id = job.election["organisation_id"]
        if organisation_id not in self.checked_accounts and not self.dry_run:
            self.checked_accounts.add(organisation_id)
            accounts.check_before_sync(self.db, job.client, self.call, organisation_id)
        job.result.error = accounts.election_problem(self.db, job.election["id"])
        job.stopped = job.result.error is not None
        return job.stopped

    def _guarded(self, job, step, *args):
        """Run one step for a job; CC failures stop the job (or the whole run), never crash it."""
        if job.stopped or self.stop_reason:
            job.stopped = True
            job.result.error = job.result.error or self.stop_reason
            return
        before = self.ledger.requests
        try:
            step(job, *args)
        except QuotaExceeded as error:
            self.ledger.record_quota_exceeded()
            self._stop_all(job, f"daily quota used up, syncing resumes after 00:00 UTC ({error})")
        except BudgetExhausted as error:
            self._stop_all(job, str(error))
        except GrantRevoked as error:
            self._revoke(job, error)
        except CCError as error:
            job.stopped, job.result.error = True, str(error)
            if accounts.is_list_gone(error):
                accounts.mark_deleted(self.db, job.election["organisation_id"], job.list_id)
                job.result.error = accounts.election_problem(self.db, job.election["id"])
        finally:
            job.result.requests += self.ledger.requests - before

    def _stop_all(self, job, reason):
        self.stop_reason = reason
        job.stopped, job.result.error = True, reason

    def _revoke(self, job, error):
        organisation_id = job.election["organisation_id"]
        self.clients[organisation_id] = error
        self._mark_needs_grant(organisation_id, str(error))
        job.stopped = True
        job.result.error = f"Constant Contact access must be granted again: {error.message}"

    def _client(self, organisation_id):
        """One client per organisation per run (a rotated refresh token must not be used twice)."""
        client = self.clients.get(organisation_id)
        if isinstance(client, Exception):
            raise client
        if client is None:
            connection = one(self.db, "SELECT needs_grant FROM cc_connections "
                             "WHERE organisation_id = ?", [organisation_id])
            if connection is None or connection["needs_grant"]:
                raise GrantRevoked(None, "needs_grant", "no usable Constant Contact connection")
            client = self.client_factory(self.db, self.config, organisation_id, pacer=self.pacer,
                                         on_request=self.ledger.count)
            self.clients[organisation_id] = client
        return client

    def _mark_needs_grant(self, organisation_id, reason):
        row = one(self.db, "SELECT needs_grant FROM cc_connections WHERE organisation_id = ?",
                  [organisation_id])
        if row is not None and not row["needs_grant"]:
            tokens.mark_needs_grant(self.db, organisation_id, reason)

    def call(self, fn, *args):
        return call_with_backoff(fn, *args, ledger=self.ledger, sleep=self.sleep,
                                 log=self.echo if self.verbose else None)

    def progress(self, job, done, total, what):
        if done % PROGRESS_EVERY == 0:
            of = f" of {total}" if total else ""
            self.echo(f"  election {job.election['id']}: {what} {done}{of}")

    # --- 1. activities left by an earlier run -----------------------------------------

    def _repoll(self, job):
        self.db.execute(f"UPDATE cc_removals SET state = '{QUEUED}' WHERE election_id = ? "
                        f"AND state = '{SUBMITTED}' AND activity_id IS NULL", [job.election["id"]])
        earlier = rows(self.db, f"""
            SELECT r.activity_id FROM cc_removals r
            LEFT JOIN cc_activities a ON a.activity_id = r.activity_id
            WHERE r.election_id = ? AND r.state = '{SUBMITTED}'
            GROUP BY r.activity_id ORDER BY MIN(a.submitted_at), r.activity_id""",
                       [job.election["id"]])
        job.pending = dict.fromkeys(row["activity_id"] for row in earlier)
        self._poll_round(job)

    def _check_activity(self, job, activity_id):
        """Poll one activity and settle its removals; True when it is finished."""
        try:
            activity = self.call(job.client.activity, activity_id)
        except CCError as error:
            if error.status != 404 or isinstance(error, QuotaExceeded):
                raise
            # CC keeps activity status for 10 days; resubmitting a removal is harmless.
            self._settle(job, activity_id, "expired", f"activity {activity_id} no longer known")
            return True
        state = activity.get("state")
        if self.verbose:
            self.echo(f"  activity {activity_id}: {state} ({activity.get('percent_done', 0)}%)")
        if state in FINISHED_OK or state in FINISHED_BADLY:
            self._settle(job, activity_id, state, activity_error(activity))
            return True
        return False

    def _settle(self, job, activity_id, state, error):
        """Mark a finished activity's removals done, or put them back in the queue."""
        now = clock.iso()
        with self.db.atomic():
            self.db.execute("UPDATE cc_activities SET state = ?, finished_at = ? "
                            "WHERE activity_id = ?", [state, now, activity_id])
            if state in FINISHED_OK:
                changed = self.db.execute(
                    f"UPDATE cc_removals SET state = '{DONE}', last_error = NULL, updated_at = ? "
                    f"WHERE activity_id = ? AND state = '{SUBMITTED}'", [now, activity_id]).rowcount
                job.result.removed += changed
                run_record.add_removed(self.db, self.run_id, job.election["id"], changed)
            else:
                self.db.execute(
                    f"UPDATE cc_removals SET state = '{QUEUED}', activity_id = NULL, "
                    "attempts = attempts + 1, last_error = ?, updated_at = ? "
                    f"WHERE activity_id = ? AND state = '{SUBMITTED}'",
                    [f"Constant Contact activity {state}: {error}" if error
                     else f"Constant Contact activity {state}", now, activity_id])

    # --- 3. removals -------------------------------------------------------------------

    def _submit_round_robin(self, jobs):
        """One batch per election per round, so a big election does not starve the others."""
        while not self.dry_run and any(job.batches and not job.stopped for job in jobs):
            for job in jobs:
                if job.batches and not job.stopped:
                    self._guarded(job, self._submit, job.batches.pop(0))

    def _submit(self, job, batch):
        try:
            activity = self.call(job.client.remove_list_memberships, job.list_id,
                                  [contact_id for _, contact_id in batch])
        except CCError as error:
            if not isinstance(error, (GrantRevoked, QuotaExceeded)) and not accounts.is_list_gone(error):
                self._note_failure(batch, str(error))   # shown on the panel; retried next run
            raise
        activity_id = str(activity["activity_id"])
        now = clock.iso()
        # Recorded before any polling: a run killed from here on polls this activity next
        # time instead of submitting the batch again.
        with self.db.atomic():
            self.db["cc_activities"].insert({
                "activity_id": activity_id, "election_id": job.election["id"],
                "list_id": job.list_id, "contact_count": len(batch),
                "state": activity.get("state") or "initialized", "submitted_at": now}, replace=True)
            # Only while the election still uses this list: choosing another list meanwhile
            # re-queued these voters for the new one.
            self.db.conn.executemany(
                f"UPDATE cc_removals SET state = '{SUBMITTED}', activity_id = ?, list_id = ?, "
                f"contact_id = ?, updated_at = ? WHERE id = ? AND state = '{QUEUED}' AND "
                "(SELECT cc_list_id FROM elections WHERE id = cc_removals.election_id) = ?",
                [(activity_id, job.list_id, contact_id, now, removal_id, job.list_id)
                 for removal_id, contact_id in batch])
        job.pending[activity_id] = None
        job.result.submitted += len(batch)
        if self.verbose or job.result.submitted >= PROGRESS_EVERY:
            self.echo(f"  election {job.election['id']}: submitted {job.result.submitted} "
                      f"of {job.result.would_remove} removals")

    def _note_failure(self, batch, error):
        with self.db.atomic():
            self.db.conn.executemany(
                "UPDATE cc_removals SET attempts = attempts + 1, last_error = ?, updated_at = ? "
                f"WHERE id = ? AND state = '{QUEUED}'",
                [(error, clock.iso(), removal_id) for removal_id, _ in batch])

    # --- 4. polling --------------------------------------------------------------------

    def _poll(self, jobs):
        """Poll this run's activities gently until finished or the polling time is up."""
        waited, interval = 0, POLL_FIRST_SECONDS
        while True:
            for job in jobs:
                self._guarded(job, self._poll_round)
            if not any(job.pending and not job.stopped for job in jobs) or self.stop_reason:
                return
            if waited >= self.poll_seconds:
                return
            self.sleep(interval)
            waited += interval
            interval = min(interval * 2, POLL_MAX_INTERVAL_SECONDS)

    def _poll_round(self, job):
        """Poll pending activities oldest first, up to the first one still processing.

        CC works through an account's activities in order: when one is still running, the
        ones submitted after it are too, and polling them would only spend the budget.
        """
        for activity_id in list(job.pending):
            if not self._check_activity(job, activity_id):
                return
            del job.pending[activity_id]

    # --- 5. the record ----------------------------------------------------------------

    def _start_record(self):
        return run_record.start(self.db, self.started_at, self.dry_run)

    def _finish(self, run_id, jobs, mailed):
        for job in jobs:
            if not self.dry_run:
                job.result.failed, job.result.processing, job.result.held = run_record.leftovers(
                    self.db, job.election["id"], self.started_at, job.last_removal_id)
            self.echo(job.result.summary(self.dry_run))
        results = [job.result for job in jobs]
        failed = any(r.failed or r.error for r in results) or mailed.failed
        exit_code = 1 if failed else 0
        result = RunResult(exit_code, "", run_id, results, self.ledger.requests)
        result.message = run_message(result, self.dry_run) + mailed.summary()
        run_record.finish(self.db, run_id, result)
        if len(results) > 1 or self.verbose:
            self.echo(result.message)
        return result
