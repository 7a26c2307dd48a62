"""eo_cc: online elections for small organisations, working with Constant Contact."""
import os
from pathlib import Path

from flask import Flask

PROJECT_ROOT = Path(__file__).resolve().parent.parent

DEFAULTS = dict(
    CC_AUTHORIZE_URL="https://authz.constantcontact.com/oauth2/default/v1/authorize",
    CC_ACCESS_TOKEN_URL="https://authz.constantcontact.com/oauth2/default/v1/token",
    CC_REVOKE_URL="https://authz.constantcontact.com/oauth2/default/v1/revoke",
    CC_API_BASE_URL="https://api.cc.email/v3",
    CC_CLIENT_ID=None,
    CC_CLIENT_SECRET=None,
    CC_USE_PKCE=True,
    CC_REQUESTS_PER_SECOND=4,
    CC_DAILY_REQUEST_BUDGET=10000,
    CC_SYNC_INTERVAL_MINUTES=60,
    MAIL_BACKEND="file",
    MAIL_SERVER="localhost",
    MAIL_PORT=25,
    MAIL_USERNAME=None,
    MAIL_PASSWORD=None,
    MAIL_USE_TLS=False,
    MAIL_FROM="eo_cc <elections@localhost>",
    BASE_URL="http://127.0.0.1:5000",  # for links in mail sent outside a request (cron)
    MAX_CONTENT_LENGTH=16 * 1024 * 1024,
    SESSION_COOKIE_HTTPONLY=True,
    SESSION_COOKIE_SAMESITE="Lax",
    REMEMBER_COOKIE_HTTPONLY=True,
    REMEMBER_COOKIE_SAMESITE="Lax",
    WTF_CSRF_TIME_LIMIT=None,  # an admin may leave a page open for hours
)


def instance_path():
    """The instance folder: EO_CC_INSTANCE_PATH, or instance/ beside the package."""
    return os.environ.get("EO_CC_INSTANCE_PATH") or str(PROJECT_ROOT / "instance")


def create_app(test_config=None):
    """Build the eo_cc Flask app."""
    app = Flask(
        __name__,
        instance_path=instance_path(),
        instance_relative_config=True,
        template_folder=str(PROJECT_ROOT / "templates"),
    )
    app.config.from_mapping(DEFAULTS, DATABASE=os.path.join(app.instance_path, "eo_cc.sqlite"))
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env()
    if test_config is not None:
        app.config.from_mapping(test_config)
    os.makedirs(app.instance_path, exist_ok=True)

    from . import (auth, cli, crypto, db, elections, integration, mail, roster,
                   security, sync_views, voting)

    crypto.init_app(app)
    db.init_app(app)
    security.init_app(app)
    auth.init_app(app)
    mail.init_app(app)
    integration.init_app(app)
    sync_views.init_app(app)
    cli.init_app(app)
    for module in (auth, elections, roster, voting, integration, sync_views):
        app.register_blueprint(module.bp)
    app.add_url_rule("/", endpoint="index", view_func=elections.index)
    return app
