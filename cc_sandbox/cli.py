"""`flask --app eo_cc cc-sandbox`: run the Constant Contact sandbox in the foreground."""
import os

import click
from flask import current_app
from flask.cli import with_appcontext

from .app import create_app
from .server import SandboxServer
from .store import open_db, seed_demo


@click.command("cc-sandbox")
@click.option("--port", default=5001, show_default=True, help="Port to listen on.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--db", "db_path", default=None, help="Sandbox database [default: <instance>/cc_sandbox.sqlite].")
@click.option("--seed-demo/--no-seed-demo", "seed_demo_", default=False, show_default=True,
              help="Create the demo account, app and lists if missing.")
@with_appcontext
def cc_sandbox_command(port, host, db_path, seed_demo_):
    """Run a local Constant Contact (OAuth + /v3) for the demo and tests."""
    db_path = db_path or os.path.join(current_app.instance_path, "cc_sandbox.sqlite")
    open_db(db_path).close()
    if seed_demo_:
        demo = seed_demo(db_path)
        click.echo(f"Demo sign-in: {demo['email']} / {demo['password']}; "
                   f"client {demo['client_id']} / {demo['client_secret']}")
    server = SandboxServer(create_app(db_path), host, port, quiet=False)
    click.echo(f"Constant Contact sandbox on {server.url} (database {db_path}); Ctrl-C stops it.")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
