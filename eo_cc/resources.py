"""Where eo_cc's own files are, in a checkout and in an installed wheel alike."""
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


def _template_folder():
    """templates/ inside the installed package (a built wheel), else the checkout's top-level one."""
    shipped = PACKAGE / "templates"
    return shipped if shipped.is_dir() else PACKAGE.parent / "templates"


TEMPLATE_FOLDER = _template_folder()
