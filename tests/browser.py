"""A headless Chromium for tests and benchmarks (Debian's chromium and chromium-driver)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
#: Where screenshots go besides the test's own folder (e.g. docs/ to refresh the README's).
SCREENSHOT_DIR = os.environ.get("WEB_SCREENSHOT_DIR")


def have_chromium() -> bool:
    """Return True when the browser and its driver are installed."""
    return CHROMIUM.exists() and CHROMEDRIVER.exists()


class Browser:
    """A headless Chromium that remembers every request its pages sent."""

    def __init__(self, profile: Path) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service

        options = Options()
        options.binary_location = str(CHROMIUM)
        for flag in (
            "--headless=new",
            "--no-sandbox",  # tests may run as root in containers
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--no-first-run",
            "--window-size=1280,900",
            f"--user-data-dir={profile}",
        ):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
        self.driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
        self.urls: list[str] = []

    def requested(self) -> list[str]:
        """Return every URL requested so far (the performance log is drained on each read)."""
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message["method"] == "Network.requestWillBeSent":
                self.urls.append(message["params"]["request"]["url"])
        return self.urls

    def wait_for(self, css: str, count: int | None = None, timeout: float = 60) -> list[Any]:
        """Wait until `css` matches (`count` elements, if given); fail on an error box."""
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait

        def ready(driver: Any) -> Any:
            errors = driver.find_elements(By.CSS_SELECTOR, "#view .error")
            if errors:
                pytest.fail(f"the page shows an error: {errors[0].text}")
            found = driver.find_elements(By.CSS_SELECTOR, css)
            return found if found and (count is None or len(found) == count) else False

        return WebDriverWait(self.driver, timeout).until(ready)

    def screenshot(self, name: str, folder: Path) -> None:
        """Save the page as `name`.png in `folder` (and in $WEB_SCREENSHOT_DIR, if set)."""
        path = folder / f"{name}.png"
        assert self.driver.save_screenshot(str(path))
        assert path.stat().st_size > 1000
        if SCREENSHOT_DIR:
            Path(SCREENSHOT_DIR).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(SCREENSHOT_DIR) / path.name)

    def fetch_status(self, url: str) -> int:
        """Return the HTTP status of a same-origin fetch made by the page."""
        script = "const done = arguments[arguments.length - 1];"
        script += "fetch(arguments[0]).then(r => done(r.status), e => done(String(e)));"
        return int(self.driver.execute_async_script(script, url))
