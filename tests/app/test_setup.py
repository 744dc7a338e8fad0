"""Registering the App from its manifest in a real headless Chromium (issue 14, part 1).

`goreef serve` starts with no credentials; the browser opens `/setup`, names an organisation,
and posts the manifest to the emulator's new-App page, which sends it back to the callback
with a one-time code. The callback writes the App's credentials to the env file, owner-only;
serve sees them and starts reviewing, and `/setup` is gone.

Uses Debian's `chromium` and `chromium-driver` (`.ci/run` installs them): no downloaded browser.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from appcore.settings import APP_VARIABLES, read_env_file
from tests.app.emulator import GitHubEmulator
from tests.app.processes import Serve, until
from tests.app.webhooks import WebhookSender

CHROMEDRIVER = shutil.which("chromedriver")


@pytest.fixture
def browser() -> Iterator[object]:
    if CHROMEDRIVER is None:
        pytest.skip("Debian's chromium and chromium-driver are not installed (.ci/run installs them)")
    os.environ.setdefault("SE_OFFLINE", "true")  # selenium must never fetch a driver or a browser
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def test_the_app_is_registered_from_its_manifest_in_two_clicks(
    serving: Callable[..., Serve], browser, emulator: GitHubEmulator, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    env_file = tmp_path / "goreef.env"
    env_file.write_text("# the team's own\nLOG_LEVEL=debug\n")  # kept: /setup appends
    environment = {k: v for k, v in os.environ.items() if k not in APP_VARIABLES}
    environment |= {"GITHUB_URL": emulator.url, "GITHUB_API_URL": emulator.url, "GOREEF_ENV_FILE": str(env_file)}
    serve = serving(environment)
    assert f"open {serve.url}/setup" in serve.output()

    browser.get(serve.url + "/setup")
    browser.find_element(By.NAME, "organization").send_keys("acme")
    browser.find_element(By.XPATH, "//button[text()='Choose']").click()
    wait = WebDriverWait(browser, 30)
    wait.until(expected_conditions.text_to_be_present_in_element((By.ID, "create"), "acme"))  # the page for acme
    browser.find_element(By.ID, "create").click()
    install = wait.until(expected_conditions.presence_of_element_located((By.ID, "install")))

    [app] = emulator.registered_apps
    assert install.get_attribute("href") == f"{app['html_url']}/installations/new"
    assert app["owner"]["login"] == "acme"
    assert app["manifest"]["hook_attributes"]["url"] == f"{serve.url}/webhooks/github"
    assert app["manifest"]["default_permissions"]["checks"] == "write"
    # The credentials, in a file only their owner can read, and nowhere in the logs.
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert env_file.read_text().startswith("# the team's own\nLOG_LEVEL=debug\n")
    written = read_env_file(env_file)
    assert (written["GITHUB_APP_ID"], written["GITHUB_WEBHOOK_SECRET"]) == (str(app["id"]), app["webhook_secret"])
    key = load_pem_private_key(written["GITHUB_PRIVATE_KEY"].replace("\\n", "\n").encode(), password=None)
    assert key.public_key() == load_pem_private_key(app["pem"].encode(), password=None).public_key()
    assert app["webhook_secret"] not in serve.output() and "PRIVATE KEY" not in serve.output()

    # serve reviews from now on: its worker runs, its web process verifies the App's webhooks.
    until(lambda: "worker pid" in serve.output(), "the review worker to start")
    sender = WebhookSender(serve.url, app["webhook_secret"], emulator)

    def pings() -> bool:
        try:
            return sender.deliver("ping", WebhookSender.ping()).status_code == 200
        except requests.ConnectionError:
            return False  # a connection of a worker the reload is replacing

    # Until gunicorn's reloaded workers have replaced the others, a delivery may still get 503
    # or see its connection closed (GitHub delivers it again).
    until(pings, "the App's webhooks")
    assert requests.get(serve.url + "/setup", timeout=10).status_code == 404
    assert serve.stop() == 0


def test_a_forged_state_or_a_refused_code_writes_nothing(
    serving: Callable[..., Serve], emulator: GitHubEmulator, tmp_path: Path
) -> None:
    env_file = tmp_path / "goreef.env"
    environment = {k: v for k, v in os.environ.items() if k not in APP_VARIABLES}
    serve = serving(environment | {"GITHUB_API_URL": emulator.url, "GOREEF_ENV_FILE": str(env_file)})
    callback = serve.url + "/setup/callback"
    [state] = re.findall(r"state=([\w.-]+)", requests.get(serve.url + "/setup", timeout=10).text)

    # Change the last character to one it is not, so the forgery never equals the real state.
    forged_state = state[:-1] + ("1" if state.endswith("0") else "0")
    forged = requests.get(callback, params={"code": "abc", "state": forged_state}, timeout=10)
    used = requests.get(callback, params={"code": "never-issued", "state": state}, timeout=10)

    assert (forged.status_code, used.status_code) == (400, 502)
    assert "the code is used or expired" in used.text
    assert not env_file.exists()
