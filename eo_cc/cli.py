"""Shell commands beyond init-db and create-admin."""


def init_app(app):
    from .sandbox.cli import cc_sandbox_command
    app.cli.add_command(cc_sandbox_command)
