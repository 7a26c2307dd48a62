"""The pace shared by every process that calls Constant Contact with one instance folder."""
import os
import stat
import subprocess
import sys
import threading
import time

import pytest

from cc_sandbox import server, store, tokens
from eo_cc.cc.pace import MAX_AHEAD_SECONDS, SharedPace


class FakeTime:
    def __init__(self):
        self.now = 100.0
        self.sleeps = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


@pytest.fixture
def pace_file(tmp_path):
    return tmp_path / "cc_pace_v3"


def test_pace_spaces_requests_at_least_one_interval_apart(pace_file):
    fake = FakeTime()
    pace = SharedPace(pace_file, 4, clock=fake.clock, sleep=fake.sleep, margin=0)
    moments = []
    for _ in range(4):
        pace.wait()
        moments.append(fake.now)
    assert fake.sleeps == [0.25, 0.25, 0.25]
    assert moments == [100.0, 100.25, 100.5, 100.75]


def test_pace_does_not_sleep_when_requests_are_already_far_apart(pace_file):
    fake = FakeTime()
    pace = SharedPace(pace_file, 4, clock=fake.clock, sleep=fake.sleep, margin=0)
    pace.wait()
    fake.now += 0.1
    pace.wait()  # 0.15 s still to go
    fake.now += 1.0
    pace.wait()
    assert fake.sleeps == [0.15]


def test_pace_leaves_a_small_margin_for_network_jitter_by_default(pace_file):
    fake = FakeTime()
    pace = SharedPace(pace_file, 4, clock=fake.clock, sleep=fake.sleep)
    pace.wait()
    pace.wait()
    assert 0.25 < fake.sleeps[0] <= 0.3


def test_two_paces_on_one_file_share_the_slots(pace_file):
    """Two processes' paces are two objects over one file: the second waits for the first's slot."""
    fake = FakeTime()
    site = SharedPace(pace_file, 4, clock=fake.clock, sleep=fake.sleep, margin=0)
    cron = SharedPace(pace_file, 4, clock=fake.clock, sleep=fake.sleep, margin=0)
    site.wait()
    cron.wait()
    site.wait()
    assert fake.sleeps == [0.25, 0.25]


def test_a_slot_booked_far_ahead_is_stale_and_not_waited_for(pace_file):
    """After the clock moved back (or a reboot), a booking far in the future must not stall every request."""
    fake = FakeTime()
    pace = SharedPace(pace_file, 4, clock=fake.clock, sleep=fake.sleep, margin=0)
    pace.wait()
    fake.now -= MAX_AHEAD_SECONDS * 10
    pace.wait()
    assert fake.sleeps == []


def test_the_pace_file_is_private(pace_file):
    SharedPace(pace_file, 4).wait()
    assert stat.S_IMODE(os.stat(pace_file).st_mode) == 0o600


def test_pace_spaces_requests_from_several_threads(pace_file):
    pace = SharedPace(pace_file, 50)
    waits = []

    def work():
        for _ in range(3):
            pace.wait()
            waits.append(time.monotonic())

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    waits.sort()
    # 12 requests at 50 per second: each at least one interval after the one before.
    assert len(waits) == 12
    assert all(b - a >= 1 / 50 for a, b in zip(waits, waits[1:]))


@pytest.mark.parametrize("rate", [0, -1])
def test_pace_refuses_a_rate_that_is_not_positive(pace_file, rate):
    with pytest.raises(ValueError):
        SharedPace(pace_file, rate)


@pytest.mark.slow
def test_four_processes_calling_at_once_stay_within_four_a_second_at_the_sandbox(tmp_path):
    """The site's workers and the cron job are separate processes with one API key: started
    together (a barrier on stdin), four processes of 5 calls each are never throttled by a
    sandbox enforcing CC's 4 requests a second."""
    calls_each, processes = 5, 4
    with server.start(tmp_path / "sandbox.sqlite", demo=True, requests_per_second=4) as sandbox:
        demo = store.seed_demo(str(tmp_path / "sandbox.sqlite"))
        token = tokens.grant_directly(str(tmp_path / "sandbox.sqlite"), demo["client_id"],
                                      demo["account_id"], "http://127.0.0.1/callback")["access_token"]
        children = [subprocess.Popen(
            [sys.executable, "-m", "tests.cc.pace_child", sandbox.api_base_url, token,
             str(tmp_path / "cc_pace_v3"), "4", str(calls_each)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for _ in range(processes)]
        time.sleep(1.0)  # let every child import and reach the barrier
        for child in children:
            child.stdin.write("g")
            child.stdin.flush()
        outputs = [child.communicate(timeout=60)[0].strip() for child in children]
        stats = sandbox.sandbox.stats.as_dict()
    assert outputs == [str(calls_each)] * processes
    assert stats["throttled"] == 0
    assert stats["requests"]["GET /v3/contact_lists"] == calls_each * processes


def test_a_turn_holds_the_pace_until_its_answer_is_in(pace_file):
    """The next request leaves one interval after the previous answer, however long it took."""
    fake = FakeTime()
    pace = SharedPace(pace_file, 1, clock=fake.clock, sleep=fake.sleep, margin=0)
    with pace.turn():
        fake.now += 0.4          # the answer takes 0.4 s to come back
    with pace.turn():
        sent = fake.now
    assert sent == 101.4
    assert fake.sleeps == [1.0]


def test_a_turn_waits_for_a_slot_booked_by_wait(pace_file):
    fake = FakeTime()
    pace = SharedPace(pace_file, 1, clock=fake.clock, sleep=fake.sleep, margin=0)
    pace.wait()
    with pace.turn():
        assert fake.now == 101.0


def test_a_turn_excludes_other_open_files_until_it_ends(pace_file):
    import fcntl

    pace = SharedPace(pace_file, 1000)
    with pace.turn():
        fd = os.open(pace_file, os.O_RDWR)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)
