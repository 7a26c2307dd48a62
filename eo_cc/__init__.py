"""eo_cc: online elections for small organisations, working with Constant Contact."""
import os

from flask import Flask

from .resources import TEMPLATE_FOLDER

DEFAULTS = dict(
    CC_AUTHORIZE_URL="https://authz.constantcontact.com/oauth2/default/v1/authorize",
    CC_ACCESS_TOKEN_URL="https://authz.constantcontact.com/oauth2/default/v1/token",
    CC_REVOKE_URL="https://authz.constantcontact.com/oauth2/default/v1/revoke",
    CC_API_BASE_URL="https://api.cc.email/v3",
    CC_CLIENT_ID=None,
    CC_CLIENT_SECRET=None,
    CC_USE_PKCE=True,
    CC_REQUESTS_PER_SECOND=4,
    CC_TOKEN_REQUESTS_PER_SECOND=1,
    CC_DAILY_REQUEST_BUDGET=10000,
    CC_SYNC_INTERVAL_MINUTES=60,
    CC_SYNC_POLL_SECONDS=120,
    MAIL_BACKEND="file",
    MAIL_SERVER="localhost",
    MAIL_PORT=25,
    MAIL_USERNAME=None,
    MAIL_PASSWORD=None,
    MAIL_USE_TLS=False,
    MAIL_FROM="eo_cc <elections@localhost>",
    OUTBOX=None,  # the file backend's folder; None: outbox/ in the instance folder
    MIX_BALLOTS_EVERY=10,  # rewrite the ballot box after this many new ballots
    BASE_URL="http://127.0.0.1:5000",  # for links in mail sent outside a request (cron)
    PROXY_FIX=False,
    MAX_CONTENT_LENGTH=16 * 1024 * 1024,
    SESSION_COOKIE_HTTPONLY=True,
    SESSION_COOKIE_SAMESITE="Lax",
    REMEMBER_COOKIE_HTTPONLY=True,
    REMEMBER_COOKIE_SAMESITE="Lax",
    WTF_CSRF_TIME_LIMIT=None,  # an admin may leave a page open for hours
)


def make_private_folder(path):
    """The instance folder holds the database, secrets and mail: only its owner may enter it."""
    os.makedirs(path, mode=0o700, exist_ok=True)
    if os.stat(path).st_mode & 0o077:
        os.chmod(path, 0o700)


def create_app(test_config=None):
    """Build the eo_cc Flask app.

    The instance folder is EO_CC_INSTANCE_PATH when set, else Flask's own choice: instance/
    beside a checkout, or <prefix>/var/eo_cc-instance when eo_cc is installed.
    """
    app = Flask(__name__, instance_path=os.environ.get("EO_CC_INSTANCE_PATH") or None,
                instance_relative_config=True, template_folder=str(TEMPLATE_FOLDER))
    app.config.from_mapping(DEFAULTS, DATABASE=os.path.join(app.instance_path, "eo_cc.sqlite"))
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env()
    if test_config is not None:
        app.config.from_mapping(test_config)
    make_private_folder(app.instance_path)

    from . import auth, crypto, db, mail, migrations, security
    from .cc import commands as cc_commands
    from .cc import mailing_views as cc_mailings
    from .cc import views as cc_views
    from .elections import commands as election_commands
    from .elections import questions, results
    from .elections import views as elections
    from .organisations import access
    from .organisations import views as organisations
    from .roster import views as roster
    from .voting import ballot_box, notices
    from .voting import views as voting

    crypto.init_app(app)
    db.init_app(app)
    migrations.init_app(app)
    security.init_app(app)
    auth.init_app(app)
    access.init_app(app)
    notices.init_app(app)
    ballot_box.init_app(app)
    cc_views.init_app(app)
    cc_commands.init_app(app)
    election_commands.init_app(app)
    for module in (auth, elections, questions, results, roster, voting, cc_views, cc_mailings, organisations):
        app.register_blueprint(module.bp)
    mail.warn_about_a_demo_outbox(app)
    app.add_url_rule("/", endpoint="index", view_func=elections.index)
    return app
