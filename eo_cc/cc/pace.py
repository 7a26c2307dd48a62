"""One pace for Constant Contact, shared by every process that uses the instance folder.

CC's limits belong to eo_cc's API key, not to a process: the site's workers (list picker,
token refreshes) and the cron job together must stay within 4 requests a second. Each
request books the next free slot in a small file under an exclusive lock, then sleeps
until that slot with the lock released, so waiting processes queue up in turn.

CC's token endpoint (about one request a second) is stricter: network delays must never bring two
requests within the second, so each token request holds its pace for its whole turn (`turn()`)
and the next one leaves one interval after this one's answer came back.
"""
import contextlib
import fcntl
import os
import struct
import time

from ..db import instance_file

FILE_MODE = 0o600
MARGIN_SECONDS = 0.02  # CC counts arrivals: keep network jitter from packing 5 into one second
MAX_AHEAD_SECONDS = 60  # a booked slot further ahead than this is stale (the clock moved back)
_SLOT = struct.Struct("<d")


class SharedPace:
    """Spaces requests at least 1/rate seconds apart across threads and processes.

    path: the file that holds the next free slot (wall-clock seconds); every process that
    shares CC's limit must use the same path.
    """

    def __init__(self, path, rate_per_second, margin=MARGIN_SECONDS, clock=time.time,
                 sleep=time.sleep):
        if rate_per_second <= 0:
            raise ValueError("rate_per_second must be positive")
        self.path = str(path)
        self.interval = 1.0 / rate_per_second + margin
        self._clock = clock
        self._sleep = sleep

    def wait(self):
        """Block until the next request may be sent, and book that slot."""
        slot, now = self._book()
        if slot > now:
            self._sleep(slot - now)

    @contextlib.contextmanager
    def turn(self):
        """Hold the pace from the next free slot until the request's answer is in.

        CC sees this request arrive before it answers, and the next one leave after that
        answer plus one interval, so no two arrive closer than the interval, whatever the
        network adds. Other threads and processes wait for their turn in flock.
        """
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            slot, now = self._next_slot(fd)
            if slot > now:
                self._sleep(slot - now)
            try:
                yield
            finally:
                os.pwrite(fd, _SLOT.pack(self._clock() + self.interval), 0)
        finally:
            os.close(fd)  # closing the descriptor releases the lock

    def _book(self):
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            slot, now = self._next_slot(fd)
            os.pwrite(fd, _SLOT.pack(slot + self.interval), 0)
            return slot, now
        finally:
            os.close(fd)  # closing the descriptor releases the lock

    def _next_slot(self, fd):
        """(the next free slot, now); call with the file locked."""
        data = os.pread(fd, _SLOT.size, 0)
        booked = _SLOT.unpack(data)[0] if len(data) == _SLOT.size else 0.0
        now = self._clock()
        return (booked if now < booked < now + MAX_AHEAD_SECONDS else now), now


def api_pace(config):
    """The pace of every v3 API request made with this instance folder (CC_REQUESTS_PER_SECOND)."""
    return SharedPace(instance_file(config, "cc_pace_v3"), config["CC_REQUESTS_PER_SECOND"])
