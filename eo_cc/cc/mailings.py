"""The mailings' part of a sync run (issue 10): ballot links, the roster <-> list check and its fixes.

Flask-free; sync.run_sync runs this step first, inside the same run lock, with the run's client,
pace and request budget. In one run:

1. settle: poll the imports and stranger removals earlier runs left unfinished;
2. per election: delete the ballot link field once voting has closed (unless kept); check the
   list when asked to (or in the two hours before a scheduled opening); take strangers off the
   list; make the field; import missing voters; push missing or changed links;
3. poll what was submitted, gently, until CC has finished it or the polling time is up (an
   activity CC has not finished after a day is given up and its work asked for again).

Removals and imports on one list never run at the same time: no import is submitted while the
list has voter removals at CC, and the run then skips voter removals on every list that still
has an unfinished import (`busy_lists`). Every request counts against the shared daily budget.
"""
from dataclasses import dataclass, field
from datetime import timedelta

from .. import clock
from ..db import rows
from ..elections.voting_window import effective_state
from . import accounts, imports, links, list_check
from .api import CCError, GrantRevoked, QuotaExceeded, activity_error
from .budget import BudgetExhausted
from .removals import SUBMITTED

POLL_FIRST_SECONDS = 2
POLL_MAX_INTERVAL_SECONDS = 15
CHECK_BEFORE_OPENING = timedelta(hours=2)   # the automatic check: in the runs this long before opening


@dataclass
class Outcome:
    """What the step did, for the run's summary and exit code."""
    lines: list = field(default_factory=list)
    failed: bool = False
    busy_lists: set = field(default_factory=set)

    def summary(self):
        return (" Mailings: " + "; ".join(self.lines) + ".") if self.lines else ""


def due(db, election_id=None, now=None):
    """Elections with mailings work for a run (all, or just election_id)."""
    now = now or clock.now()
    candidates = rows(db, """
        SELECT * FROM elections e WHERE e.cc_list_id IS NOT NULL AND e.cc_list_id != ''
          AND e.cc_list_problem IS NULL   -- a list the connected account lacks: wait for a new choice
          AND (:only IS NULL OR e.id = :only) AND (e.has_cc_ballot_links = 1
            OR e.state = 'draft' AND e.opens_at IS NOT NULL AND e.opens_at > :now
            OR EXISTS (SELECT 1 FROM cc_link_fields f WHERE f.election_id = e.id AND f.deleted_at IS NULL)
            OR EXISTS (SELECT 1 FROM cc_imports i WHERE i.election_id = e.id AND i.finished_at IS NULL)
            OR EXISTS (SELECT 1 FROM cc_list_checks c WHERE c.election_id = e.id
                                                      AND c.requested_at IS NOT NULL)
            OR EXISTS (SELECT 1 FROM cc_list_differences d WHERE d.election_id = e.id
                                                           AND d.fix IN ('requested', 'submitted')))
        ORDER BY e.id""", {"only": election_id, "now": clock.iso(now)})
    return [election for election in candidates if has_work(db, election, now)]


def has_work(db, election, now=None):
    closed = effective_state(election, now) == "closed"
    return bool(links.field_to_delete(db, election)
                or imports.unfinished(db, election["id"])
                or list_check.fixes_asked(db, election["id"])
                or not closed and check_due(db, election, now)
                or not closed and election["has_cc_ballot_links"] and (
                    not links.is_ready(links.field_of(db, election["id"]))
                    or links.waiting(db, election["id"], election["cc_list_id"])))


def check_due(db, election, now=None):
    """Asked for, or automatic: voting is scheduled to open within two hours and the list has not
    been checked since then."""
    last = list_check.last_check(db, election["id"])
    if last and last["requested_at"]:
        return True
    opens, now = clock.parse(election["opens_at"]), now or clock.now()
    if opens is None or effective_state(election, now) != "scheduled" or now < opens - CHECK_BEFORE_OPENING:
        return False
    return not (last and last["checked_at"] and last["list_id"] == election["cc_list_id"]
                and last["checked_at"] >= clock.iso(opens - CHECK_BEFORE_OPENING))


class Step:
    """The mailings work of one run; `run` is the sync's _Run (db, config, call, ledger, sleep,
    poll_seconds, stop_reason, clients) and client_for(organisation_id) its client per organisation."""

    def __init__(self, run, elections, client_for):
        self.run, self.db, self.elections = run, run.db, elections
        self.client_for = client_for
        self.outcome = Outcome()
        self.stopped = set()   # elections whose work stopped on an error in this run
        self.last_cost = 0     # requests the last logged action spent

    def execute(self):
        """Do the work; returns the Outcome (busy_lists: lists whose imports are unfinished)."""
        if self.run.dry_run or not self.elections:
            return self.outcome
        for election in self.elections:
            self._guarded(election, self._poll_round)
        for election in self.elections:
            if not self._unfinished(election):
                self._guarded(election, self._work)
        self._poll()
        self.outcome.busy_lists = {row["list_id"] for row in imports.unfinished(self.db)}
        return self.outcome

    # --- one election ---------------------------------------------------------------------------

    def _work(self, election, client):
        call = self.run.call
        if links.field_to_delete(self.db, election):
            self._logged(election, "deleted the ballot link field", links.delete_field,
                         self.db, client, call, election["id"])
        if effective_state(election) == "closed":
            return
        list_check.forget_another_lists(self.db, election)
        if check_due(self.db, election) and not list_check.fixes_asked(self.db, election["id"]):
            found = self._logged(election, "checked the list", list_check.run_check,
                                 self.db, client, call, election, count=lambda found: found.list_members)
            list_check.record_cost(self.db, election["id"], self.last_cost)
            self.outcome.lines.append(
                f"list checked for election {election['id']}: {found.on_list} on the list, "
                f"{found.count('missing')} missing, {found.count('stranger')} not on the roster, "
                f"{found.count('unsubscribed')} unsubscribed")
        if self._asked(election, list_check.STRANGER):
            self._logged(election, "took people who are not on the roster off the list",
                         list_check.remove_strangers, self.db, client, call, election,
                         count=lambda submitted: self._submitted_strangers(election))
        if self._removals_at_cc(election):
            self.outcome.lines.append(f"imports for election {election['id']} wait for its removals")
            return
        field_row = None
        if election["has_cc_ballot_links"]:
            field_row = self._logged(election, "made the ballot link field", links.ensure_field,
                                     self.db, client, call, election, log="if_any")
        if self._asked(election, list_check.MISSING):
            added = self._logged(election, "added missing voters to the list", list_check.add_missing,
                                 self.db, self.run.config, client, call, election, count=int,
                                 link_entries=field_row and self._link_entries(election, field_row))
            self.outcome.lines.append(f"{added} voter(s) sent to the list of election {election['id']}")
        if field_row is not None:
            pushed = self._logged(election, "put ballot links into Constant Contact", links.push, self.db,
                                  self.run.config, client, call, election, field_row, count=int, log="if_any")
            if pushed:
                self.outcome.lines.append(f"{pushed} ballot link(s) sent for election {election['id']}")

    def _link_entries(self, election, field_row):
        return lambda voters: links.entries(self.run.config, election, field_row, voters, [])

    def _asked(self, election, kind):
        return self.db.execute("SELECT 1 FROM cc_list_differences WHERE election_id = ? AND kind = ? "
                               "AND fix = 'requested'", [election["id"], kind]).fetchone() is not None

    def _submitted_strangers(self, election):
        return self.db.execute("SELECT count(*) FROM cc_list_differences WHERE election_id = ? AND kind = ? "
                               "AND fix = 'submitted'", [election["id"], list_check.STRANGER]).fetchone()[0]

    def _removals_at_cc(self, election):
        """Voter removals on this list that CC has not finished: no import may start now."""
        return self.db.execute(f"SELECT 1 FROM cc_removals WHERE list_id = ? AND state = '{SUBMITTED}' "
                               "LIMIT 1", [election["cc_list_id"]]).fetchone() is not None

    def _unfinished(self, election):
        return bool(imports.unfinished(self.db, election["id"])
                    or list_check.stranger_removals(self.db, election["id"]))

    def _logged(self, election, action, fn, *args, count=None, log=True, **kwargs):
        """Run one action and log it with the requests it cost (log="if_any": only when it sent
        something or spent a request)."""
        before = self.run.ledger.requests
        result = fn(*args, **kwargs)
        contacts = count(result) if count else 0
        self.last_cost = self.run.ledger.requests - before
        if log is True or (contacts or self.last_cost):
            self._log(election, action, contacts, self.last_cost)
        return result

    def _log(self, election, action, contacts=0, requests=0, error=None):
        self.db["cc_mailing_log"].insert({"election_id": election["id"], "action": action,
                                          "contacts": contacts, "requests": requests, "error": error,
                                          "at": clock.iso()})

    def _guarded(self, election, step):
        """Run a step for one election; CC failures stop that election (or the run), never crash it."""
        if self.run.stop_reason or election["id"] in self.stopped:
            return
        organisation_id = election["organisation_id"]
        try:
            step(election, self.client_for(organisation_id))
        except QuotaExceeded as error:
            self.run.ledger.record_quota_exceeded()
            self._failed(election, f"daily quota used up, syncing resumes after 00:00 UTC ({error})",
                         stop=True)
        except BudgetExhausted as error:
            self._failed(election, str(error), stop=True)
        except GrantRevoked as error:
            self.run.clients[organisation_id] = error
            self._failed(election, f"Constant Contact access must be granted again: {error.message}")
        except (CCError, links.FieldProblem) as error:
            if isinstance(error, CCError) and accounts.is_list_gone(error):
                accounts.mark_deleted(self.db, organisation_id, election["cc_list_id"])
            self._failed(election, str(error))

    def _failed(self, election, reason, stop=False):
        if stop:
            self.run.stop_reason = reason
        self.stopped.add(election["id"])
        self.outcome.failed = True
        self.outcome.lines.append(f"election {election['id']}: {reason}")
        self._log(election, "stopped", error=reason)

    # --- polling --------------------------------------------------------------------------------

    def _poll_round(self, election, client):
        """Poll the election's unfinished activities oldest first, up to the first still running
        (CC works through an account's activities in order)."""
        for submitted_at, kind, activity_id in self._activities(election):
            if kind == "import":
                state = imports.check(self.db, client, self.run.call, activity_id)
            else:
                state = self._check_stranger_removal(election, client, activity_id, submitted_at)
            if state != imports.FINISHED_OK and state not in FINISHED_OTHERWISE:
                return
            if state != imports.FINISHED_OK:   # what it carried is asked for again: the next run retries
                self.outcome.failed = True
                self.outcome.lines.append(f"election {election['id']}: a Constant Contact activity {state}")
                self._log(election, f"a Constant Contact activity {state}; it is retried",
                          error=f"activity {activity_id} {state}")

    def _activities(self, election):
        found = [(row["submitted_at"], "import", row["activity_id"])
                 for row in imports.unfinished(self.db, election["id"])]
        found += [(row["submitted_at"], "removal", row["activity_id"])
                  for row in list_check.stranger_removals(self.db, election["id"])]
        return sorted(found)

    def _check_stranger_removal(self, election, client, activity_id, submitted_at):
        try:
            activity = self.run.call(client.activity, activity_id)
        except CCError as error:
            if error.status != 404 or isinstance(error, QuotaExceeded):
                raise
            list_check.settle_stranger_removal(self.db, election, activity_id, "expired")
            return "expired"
        state = activity.get("state")
        if state == imports.FINISHED_OK or state in imports.FINISHED_BADLY:
            list_check.settle_stranger_removal(self.db, election, activity_id, state,
                                               activity_error(activity))
        elif imports.given_up(submitted_at):
            state = "timed_out"
            list_check.settle_stranger_removal(self.db, election, activity_id, state,
                                               "Constant Contact did not finish it within a day")
        return state

    def _poll(self):
        """Poll what this run submitted, gently, until CC has finished it or the polling time is up."""
        waited, interval = 0, POLL_FIRST_SECONDS
        while True:
            pending = [election for election in self.elections
                       if election["id"] not in self.stopped and self._unfinished(election)]
            if not pending or self.run.stop_reason or waited >= self.run.poll_seconds:
                return
            self.run.sleep(interval)
            waited += interval
            interval = min(interval * 2, POLL_MAX_INTERVAL_SECONDS)
            for election in pending:
                self._guarded(election, self._poll_round)


FINISHED_OTHERWISE = {"expired", *imports.FINISHED_BADLY}
