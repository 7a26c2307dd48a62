"""CC's limits per client_id, seeded fault injection, and request statistics (all in memory)."""
import collections
import random
import threading
import time
from dataclasses import dataclass, field, fields

from eo_cc import clock

FAULT_KINDS = ("error_500", "error_503", "throttled", "slow", "drop")
ACTIVITY_OUTCOMES = ("completed", "failed", "timed_out")


class RateLimiter:
    """At most `rate` accepted requests per client in any sliding one-second window.

    `monotonic` is the clock it reads; tests may freeze it so that requests count as simultaneous.
    """

    def __init__(self, rate, monotonic=time.monotonic):
        self.rate = rate
        self.monotonic = monotonic
        self._seen = collections.defaultdict(collections.deque)
        self._lock = threading.Lock()

    def allow(self, client_id):
        if not self.rate:
            return True
        now = self.monotonic()
        with self._lock:
            window = self._seen[client_id]
            while window and window[0] <= now - 1.0:
                window.popleft()
            if len(window) >= self.rate:
                return False
            window.append(now)
            return True


class DailyQuota:
    """At most `quota` accepted requests per client per UTC day (resets at 00:00 UTC)."""

    def __init__(self, quota, today=lambda: clock.now().date().isoformat()):
        self.quota = quota
        self._today = today
        self._used = collections.Counter()
        self._lock = threading.Lock()

    def allow(self, client_id):
        key = (client_id, self._today())
        with self._lock:
            if self.quota is not None and self._used[key] >= self.quota:
                return False
            self._used[key] += 1
            return True

    def used(self, client_id):
        return self._used[(client_id, self._today())]

    def reset(self):
        with self._lock:
            self._used.clear()


@dataclass
class Faults:
    """What goes wrong, and how often. Shares are fractions of /v3 requests (0 to 1)."""

    error_500: float = 0.0
    error_503: float = 0.0
    throttled: float = 0.0
    slow: float = 0.0
    drop: float = 0.0
    slow_seconds: float = 3.0
    seed: int | None = None
    refuse_refresh: bool = False
    activity_outcome: str = "completed"
    _rng: random.Random = field(default_factory=random.Random, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self):
        self._rng = random.Random(self.seed)

    @classmethod
    def from_dict(cls, data):
        """Build from JSON; raises ValueError naming the bad key."""
        known = {f.name for f in fields(cls) if not f.name.startswith("_")}
        unknown = set(data) - known - {"expire_tokens"}
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(sorted(unknown))}")
        values = {k: v for k, v in data.items() if k in known}
        for kind in FAULT_KINDS:
            share = values.get(kind, 0.0)
            if not isinstance(share, (int, float)) or not 0 <= share <= 1:
                raise ValueError(f"{kind} must be a share between 0 and 1")
        slow_seconds = values.get("slow_seconds", 0)
        if not isinstance(slow_seconds, (int, float)) or slow_seconds < 0:
            raise ValueError("slow_seconds must be a number of seconds")
        if not isinstance(values.get("seed", 0), (int, type(None))):
            raise ValueError("seed must be an integer")
        if sum(values.get(k, 0.0) for k in FAULT_KINDS) > 1:
            raise ValueError("the fault shares add up to more than 1")
        if values.get("activity_outcome", "completed") not in ACTIVITY_OUTCOMES:
            raise ValueError(f"activity_outcome must be one of {', '.join(ACTIVITY_OUTCOMES)}")
        return cls(**values)

    def draw(self):
        """The fault for the next request (seeded, so a run is repeatable), or None."""
        shares = [(kind, getattr(self, kind)) for kind in FAULT_KINDS]
        if not any(share for _, share in shares):
            return None
        with self._lock:
            roll = self._rng.random()
        for kind, share in shares:
            if roll < share:
                return kind
            roll -= share
        return None

    def as_dict(self):
        return {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}


class Stats:
    """Counts per endpoint and status, and every token-endpoint request, for tests and people to inspect."""

    def __init__(self):
        self._lock = threading.Lock()
        self.reset()

    def reset(self):
        self.requests = collections.Counter()
        self.statuses = collections.Counter()
        self.errors = collections.Counter()
        self.token_requests = []

    def record(self, endpoint, status, error_key=None):
        with self._lock:
            self.requests[endpoint] += 1
            self.statuses[f"{endpoint} {status}"] += 1
            if error_key:
                self.errors[error_key] += 1

    def record_token_request(self, entry):
        """One request to the token or revoke endpoint (see oauth.finish_token_request)."""
        with self._lock:
            self.token_requests.append(entry)

    def as_dict(self):
        with self._lock:
            return {
                "requests": dict(self.requests),
                "total_requests": sum(self.requests.values()),
                "responses": dict(self.statuses),
                "throttled": self.errors["throttled"],
                "quota_exceeded": self.errors["quota_exceeded"],
                "rate_limited": self.errors["throttled"] + self.errors["quota_exceeded"],
                "errors": dict(self.errors),
                "token_requests": sorted(self.token_requests, key=lambda entry: entry["epoch"]),
            }
