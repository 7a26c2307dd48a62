"""`make demo`: run eo_cc and a local Constant Contact sandbox, seeded with demo data.

Both listen on 127.0.0.1 (ports from EO_CC_DEMO_PORT and EO_CC_SANDBOX_PORT, default
5000 and 5001) and keep their data in eo_cc's instance folder (EO_CC_INSTANCE_PATH, or
instance/ in the checkout), so a second run picks up where the first left off. Ctrl-C
stops both.
"""
import os
import signal
import sys

from werkzeug.serving import make_server

from cc_sandbox import demo
from cc_sandbox import server as sandbox_server
from cc_sandbox import store as sandbox_store
from eo_cc import create_app
from eo_cc.db import connect
from eo_cc.migrations import migrate

SANDBOX_DB = "cc_sandbox.sqlite"


def port(name, default):
    value = os.environ.get(name, str(default))
    if not value.isdigit():
        sys.exit(f"{name} must be a port number, not {value!r}")
    return int(value)


def site_config(site_url, sandbox_url):
    """Settings for this run: CC pointed at the sandbox. Nothing secret is written to the repo."""
    return {
        **demo.sandbox_config(sandbox_url),
        "BASE_URL": site_url,
    }


def prepare_database(app):
    """Apply migrations and seed the demo organisation and election; return (election, voter logins)."""
    db = connect(app.config["DATABASE"])
    try:
        migrate(db)
        election = demo.seed(db, app.config["SECRET_KEY"])
        return election, demo.voter_logins(db, app.config["SECRET_KEY"], election["id"])
    finally:
        db.close()


def start_sandbox(folder, sandbox_port):
    try:
        return sandbox_server.start(os.path.join(folder, SANDBOX_DB), port=sandbox_port, demo=True)
    except OSError as error:
        sys.exit(f"Cannot start the sandbox on 127.0.0.1:{sandbox_port}: {error.strerror} "
                 "(set EO_CC_SANDBOX_PORT to use another port)")


def make_site(app, site_port):
    try:
        return make_server("127.0.0.1", site_port, app, threaded=True)
    except OSError as error:
        sys.exit(f"Cannot serve the site on 127.0.0.1:{site_port}: {error.strerror} "
                 "(set EO_CC_DEMO_PORT to use another port)")


def banner(site_url, sandbox, election, voters):
    print(f"""
eo_cc demo is running.

  Site:     {site_url}
            {demo.ORGANISATION_NAME}, two members:
            owner login:    {demo.ADMIN_EMAIL} / {demo.ADMIN_PASSWORD}
            observer login: {demo.OBSERVER_EMAIL} / {demo.OBSERVER_PASSWORD}
            election "{election['title']}": {site_url}/elections/{election['id']}
  Voters:   {site_url}/vote/{election['slug']}""")
    for voter_id, password in voters:
        print(f"            Voter ID {voter_id} / password {password}")
    print(f"""  Sandbox:  {sandbox.url} (a local stand-in for Constant Contact)
            Constant Contact login: {sandbox_login()}

Ctrl-C stops both.
""", flush=True)


def sandbox_login():
    return f"{sandbox_store.DEMO_EMAIL} / {sandbox_store.DEMO_PASSWORD}"


def stop_on_signals():
    """Ctrl-C and `kill` both stop the site and then the sandbox, cleanly."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)


def main():
    stop_on_signals()
    site_port, sandbox_port = port("EO_CC_DEMO_PORT", 5000), port("EO_CC_SANDBOX_PORT", 5001)
    site_url = f"http://127.0.0.1:{site_port}"
    app = create_app(site_config(site_url, f"http://127.0.0.1:{sandbox_port}"))
    sandbox = start_sandbox(app.instance_path, sandbox_port)
    try:
        election, voters = prepare_database(app)
        site = make_site(app, site_port)
        banner(site_url, sandbox, election, voters)
        try:
            site.serve_forever()  # werkzeug returns from here on Ctrl-C
        except KeyboardInterrupt:
            pass
        finally:
            site.server_close()
    finally:
        sandbox.stop()
    print("\nThe site and the sandbox have stopped.")


if __name__ == "__main__":
    main()
