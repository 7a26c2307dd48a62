"""A built wheel is the whole product: it serves its pages from any folder, with its own instance."""
import shutil
import subprocess
import sys
import sysconfig
import textwrap

import pytest

from . import ROOT

LEFT_BEHIND = shutil.ignore_patterns(".git", ".venv", "instance", "build", "dist", "*.egg-info",
                                     "__pycache__", ".pytest_cache", ".hypothesis", "bench")

SERVE_LOGIN_PAGE = textwrap.dedent("""
    import json, os, sys
    from eo_cc import create_app
    app = create_app()
    client = app.test_client()
    first = client.get("/")
    login = client.get(first.headers["Location"])
    style = client.get("/static/style.css")
    print(json.dumps({"status": first.status_code, "location": first.headers["Location"],
                      "login": login.status_code, "page": login.get_data(as_text=True),
                      "style": style.status_code, "instance": app.instance_path,
                      "package": os.path.dirname(sys.modules["eo_cc"].__file__)}))
""")


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """eo_cc built into a wheel from a copy of the checkout and installed into a fresh venv.

    The venv borrows the test environment's dependencies (a .pth line) so no download is
    needed; eo_cc itself comes only from the wheel.
    """
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    shutil.copytree(ROOT, source, ignore=LEFT_BEHIND)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "--quiet", "-w", str(work / "dist"), str(source)], check=True, timeout=300)
    wheel = next((work / "dist").glob("eo_cc-*.whl"))
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
                    "--no-deps", str(wheel)], check=True, timeout=300)
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    (venv / site.split(str(venv) + "/", 1)[1] / "dependencies.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n")
    elsewhere = work / "elsewhere"
    elsewhere.mkdir()
    return {"python": python, "venv": venv, "cwd": elsewhere, "wheel": wheel}


def run_in(installed, *args):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(installed["cwd"])}   # no EO_CC_INSTANCE_PATH
    return subprocess.run([str(installed["python"]), *args], cwd=installed["cwd"], env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_the_installed_wheel_serves_the_login_page_from_any_folder(installed):
    import json

    result = run_in(installed, "-c", SERVE_LOGIN_PAGE)
    assert result.returncode == 0, result.stderr
    served = json.loads(result.stdout)
    assert served["package"].startswith(str(installed["venv"]))   # not the checkout
    assert served["status"] == 302 and served["location"].endswith("/auth/login")
    assert served["login"] == 200 and "Log in" in served["page"] and "Password" in served["page"]
    assert served["style"] == 200
    assert served["instance"] == str(installed["venv"] / "var" / "eo_cc-instance")


@pytest.mark.slow
def test_the_wheel_ships_every_template_and_the_sandbox_with_its_command(installed):
    import zipfile

    names = zipfile.ZipFile(installed["wheel"]).namelist()
    for template in (ROOT / "templates").rglob("*"):
        if template.is_file():
            assert f"eo_cc/templates/{template.relative_to(ROOT / 'templates')}" in names
    assert "cc_sandbox/templates/sandbox/consent.html" in names
    result = run_in(installed, "-m", "flask", "--app", "eo_cc", "cc-sandbox", "--help")
    assert result.returncode == 0, result.stderr
    assert "--seed-demo" in result.stdout
