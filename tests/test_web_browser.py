"""The web page in a real browser: headless Chromium against `langgraph dev` on loopback.

The chat runs the real recommender graph with the rule experts (chosen in the page, so they reach
the graph through the run context) and the committed SFT Planner: no LLM is needed. The runs view
reads a fast-mode run generated here. Every request the page makes is recorded from Chromium's
performance log and must go to the loopback server.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest

from tests.browser import Browser, have_chromium
from tests.servers import ROOT, langgraph_dev

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]

INJECTION = "<script>window.pwned = 1</script> I love scary horror movies"

if not have_chromium():
    pytest.skip(
        "needs Debian's chromium and chromium-driver (make test installs them)",
        allow_module_level=True,
    )


@pytest.fixture(scope="module")
def runs_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two fast-mode runs, played at once: the SFT Planner ("fast") and the uniform one."""
    root = tmp_path_factory.mktemp("runs")
    env = os.environ | {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    processes = []
    for name, planner in (("fast", "sft"), ("uniform", "uniform")):
        command = [sys.executable, "-m", "cli.main", "rollout", "--seeker", "act", "--experts"]
        command += ["rule", "--planner", planner, "--episodes", "5", "--out", str(root / name)]
        processes.append(
            subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
        )
    for process in processes:
        _, stderr = process.communicate(timeout=600)
        assert process.returncode == 0, stderr.decode()[-3000:]
    return root


@pytest.fixture(scope="module")
def server_url(runs_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from graph import resources

    resources.movie_index()  # build (or validate) the cached index before the server needs it
    logs = tmp_path_factory.mktemp("langgraph-dev")
    with langgraph_dev({"RSO_WEB_RUNS": str(runs_root)}, logs / "server.log") as url:
        yield url


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    browser = Browser(tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield browser
    finally:
        browser.driver.quit()


def test_the_page_in_a_browser(server_url: str, browser: Browser, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    driver = browser.driver
    driver.set_script_timeout(30)
    # What Chromium loaded for itself before the page (its new-tab page) is not the page's.
    driver.get("about:blank")
    browser.requested().clear()

    # Chat: a turn of the real graph, its 14-bar distribution, and the message shown as text.
    driver.get(f"{server_url}/web/#/chat")
    browser.wait_for("#chat-input")
    Select(driver.find_element(By.ID, "experts")).select_by_value("rule")
    driver.find_element(By.ID, "chat-input").send_keys(INJECTION)
    driver.find_element(By.ID, "chat-send").click()
    bars = browser.wait_for("#chat-log .turn svg.dist rect.bar", timeout=300)
    assert len(bars) == 14
    reply = driver.find_element(By.CSS_SELECTOR, "#chat-log .turn .msg.ai").text
    assert reply.removeprefix("Recommender").strip()
    assert INJECTION in driver.find_element(By.CSS_SELECTOR, "#chat-log .msg.human").text
    assert driver.execute_script("return window.pwned") is None
    assert driver.execute_script("return document.querySelectorAll('#view script').length") == 0
    assert driver.find_element(By.CSS_SELECTOR, "#chat-log .turn .strategy").text
    browser.screenshot("web-chat", tmp_path)

    # The thread persists across a reload, with its turn's details.
    driver.refresh()
    assert len(browser.wait_for("#chat-log .turn svg.dist rect.bar", timeout=60)) == 14
    assert INJECTION in driver.find_element(By.CSS_SELECTOR, "#chat-log .msg.human").text

    # Runs: the list, one run's metrics and episodes, an outcome filter, one episode.
    driver.get(f"{server_url}/web/#/runs")
    links = browser.wait_for("a.run-link", count=2)
    assert [link.text for link in links] == ["fast", "uniform"]
    browser.screenshot("web-runs", tmp_path)
    links[0].click()
    browser.wait_for("#episodes-table tbody tr", count=5)
    browser.wait_for("#overview table.metrics")
    browser.wait_for("#overview svg.progress rect")
    outcomes = httpx.get(f"{server_url}/web/api/run", params={"name": "fast"}).json()["outcomes"]
    browser.screenshot("web-run", tmp_path)
    for outcome, count in [*outcomes.items(), ("", 5)]:
        Select(driver.find_element(By.ID, "outcome-filter")).select_by_value(outcome)
        browser.wait_for(f'#episodes-table[data-outcome="{outcome}"] tbody tr', count=count)
    browser.wait_for("#episodes-table tbody tr", count=5)[0].find_element(
        By.CSS_SELECTOR, "a.episode-link"
    ).click()
    turns = browser.wait_for(".episode .turn")
    assert all(t.find_element(By.CSS_SELECTOR, ".strategy").text for t in turns)
    assert turns[0].find_element(By.CSS_SELECTOR, ".reward").text
    assert len(turns[0].find_elements(By.CSS_SELECTOR, "svg.dist rect.bar")) == 14
    browser.screenshot("web-episode", tmp_path)

    # Two runs side by side.
    driver.get(f"{server_url}/web/#/runs")
    for checkbox in browser.wait_for("#runs-table input[type=checkbox]", count=2):
        checkbox.click()
    driver.find_element(By.ID, "compare-link").click()
    browser.wait_for(".compare table.metrics", count=2)
    assert driver.current_url.endswith("#/compare/fast/uniform")
    browser.screenshot("web-compare", tmp_path)

    # Path traversal is refused, through the API and through the page.
    for query in ("name=..%2F..%2Fetc", "name=%2Fetc", "name=fast%2F..%2Ffast"):
        assert browser.fetch_status(f"{server_url}/web/api/episodes?{query}") == 400, query
    driver.get(f"{server_url}/web/#/run/..%2F..%2Fetc")
    from selenium.webdriver.support.ui import WebDriverWait

    error = WebDriverWait(driver, 30).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "#view .error")
    )
    assert "400" in error[0].text

    # No request left the machine.
    urls = browser.requested()
    assert any("/threads/" in u for u in urls) and any("/web/api/episode?" in u for u in urls)
    remote = [
        u
        for u in urls
        if urlparse(u).scheme not in ("data", "blob", "about")
        and urlparse(u).hostname not in ("127.0.0.1", "localhost")
    ]
    assert not remote, remote
