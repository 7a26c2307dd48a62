"""Shell commands beyond init-db and create-admin."""


def init_app(app):
    pass
