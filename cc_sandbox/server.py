"""Run the sandbox as a real HTTP server (werkzeug, threaded) in a daemon thread."""
import threading

from werkzeug.serving import WSGIRequestHandler, make_server

from .app import create_app
from .store import seed_demo  # noqa: F401  (part of this module's API)


class QuietHandler(WSGIRequestHandler):
    """No access log lines in test output."""

    def log_request(self, *args, **kwargs):
        pass


class SandboxServer:
    """A started sandbox: `.url`, `.sandbox` (limits, faults, stats), `.stop()`; a context manager."""

    def __init__(self, app, host="127.0.0.1", port=0, quiet=True):
        self.app = app
        self.sandbox = app.extensions["cc_sandbox"]
        handler = QuietHandler if quiet else WSGIRequestHandler
        self._server = make_server(host, port, app, threaded=True, request_handler=handler)
        self.host, self.port = host, self._server.server_port
        self.url = f"http://{host}:{self.port}"
        self._thread = None

    @property
    def authorize_url(self):
        return f"{self.url}/oauth2/default/v1/authorize"

    @property
    def token_url(self):
        return f"{self.url}/oauth2/default/v1/token"

    @property
    def revoke_url(self):
        return f"{self.url}/oauth2/default/v1/revoke"

    @property
    def api_base_url(self):
        return f"{self.url}/v3"

    def cc_config(self, client_id, client_secret):
        """eo_cc config keys that point it at this sandbox."""
        return {"CC_AUTHORIZE_URL": self.authorize_url, "CC_ACCESS_TOKEN_URL": self.token_url,
                "CC_REVOKE_URL": self.revoke_url, "CC_API_BASE_URL": self.api_base_url,
                "CC_CLIENT_ID": client_id, "CC_CLIENT_SECRET": client_secret}

    def start(self):
        self._thread = threading.Thread(target=self._server.serve_forever, name="cc-sandbox", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self):
        """Serve in the calling thread until interrupted (the CLI)."""
        self._server.serve_forever()

    def close(self):
        """Release the listening socket (after serve_forever has returned)."""
        self._server.server_close()

    def stop(self):
        self._server.shutdown()
        self.close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def start(db_path, port=0, host="127.0.0.1", *, demo=False, quiet=True, **options):
    """Start a sandbox over db_path on a free (or given) port; options go to `app.Sandbox`."""
    app = create_app(db_path, **options)
    if demo:
        seed_demo(db_path)
    return SandboxServer(app, host, port, quiet=quiet).start()
