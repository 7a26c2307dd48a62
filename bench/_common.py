"""What the benchmarks share: paths, a sandbox in its own process, seeding, figures, the result line.

Every benchmark prints its figures for people and ends with one `RESULT {json}` line that
`bench/run_all.py` reads to print the summary table.
"""
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as `python bench/x.py`: make eo_cc and tests importable
    sys.path.insert(0, str(ROOT))

SECRET_KEY = "bench-secret-key-not-for-production"
SANDBOX_CLIENT = ("eo-cc-bench", "eo-cc-bench-secret")
REDIRECT_URI = "http://127.0.0.1:5000/integration/cc/callback"


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port, timeout, process=None):
    """Wait until something accepts connections on 127.0.0.1:port; raise after timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def percentile(values, share):
    """The value below which `share` (0..1) of the sorted values fall (nearest rank)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def mib(n_bytes):
    return n_bytes / (1024 * 1024)


def peak_rss_mib():
    """This process's peak resident memory so far (Linux reports KiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def result(name, **figures):
    """Print the machine-readable result line run_all.py collects."""
    print("RESULT " + json.dumps({"bench": name, **figures}), flush=True)


def machine():
    """nproc, CPU model and Python version, for BENCHMARKS.md."""
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": model, "python": sys.version.split()[0]}


# --- a sandbox in its own process -------------------------------------------------------

SANDBOX_SCRIPT = """
import json, sys, time
from cc_sandbox import server
options = json.loads(sys.argv[2])
lifetime = options.pop("lifetime")
running = server.start(sys.argv[1], **options)
print(running.url, flush=True)
deadline = time.monotonic() + lifetime
try:
    while time.monotonic() < deadline and sys.stdin.readline():
        pass   # stdin closes when the benchmark is done; the lifetime is the backstop
finally:
    running.stop()
"""


class SandboxProcess:
    """The CC sandbox (cc_sandbox.server.start) in a child process, so it has its own CPU
    and interpreter; it stops when the benchmark closes its stdin or after `lifetime` seconds."""

    def __init__(self, db_path, lifetime=900, **options):
        self.process = subprocess.Popen(
            [sys.executable, "-c", SANDBOX_SCRIPT, str(db_path),
             json.dumps({**options, "lifetime": lifetime})],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=str(ROOT))
        self.url = self.process.stdout.readline().strip()
        if not self.url.startswith("http"):
            self.stop()
            raise RuntimeError("the sandbox did not start")

    @property
    def api_base_url(self):
        return f"{self.url}/v3"

    def cc_config(self):
        return {"CC_AUTHORIZE_URL": f"{self.url}/oauth2/default/v1/authorize",
                "CC_ACCESS_TOKEN_URL": f"{self.url}/oauth2/default/v1/token",
                "CC_REVOKE_URL": f"{self.url}/oauth2/default/v1/revoke",
                "CC_API_BASE_URL": self.api_base_url,
                "CC_CLIENT_ID": SANDBOX_CLIENT[0], "CC_CLIENT_SECRET": SANDBOX_CLIENT[1]}

    def stop(self):
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def seed_sandbox(db_path, list_name, emails):
    """Seed the sandbox database (before it starts): an account, our client app, one list.

    Returns (account id, list id)."""
    from cc_sandbox import store

    db = store.open_db(db_path)
    try:
        seeded = store.seed(db, {
            "account": {"email": "owner@example.org", "name": "Bench Association"},
            "client": {"client_id": SANDBOX_CLIENT[0], "client_secret": SANDBOX_CLIENT[1],
                       "redirect_uris": [REDIRECT_URI]},
            "lists": [{"name": list_name, "emails": emails}]})
    finally:
        db.close()
    return seeded["account_id"], seeded["lists"][0]["list_id"]


def sandbox_token(db_path, account_id):
    """A real sandbox token for the account: an authorization code exchanged as /token would."""
    from cc_sandbox import tokens

    return tokens.grant_directly(db_path, SANDBOX_CLIENT[0], account_id, REDIRECT_URI)


# --- an eo_cc database --------------------------------------------------------------------

def eo_cc_database(path):
    """A migrated eo_cc database at path (a sqlite-utils Database)."""
    from eo_cc.db import connect
    from eo_cc.migrations import migrate

    db = connect(path)
    migrate(db)
    return db


def cheap_admin(db, email="bench@example.org"):
    """An admin, with cheap password hashing: the admin never signs in during a benchmark."""
    from eo_cc import auth
    from tests.factories import make_admin

    auth.PASSWORD_METHOD = "pbkdf2:sha256:1000"
    return make_admin(db, email=email)
