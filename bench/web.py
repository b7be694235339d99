"""Benchmark of the web page: chat view load on a warm server, and a 1,000-episode run's listing.

    .venv/bin/python bench/web.py                 # prints a table
    .venv/bin/python bench/web.py --write-results # also update bench/RESULTS.md

Measured in headless Chromium (Debian's chromium and chromium-driver) against `langgraph dev` on
loopback, as a user sees it: from navigation until the view's content is on screen. The run is
generated: a real fast-mode rollout (act seeker, rule experts) of a few episodes, its episodes
repeated under new ids up to the requested count. A "cold" listing touches the episodes file
first, so the server reads it again instead of answering from its cache.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.servers starts langgraph dev; tests.browser drives Chromium

from bench.results import write_section  # noqa: E402
from tests.browser import Browser  # noqa: E402
from tests.servers import langgraph_dev  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

TARGET_CHAT_S = 1.0
TARGET_LIST_S = 2.0


def generate_run(out: Path, episodes: int, seed_episodes: int) -> float:
    """Write a run of `episodes` episodes from a real fast rollout; return its size in MB."""
    from rso.runs.directory import EPISODES_FILE, load_run

    seed_run = out.parent / "seed"
    command = [sys.executable, "-m", "cli.main", "rollout", "--seeker", "act", "--experts"]
    command += ["rule", "--episodes", str(seed_episodes), "--out", str(seed_run)]
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
    played = load_run(seed_run)
    out.mkdir(parents=True)
    (out / "manifest.json").write_bytes((seed_run / "manifest.json").read_bytes())
    with open(out / EPISODES_FILE, "w", encoding="utf-8") as handle:
        for index in range(episodes):
            record = played[index % len(played)]
            copy = record.model_copy(update={"episode_id": f"{record.episode_id}-copy{index:05d}"})
            handle.write(copy.model_dump_json() + "\n")
    return (out / EPISODES_FILE).stat().st_size / 1e6


def timed_view(browser: Browser, url: str, css: str, count: int | None = None) -> float:
    """Return seconds from navigation until `css` is on screen."""
    start = time.perf_counter()
    browser.driver.get(url)
    browser.wait_for(css, count=count, timeout=120)
    return time.perf_counter() - start


def main() -> None:
    """Run the benchmark and print (and optionally record) the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--seed-episodes", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--write-results", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "runs"
        size_mb = generate_run(root / "big", args.episodes, args.seed_episodes)
        episodes_file = root / "big" / "episodes.jsonl"
        env = {"RSO_WEB_RUNS": str(root)}
        with langgraph_dev(env, Path(tmp) / "server.log") as url:
            browser = Browser(Path(tmp) / "profile")
            try:
                page = f"{url}/web/#/chat"
                timed_view(browser, page, "#chat-input")  # warm the server and the browser
                browser.driver.get("about:blank")
                chat = [timed_view(browser, page, "#chat-input") for _ in range(args.repeats)]
                run_page = f"{url}/web/#/run/big"
                rows = "#episodes-table tbody tr"
                cold, warm, metrics = [], [], []
                for _ in range(args.repeats):
                    os.utime(episodes_file)  # a new version: the server reads the file again
                    browser.driver.get("about:blank")
                    cold.append(timed_view(browser, run_page, rows, count=50))
                    start = time.perf_counter() - cold[-1]
                    browser.wait_for("#overview table.metrics", timeout=120)
                    metrics.append(time.perf_counter() - start)
                    browser.driver.get("about:blank")
                    warm.append(timed_view(browser, run_page, rows, count=50))
                runs_list = [
                    timed_view(browser, f"{url}/web/#/runs", "a.run-link")
                    for _ in range(args.repeats)
                ]
            finally:
                browser.driver.quit()

    load = os.getloadavg()[0]
    med = statistics.median

    def verdict(values: list[float], target: float) -> str:
        return f"<= {target:g} s: {'met' if med(values) <= target else 'NOT met'}"

    table = [
        f"| measure | median (max) of {args.repeats} | target |",
        "|---|---|---|",
        f"| chat view load, warm server | {med(chat):.3f} s ({max(chat):.3f} s) "
        f"| {verdict(chat, TARGET_CHAT_S)} |",
        f"| runs list (1 run) | {med(runs_list):.3f} s ({max(runs_list):.3f} s) | |",
        f"| run of {args.episodes} episodes: first page of 50 listed, file not yet read "
        f"| {med(cold):.3f} s ({max(cold):.3f} s) | {verdict(cold, TARGET_LIST_S)} |",
        f"| same, file already indexed | {med(warm):.3f} s ({max(warm):.3f} s) | |",
        f"| same run: metrics with bootstrap intervals on screen (file not yet read) "
        f"| {med(metrics):.3f} s ({max(metrics):.3f} s) | |",
    ]
    body = "\n".join(
        [
            f"Command: `python bench/web.py --episodes {args.episodes} --repeats {args.repeats}`",
            "",
            "Headless Chromium against `langgraph dev` on 127.0.0.1, from navigation until the "
            "view's content is on screen. The run: a real fast rollout of "
            f"{args.seed_episodes} episodes repeated under new ids to {args.episodes} "
            f"({size_mb:.1f} MB of episodes.jsonl). 2 CPU cores, load average {load:.1f} at the "
            "end.",
            "",
            *table,
        ]
    )
    print(body)
    if args.write_results:
        write_section("Web page", body)


if __name__ == "__main__":
    main()
