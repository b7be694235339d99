"""Benchmark of one recommender turn: graph overhead, import time, latency on the embedded model.

    .venv/bin/python bench/turn.py                 # all parts, prints a table
    .venv/bin/python bench/turn.py --skip-llm      # offline parts only (no embedded server)
    .venv/bin/python bench/turn.py --write-results # also update bench/RESULTS.md

Overhead: the same node functions run (a) through `graph.invoke` and (b) called directly in
sequence, with a zero-latency scripted chat model, a tiny in-memory index and the uniform Planner,
so that only orchestration differs. End to end: real turns on the embedded SmolLM2-135M server with
the real FAISS index and title matcher.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.fakes is the project's zero-latency chat model

from bench.results import write_section  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

TARGET_OVERHEAD_RATIO = 1.5
TARGET_OVERHEAD_MS = 5.0
TARGET_IMPORT_S = 2.0
TARGET_TURN_S = 10.0


def import_seconds(repeats: int = 3) -> tuple[float, float]:
    """Return the median wall and CPU seconds to import the graph module in a fresh interpreter."""
    code = (
        "import time; w = time.perf_counter(); c = time.process_time(); import graph.graph; "
        "print(time.perf_counter() - w, time.process_time() - c)"
    )
    runs = [
        tuple(
            map(
                float,
                subprocess.run(
                    [sys.executable, "-c", code],
                    capture_output=True,
                    text=True,
                    check=True,
                    cwd=ROOT,
                ).stdout.split(),
            )
        )
        for _ in range(repeats)
    ]
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def _instant_world() -> dict[str, Any]:
    """Patch the experts' heavy resources with instant stand-ins; return the originals."""
    from graph import resources
    from retrieval.titles import TitleMatcher
    from rso.data.records import Movie

    movies = [
        Movie(
            kb_id=f"b{i}",
            title=title,
            year=2000 + i,
            genres=[genre],
            directors=["A. Director"],
            cast=["An Actor"],
            plot=f"A {genre.lower()} story.",
            doc=f"{title} {genre}",
        )
        for i, (title, genre) in enumerate(
            [
                ("Night Terror", "Horror"),
                ("Space Run", "Sci-Fi"),
                ("Laugh Lines", "Comedy"),
                ("Cold Case", "Crime"),
            ]
        )
    ]
    by_id = {m.kb_id: m for m in movies}
    matcher = TitleMatcher(movies)

    @dataclasses.dataclass(frozen=True)
    class Hit:
        kb_id: str
        title: str
        score: float
        rank: int

    class InstantIndex:
        def search(self, text: str, k: int = 50) -> list[Hit]:
            return [Hit(m.kb_id, m.title, 1.0 - r / 10, r + 1) for r, m in enumerate(movies[:k])]

    class InstantRecommender:  # the Fact Retriever's ranker, over the same four movies
        def recommend(self, dialogue: Any, preferences: Any = None, k: int = 50) -> list[Hit]:
            return index.search("", k)

    index = InstantIndex()
    ranker = InstantRecommender()
    names = ("movie_index", "recommender", "movies", "title_matcher")
    originals = {name: getattr(resources, name) for name in names}
    resources.movie_index = lambda: index  # type: ignore[assignment]
    resources.recommender = lambda: ranker  # type: ignore[assignment]
    resources.movies = lambda: by_id  # type: ignore[assignment]
    resources.title_matcher = lambda: matcher  # type: ignore[assignment]
    return originals


def _instant_model() -> Any:
    from tests.fakes import ScriptedChatModel

    def answer(messages: list[Any]) -> Any:
        text = "\n".join(str(m.text) for m in messages)
        latest = text.rsplit("<latest_seeker_message>", 1)[-1].lower()
        if "summarise the seeker's movie preferences" in text.lower():
            if "horror" in latest:
                return {"reasoning": "said horror", "summary": "Likes horror movies."}
            return {"reasoning": "a greeting", "summary": "none yet"}
        if "help a movie recommender choose" in text:
            return {"reasoning": "fits", "choice": "Night Terror", "facts": "A horror story."}
        return "You might like Night Terror (2000), it is a scary one."

    return ScriptedChatModel(default=answer)


def _apply(state: Any, update: dict[str, Any]) -> Any:
    """Merge a node's update into the state the way the graph's reducers do."""
    from langgraph.graph.message import add_messages
    from langgraph.types import Overwrite

    changes: dict[str, Any] = {}
    for key, value in update.items():
        if key == "messages":
            changes[key] = add_messages(state.messages, value)
        elif isinstance(value, Overwrite):
            changes[key] = value.value
        elif key == "fallbacks":
            changes[key] = [*state.fallbacks, *value]
        else:
            changes[key] = value
    return dataclasses.replace(state, **changes)


def overhead(turns: int) -> dict[str, float]:
    """Time `turns` turns through the graph and through direct node calls (ms per turn)."""
    from graph import models, resources

    originals = _instant_world()
    load_chat_model = models.load_chat_model
    fake = _instant_model()
    models.load_chat_model = lambda settings: fake  # type: ignore[assignment]
    try:
        return _time_turns(turns, fake)
    finally:  # the embedded-model part needs the real model and resources back
        models.load_chat_model = load_chat_model  # type: ignore[assignment]
        for name, value in originals.items():
            setattr(resources, name, value)


def _time_turns(turns: int, fake: Any) -> dict[str, float]:
    """Time turns via graph.invoke and via direct node calls, interleaved (ms per turn)."""
    from langchain_core.messages import HumanMessage
    from langgraph.runtime import Runtime

    from agents.planner import plan_strategy
    from graph.builder import build_graph
    from graph.context import Context
    from graph.nodes import make_actor_node, reason_preferences, retrieve_facts, start_turn
    from graph.routing import ACTOR_NODES
    from graph.state import State
    from rso.strategies import STRATEGIES

    context = Context(llm_max_retries=0)
    runtime = Runtime(context=context)
    actors = dict(zip(ACTOR_NODES, [make_actor_node(s) for s in (*STRATEGIES, None)], strict=True))
    graph = build_graph()
    messages = [HumanMessage("Hello."), HumanMessage("I love horror movies")]

    def direct(i: int) -> Any:
        state = State(messages=[messages[i % 2]])
        state = _apply(state, start_turn(state, runtime).update)
        state = _apply(state, reason_preferences(state, runtime).update)
        state = _apply(state, retrieve_facts(state, runtime))
        command = plan_strategy(state, runtime)
        state = _apply(state, command.update)
        return _apply(state, actors[command.goto](state, runtime))

    def via_graph(i: int) -> Any:
        return graph.invoke({"messages": [messages[i % 2]]}, context=context)

    for fn in (direct, via_graph):  # warm up caches and lazy imports
        for i in range(20):
            fn(i)
    timings: dict[str, list[float]] = {"direct": [], "graph": []}
    for _ in range(3):  # interleaved rounds, so background load hits both alike
        for name, fn in (("direct", direct), ("graph", via_graph)):
            start = time.perf_counter()
            for i in range(turns):
                fn(i)
            timings[name].append((time.perf_counter() - start) / turns * 1000)
    direct_ms, graph_ms = min(timings["direct"]), min(timings["graph"])
    return {
        "direct_ms": direct_ms,
        "graph_ms": graph_ms,
        "ratio": graph_ms / direct_ms,
        "overhead_ms": graph_ms - direct_ms,
    }


def _rss_peak_mib(pid: int | None = None) -> float:
    status = Path(f"/proc/{pid or 'self'}/status").read_text()
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(match.group(1)) / 1024 if match else float("nan")


def embedded_turns(turns: int, actor_adapter: str | None = None) -> dict[str, float]:
    """Run real turns on the embedded model; median latency, generation speed, peak memory.

    With `actor_adapter` the Actor runs on the tuned adapter's own embedded server (the token
    counts read the main server's log, so they leave the Actor's tokens out).
    """
    from langchain_core.messages import HumanMessage
    from langgraph.checkpoint.memory import InMemorySaver

    from graph import resources
    from graph.builder import build_graph
    from graph.context import Context
    from graph.llm_server import embedded_server_pid, ensure_embedded_server
    from rso.paths import cache_dir

    start = time.perf_counter()
    base_url = ensure_embedded_server()
    resources.movie_index()
    resources.title_matcher()
    warmup_s = time.perf_counter() - start
    graph = build_graph(InMemorySaver())
    port = base_url.rsplit(":", 1)[1].split("/")[0]
    server_log = cache_dir() / "logs" / f"llama_server_{port}.log"
    log_offset = server_log.stat().st_size if server_log.exists() else 0
    script = ["Hello.", "I love scary horror movies with ghosts.", "Who is in it?"]
    latencies: list[float] = []
    for i in range(turns):
        config = {"configurable": {"thread_id": f"bench-{i // len(script)}"}}
        start = time.perf_counter()
        graph.invoke(
            {"messages": [HumanMessage(script[i % len(script)])]},
            config,
            context=Context(actor_adapter=actor_adapter),
        )
        latencies.append(time.perf_counter() - start)
    # The server's own counters: generated tokens ("runs") and decoding time per request.
    new_log = server_log.read_text(errors="replace")[log_offset:] if server_log.exists() else ""
    decoded = re.findall(r"(?<!prompt) eval time =\s+([\d.]+) ms /\s+(\d+) runs", new_log)
    server_tokens = sum(int(n) for _, n in decoded)
    server_seconds = sum(float(ms) for ms, _ in decoded) / 1000
    return {
        "server_tokens_per_turn": server_tokens / turns,
        "server_tokens_per_s": server_tokens / server_seconds if server_seconds else float("nan"),
        "warmup_s": warmup_s,
        "turn_median_s": statistics.median(latencies),
        "turn_max_s": max(latencies),
        "peak_rss_mib": _rss_peak_mib(),
        "server_peak_rss_mib": _rss_peak_mib(embedded_server_pid()),
    }


def table(rows: list[tuple[str, str, str]]) -> str:
    """Render (measure, value, target) rows as a Markdown table."""
    lines = ["| measure | value | target |", "|---|---|---|"]
    lines += [f"| {m} | {v} | {t} |" for m, v, t in rows]
    return "\n".join(lines)


def write_results(command: str, rendered: str, note: str = "") -> None:
    """Put the "Recommender turn" section in bench/RESULTS.md, keeping the other sections."""
    body = f"Command: `{command}` (2 CPU cores, no GPU)\n\n{rendered}\n"
    if note:
        body += f"\n{note}\n"
    write_section("Recommender turn", body)


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--turns", type=int, default=200, help="turns per overhead round")
    parser.add_argument("--llm-turns", type=int, default=6, help="turns on the embedded model")
    parser.add_argument("--skip-llm", action="store_true", help="skip the embedded-model part")
    parser.add_argument("--write-results", action="store_true", help="update bench/RESULTS.md")
    parser.add_argument("--note", default="", help="a remark written under the table")
    parser.add_argument(
        "--actor-adapter",
        default=None,
        help="also the same turns with this tuned Actor adapter ('default' = the shipped one)",
    )
    args = parser.parse_args()

    wall_s, cpu_s = import_seconds()
    rows = [
        (
            "import graph.graph (fresh process, median of 3): wall (CPU)",
            f"{wall_s:.2f} s ({cpu_s:.2f} s)",
            f"<= {TARGET_IMPORT_S:.0f} s",
        )
    ]
    # The embedded turns first: the overhead part swaps in a tiny knowledge base, and a cache
    # built meanwhile (the title matcher's) would outlive the swap.
    e = None if args.skip_llm else embedded_turns(args.llm_turns)
    tuned = embedded_turns(args.llm_turns, args.actor_adapter) if e and args.actor_adapter else None
    o = overhead(args.turns)
    rows += [
        ("turn, node functions called directly (fake model)", f"{o['direct_ms']:.2f} ms", ""),
        ("turn through graph.invoke (fake model)", f"{o['graph_ms']:.2f} ms", ""),
        ("orchestration overhead", f"{o['overhead_ms']:.2f} ms", f"<= {TARGET_OVERHEAD_MS:.0f} ms"),
        ("graph / direct", f"{o['ratio']:.2f}x", f"<= {TARGET_OVERHEAD_RATIO}x"),
    ]
    if e is not None:
        rows += [
            ("embedded server start + index + matcher load (once)", f"{e['warmup_s']:.1f} s", ""),
            (
                f"turn on embedded SmolLM2-135M, median of {args.llm_turns}",
                f"{e['turn_median_s']:.2f} s",
                f"<= {TARGET_TURN_S:.0f} s",
            ),
            ("slowest turn", f"{e['turn_max_s']:.2f} s", ""),
            (
                "generated tokens per turn (server log, retries included)",
                f"{e['server_tokens_per_turn']:.0f}",
                "",
            ),
            ("decoding speed (server log)", f"{e['server_tokens_per_s']:.0f} tokens/s", ""),
            (
                "peak memory, this process (encoder, index, graph)",
                f"{e['peak_rss_mib']:.0f} MiB",
                "",
            ),
            ("peak memory, embedded llama.cpp server", f"{e['server_peak_rss_mib']:.0f} MiB", ""),
        ]
        if tuned is not None:
            rows += [
                (
                    f"turn with the Actor adapter loaded, median of {args.llm_turns}",
                    f"{tuned['turn_median_s']:.2f} s "
                    f"({tuned['turn_median_s'] / e['turn_median_s']:.2f}x untuned)",
                    f"<= {TARGET_TURN_S:.0f} s",
                ),
                ("slowest turn with the adapter", f"{tuned['turn_max_s']:.2f} s", ""),
            ]
    rendered = table(rows)
    print(rendered)
    if args.write_results:
        shown = [f"--turns {args.turns}", f"--llm-turns {args.llm_turns}"]
        shown += ["--skip-llm"] if args.skip_llm else []
        shown += [f"--actor-adapter {args.actor_adapter}"] if args.actor_adapter else []
        write_results(" ".join(["python bench/turn.py", *shown]), rendered, args.note)


if __name__ == "__main__":
    main()
