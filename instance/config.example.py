# Copy to instance/config.py (never committed) and fill in. FLASK_<KEY> environment
# variables override these. SECRET_KEY is generated into instance/secret_key on first run.

# The site's public address, for links in mail sent by cron.
BASE_URL = "https://vote.example.org"

# Behind an https reverse proxy: mark cookies Secure and trust X-Forwarded-* headers.
PREFERRED_URL_SCHEME = "https"
PROXY_FIX = True

# Your Constant Contact application (redirect URI: https://vote.example.org/integration/cc/callback).
CC_CLIENT_ID = ""
CC_CLIENT_SECRET = ""

# Mail: "file" writes .eml files to instance/outbox/; "smtp" sends them.
MAIL_BACKEND = "smtp"
MAIL_SERVER = "smtp.example.org"
MAIL_PORT = 587
MAIL_USE_TLS = True
MAIL_USERNAME = ""
MAIL_PASSWORD = ""
MAIL_FROM = "Elections <elections@example.org>"
