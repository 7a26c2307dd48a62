"""What a sync run reports: per election and for the whole run (printed, flashed, recorded)."""
from dataclasses import dataclass, field


@dataclass
class ElectionResult:
    """What one run did for one election."""
    election_id: int
    title: str
    removed: int = 0
    not_in_list: int = 0
    failed: int = 0
    processing: int = 0
    would_remove: int = 0
    submitted: int = 0
    requests: int = 0
    error: str | None = None

    def summary(self, dry_run=False):
        name = f'Election {self.election_id} "{self.title}"'
        if dry_run:
            text = (f"{name}: would remove {self.would_remove}, {self.not_in_list} not in the list "
                    f"(dry run, nothing changed), {self.requests} requests")
        else:
            text = (f"{name}: {self.removed} removed, {self.not_in_list} not in the list, "
                    f"{self.failed} still queued, {self.requests} requests")
            if self.processing:
                text += f", {self.processing} still being processed by Constant Contact"
        return text + (f"; error: {self.error}" if self.error else "")


@dataclass
class RunResult:
    """The outcome of one run; exit_code 0 all done, 1 some removals remain queued, 2 config."""
    exit_code: int
    message: str
    run_id: int | None = None
    elections: list = field(default_factory=list)
    requests: int = 0

    def total(self, name):
        return sum(getattr(result, name) for result in self.elections)


def run_message(result, dry_run):
    """The one line that sums a run up (the flash after Sync now, the last line in cron mail)."""
    if dry_run:
        return (f"Dry run: would remove {result.total('would_remove')}, "
                f"{result.total('not_in_list')} not in the list ({result.requests} requests).")
    text = (f"Sync finished: {result.total('removed')} removed, "
            f"{result.total('not_in_list')} not in the list, {result.total('failed')} still queued")
    if result.total("processing"):
        text += f", {result.total('processing')} still being processed by Constant Contact"
    errors = [r.error for r in result.elections if r.error]
    return text + (f" ({errors[0]})." if errors else ".")
