"""The dashboard's kernel manager and Voila command: pre-heated kernels import what the page's
first full refresh needs before they run the notebook, and the log says when a pre-heated kernel
has rendered the page (a page request is then answered from it without running any cell)."""
import asyncio
import os
import time

import httpx
import psutil
import pytest
from voila_helpers import running_voila

from workbench.dashboard import PAGE_EXTENSIONS, POOL_REFILL_DELAY, PRELOAD, voila_command
from workbench.demo import ROOT
from workbench.panels.voila_kernels import DashboardKernelManager, preload_argument


@pytest.mark.parametrize("name", ["", "scipy stats", "os; import shutil", "a..b", "x.", "1abc",
                                  "__import__('os')", "a-b"])
def test_preload_accepts_only_module_names(name):
    with pytest.raises(ValueError, match="not a module name"):
        preload_argument([name])


def test_preload_argument_is_one_ipykernel_option_leaving_no_name_behind():
    option = preload_argument(["json", "xml.dom"])
    assert option.startswith("--IPKernelApp.exec_lines=")
    code = option.split("=", 1)[1]
    namespace = {}
    exec(code, namespace)  # the line the kernel runs, on trusted module names
    assert set(namespace) == {"__builtins__"}  # nothing left in the notebook's namespace


def test_voila_command_preloads_the_refresh_imports_and_loads_only_the_widget_manager():
    command = voila_command(8866)
    assert "--VoilaConfiguration.preheat_kernel=True" in command
    assert "--VoilaConfiguration.default_pool_size=1" in command
    assert f"--VoilaKernelManager.fill_delay={POOL_REFILL_DELAY}" in command
    assert f"--VoilaConfiguration.extension_allowlist={list(PAGE_EXTENSIONS)!r}" in command
    assert [a.split("=", 1)[1] for a in command if a.startswith("--DashboardKernelManager.preload=")] \
        == list(PRELOAD)
    assert "scipy.stats" in PRELOAD and "matplotlib.figure" in PRELOAD


async def _modules_in_kernel(env, modules):
    km = DashboardKernelManager(preload=list(modules))
    kernel_id = await km.start_kernel(kernel_name="python3", env=env)
    client = km.get_kernel(kernel_id).client()
    client.start_channels()
    try:
        await client.wait_for_ready(timeout=60)
        found = []

        def hook(msg):
            if msg["msg_type"] == "stream":
                found.append(msg["content"]["text"])

        await client.execute_interactive(
            f"import sys; print(sorted(m for m in {tuple(modules)!r} if m in sys.modules), "
            "'_wb_il' in dir())", output_hook=hook, timeout=60)
        return "".join(found).strip()
    finally:
        client.stop_channels()
        await km.shutdown_kernel(kernel_id, now=True)


@pytest.mark.slow
def test_only_pre_heated_kernels_preload():
    modules = ("colorsys", "wave")  # nothing ipykernel imports by itself
    env = {k: v for k, v in os.environ.items() if k != "VOILA_PREHEAT"}
    pre_heated = asyncio.run(_modules_in_kernel({**env, "VOILA_PREHEAT": "True"}, modules))
    for_a_page = asyncio.run(_modules_in_kernel({**env, "VOILA_PREHEAT": "False"}, modules))
    assert pre_heated == "['colorsys', 'wave'] False"
    assert for_a_page == "[] False"


@pytest.mark.slow
def test_the_pre_heated_kernel_renders_the_page_before_it_is_asked_for(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    with running_voila(home, tmp_path / "voila.log", cwd=ROOT) as server:
        deadline = time.monotonic() + 180
        while "has rendered 04_monitoring.ipynb" not in server.log_path.read_text(errors="replace"):
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.2)
        kernels = [p for p in psutil.Process(server.proc.pid).children(recursive=True)
                   if "ipykernel_launcher" in " ".join(p.cmdline())]
        assert len(kernels) == 1
        assert any(a.startswith("--IPKernelApp.exec_lines=") and "scipy.stats" in a
                   for a in kernels[0].cmdline())
        page = httpx.get(server.url_with_token, timeout=60)
        assert page.status_code == 200
        assert "application/vnd.jupyter.widget-view+json" in page.text  # the dashboard widget
        assert "Traceback" not in page.text
        # the page config names only the widget manager's extensions (jupytext is installed here)
        assert "widgets-manager8" in page.text and "jupytext" not in page.text
        log = server.log()
        assert "Using pre-heated kernel" in log and "Could not pre-heat" not in log
