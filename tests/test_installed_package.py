"""The workbench installed from its wheel, outside the checkout, as a user would have it.

The wheel is built here and installed (without dependencies) into a fresh virtualenv in a
temporary folder; the dependencies come from the test environment through a ``.pth`` line (and
their Jupyter data files through ``JUPYTER_PATH``), so nothing is downloaded. Run from another directory, ``workbench --version`` answers,
``workbench notebooks DIR`` copies the walkthroughs out, and ``workbench dashboard`` serves the
monitoring page from the notebook inside the package: Chromium sees its tiles.
"""
import os
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

from voila_helpers import chromium_page, url_in_log, wait_until_served
from workbench.demo import train_digits_versions
from workbench.processes import stop_process_group
from workbench.serving.endpoint import free_port

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """``(bin folder, a working directory outside the checkout)`` of a fresh install."""
    tmp = tmp_path_factory.mktemp("installed")
    wheels = tmp / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(wheels),
                    str(ROOT)], check=True, timeout=600, capture_output=True)
    wheel = next(wheels.glob("maas_workbench-*.whl"))
    venv = tmp / "venv"
    subprocess.run([sys._base_executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    purelib = Path(subprocess.run([str(venv / "bin" / "python"), "-c",
                                   "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  check=True, capture_output=True, text=True).stdout.strip())
    # the dependencies of the test environment (plain path: its editable finder is not run)
    (purelib / "test-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
                    "--no-deps", "--quiet", str(wheel)], check=True, timeout=600, capture_output=True)
    elsewhere = tmp / "elsewhere"
    elsewhere.mkdir()
    return venv / "bin", elsewhere


def run(bin_dir, cwd, *args, **kwargs):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run([str(bin_dir / "workbench"), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120, env=env, stdin=subprocess.DEVNULL, **kwargs)


def test_the_installed_package_is_not_the_checkout(installed):
    bin_dir, cwd = installed
    where = subprocess.run([str(bin_dir / "python"), "-c", "import workbench; print(workbench.__file__)"],
                           cwd=cwd, capture_output=True, text=True, check=True).stdout
    assert str(ROOT) not in where and "site-packages" in where
    assert run(bin_dir, cwd, "--version").stdout.startswith("workbench 0.")


def test_workbench_notebooks_from_the_installed_package(installed):
    bin_dir, cwd = installed
    result = run(bin_dir, cwd, "notebooks", "course")
    assert result.returncode == 0, result.stderr
    copied = sorted(p.name for p in (cwd / "course").glob("*.ipynb"))
    assert copied == sorted(p.name for p in (ROOT / "notebooks").glob("[0-9]*.ipynb"))
    assert (cwd / "course" / "solutions").is_dir()


def test_workbench_dashboard_from_the_installed_package(installed, tmp_path):
    from playwright.sync_api import expect

    bin_dir, cwd = installed
    home = tmp_path / "home"
    train_digits_versions(home, progress=False)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    # Voila's templates are data files that pip puts under <prefix>/share/jupyter; here they
    # stayed with the dependencies in the test environment
    env["JUPYTER_PATH"] = str(Path(sys.prefix) / "share" / "jupyter")
    log_path = tmp_path / "dashboard.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([str(bin_dir / "workbench"), "dashboard", "--home", str(home),
                                 "--port", str(port)], cwd=cwd, env=env, stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    try:
        page_url = url_in_log(proc, log_path, r"(http://127\.0\.0\.1:\d+/\?token=\S+)", seconds=90)
        wait_until_served(page_url, proc, log_path)
        expect.set_options(timeout=90_000)
        with chromium_page() as page:
            page.goto(page_url, wait_until="domcontentloaded")
            expect(page.locator(".wb-dashboard")).to_be_visible()
            expect(page.locator(".wb-kpi-version .wb-kpi-value")).to_have_text("v2")
            assert page.locator('[data-mime-type="application/vnd.jupyter.stderr"]').count() == 0
            assert "Traceback" not in page.content()
        # the dashboard ran the notebook shipped in the package, not the checkout's
        assert str(ROOT / "notebooks") not in log_path.read_text(errors="replace")
    finally:
        stop_process_group(proc, timeout=20)
    # SIGTERM to the command stops the Voila it started in a session of its own, too
    import psutil

    deadline = time.monotonic() + 20
    while any(f"--port={port}" in " ".join(p.info["cmdline"] or []) for p in
              psutil.process_iter(["cmdline"])):
        assert time.monotonic() < deadline, "Voila outlived `workbench dashboard`"
        time.sleep(0.2)
