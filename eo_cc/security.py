"""Security headers, CSRF, cookie flags and error pages that leak nothing."""
from functools import lru_cache
from urllib.parse import urlsplit

from flask import abort, current_app, render_template, request
from flask_login import current_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.routing import IntegerConverter

csrf = CSRFProtect()

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "form-action 'self' {form_action}; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")

ERRORS = {
    400: ("Bad request", "The request could not be understood. Please go back and try again."),
    403: ("Not allowed", "You do not have permission to do that."),
    404: ("Not found", "There is nothing here. Check the address, or go back to your elections."),
    405: ("Not allowed", "That action is not available here."),
    413: ("File too large", "That upload is too large: files may be at most 16 MB. Nothing was saved."),
    429: ("Too many attempts", "Too many attempts. Please wait a few minutes and try again."),
    500: ("Something went wrong", "Something went wrong on our side. Nothing you entered was lost; please try again."),
}


class SQLiteIntConverter(IntegerConverter):
    """<int:...> that stops at SQLite's largest integer: a bigger id is a 404, not an OverflowError."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", 2 ** 63 - 1)
        super().__init__(map, *args, **kwargs)


def add_security_headers(response):
    response.headers.setdefault("Content-Security-Policy",
                                content_security_policy(current_app.config.get("CC_AUTHORIZE_URL")))
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if request.endpoint != "static" and current_user.is_authenticated:
        # An admin's pages show voters' names, emails and who voted: no copy in any cache.
        response.headers.setdefault("Cache-Control", "no-store")
    return response


@lru_cache(maxsize=16)
def content_security_policy(authorize_url):
    """The CSP header; built once per authorize URL, not on every response."""
    # Grant access posts a form that redirects to Constant Contact's sign-in page.
    url = urlsplit(authorize_url or "")
    form_action = f"{url.scheme}://{url.netloc}" if url.netloc else ""
    return CSP.format(form_action=form_action).strip()


def refuse_json_forms():
    # Flask-WTF reads a JSON body as form data, where lists, numbers and objects break fields
    # that expect text; every eo_cc form is an HTML form, so JSON is a bad request.
    if request.method == "POST" and request.is_json:
        abort(400)


def render_error(error):
    code = getattr(error, "code", 500) or 500
    if isinstance(error, CSRFError):
        title, text = "Form expired", ("This form was open too long or was sent from elsewhere. "
                                       "Please reload the page and try again.")
    else:
        title, text = ERRORS.get(code, ERRORS[500])
    return render_template("error.html", code=code, title=title, text=text), code


def init_app(app):
    """Call before the blueprints are registered: their rules pick up the int converter."""
    app.url_map.converters["int"] = SQLiteIntConverter
    csrf.init_app(app)
    app.before_request(refuse_json_forms)
    app.after_request(add_security_headers)
    for code in ERRORS:
        app.register_error_handler(code, render_error)
    app.register_error_handler(CSRFError, render_error)
    if app.config.get("PREFERRED_URL_SCHEME") == "https":
        # Served over https (behind a proxy): cookies never travel in clear.
        app.config["SESSION_COOKIE_SECURE"] = True
        app.config["REMEMBER_COOKIE_SECURE"] = True
    if app.config.get("PROXY_FIX"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)
