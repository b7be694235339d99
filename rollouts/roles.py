"""``rso eval roles``: every LLM role on N fixed INSPIRED-test contexts, resumable, with a report.

Each context's `RoleRecord` is appended to ``roles.jsonl`` as soon as it is done, so an
interrupted evaluation continues where it stopped (same settings only). ``roles_report.json``
holds the summary; with `RolesConfig.end_to_end` it also holds the act-level seeker's SR and
strict SR against the LLM and the rule experts on the same cases and seed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from evaluation.role_metrics import ROLES, Role, RoleRecord, role_contexts, summarise
from evaluation.strategy_tagger import DEFAULT_TAGGER_DIR, load_tagger
from rso.jsonio import read_json_object, write_json

RECORDS_FILE: Final = "roles.jsonl"
SETTINGS_FILE: Final = "roles_settings.json"
REPORT_FILE: Final = "roles_report.json"


@dataclass(frozen=True, kw_only=True)
class RolesConfig:
    """What defines a role evaluation."""

    #: Output directory: records, settings and the report.
    out: Path
    #: INSPIRED-test contexts, drawn with `seed`.
    contexts: int = 200
    seed: int = 0
    #: Rewarder samples per exchange (rollouts use 10; 3 keeps the evaluation affordable).
    rewarder_samples: int = 3
    #: Also roll out the act-level seeker against the LLM and the rule experts.
    end_to_end: bool = False
    #: Cases of the end-to-end runs (None: all usable INSPIRED-test cases).
    cases: int | None = None
    #: Tagger directory (default: the committed one).
    tagger: Path = DEFAULT_TAGGER_DIR
    #: Other `Context` settings (base_url, model, temperatures...).
    context: Mapping[str, Any] = field(default_factory=dict)
    #: The roles asked (`ROLES`); comparing Actor variants needs only the Actor, say.
    roles: tuple[Role, ...] = ROLES

    def __post_init__(self) -> None:
        unknown = sorted(set(self.roles) - set(ROLES))
        if unknown or not self.roles:
            raise ValueError(f"roles must be some of {', '.join(ROLES)}; got {self.roles}")

    def settings(self) -> dict[str, Any]:
        """Return what determines the records (a resumed evaluation must match it)."""
        from graph.context import Context
        from rollouts.config import public_context

        # The number of contexts is left out: a larger evaluation extends a smaller one.
        return {
            "seed": self.seed,
            "roles": sorted(self.roles),
            "rewarder_samples": self.rewarder_samples,
            "tagger": self.tagger.name,
            "context": public_context(Context.from_env(**self.context, seed=self.seed)),
        }


def read_records(path: Path) -> dict[str, RoleRecord]:
    """Return the records of a records file by context id (a torn last line is dropped)."""
    records: dict[str, RoleRecord] = {}
    if not path.exists():
        return records
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = RoleRecord.model_validate_json(line)
        except ValueError:
            continue  # the line an interruption cut short; its context runs again
        records[record.context_id] = record
    return records


def evaluate_roles(
    config: RolesConfig, notify: Callable[[str], None] = lambda _: None
) -> dict[str, Any]:
    """Evaluate every role on the contexts not yet recorded; write and return the report."""
    from langchain_core.messages import HumanMessage

    from graph import models, resources
    from graph.context import Context
    from rollouts.role_calls import evaluate_context
    from rso.data.personas import load_personas

    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    settings = config.settings()
    settings_path = out / SETTINGS_FILE
    if settings_path.exists() and read_json_object(settings_path) != settings:
        raise ValueError(f"{out} holds a role evaluation with other settings; choose another --out")
    write_json(settings_path, settings, indent=1)
    tagger = load_tagger(config.tagger)
    contexts = role_contexts(config.contexts, config.seed)
    records_path = out / RECORDS_FILE
    done = read_records(records_path)
    todo = [c for c in contexts if c.context_id not in done]
    notify(f"roles: {len(contexts)} contexts, {len(contexts) - len(todo)} already recorded")
    if todo:
        run_context = Context.from_env(**config.context, seed=config.seed)
        personas = load_personas()
        # Warm up first (resources, the ranker's lazy parts, the model server), so that the
        # first context's times are its roles' own.
        resources.movies(), resources.title_matcher()
        resources.recommender().recommend([("SEEKER", "I like comedies.")], None, k=1)
        models.text_call(models.load_chat_model(run_context.llm("actor")), [HumanMessage("Hi.")])
        with records_path.open("a", encoding="utf-8") as handle:
            for number, context in enumerate(todo, start=len(contexts) - len(todo) + 1):
                record = evaluate_context(
                    context,
                    run_context,
                    tagger,
                    personas.get(context.user_id),
                    rewarder_samples=config.rewarder_samples,
                    seed=config.seed,
                    roles=frozenset(config.roles),
                )
                handle.write(record.model_dump_json() + "\n")
                handle.flush()
                done[record.context_id] = record
                seconds = sum(s.seconds for s in record.calls.values())
                notify(f"[{number}/{len(contexts)}] {context.context_id} {seconds:.1f} s")
    report = summarise([done[c.context_id] for c in contexts])
    report["tagger"] = tagger.info
    report["settings"] = settings
    if config.end_to_end:
        report["end_to_end"] = end_to_end(config, notify)
    write_json(out / REPORT_FILE, report, indent=1)
    return report


def end_to_end(config: RolesConfig, notify: Callable[[str], None]) -> dict[str, Any]:
    """Roll out the act-level seeker against LLM and rule experts; SR and strict SR of each."""
    from evaluation.metrics import compute_metrics, genres_lookup
    from graph import resources
    from rollouts.config import RolloutConfig
    from rollouts.runner import run_rollouts
    from rso.runs.directory import load_run

    results: dict[str, Any] = {}
    for experts in ("llm", "rule"):
        run = Path(config.out) / f"e2e-{experts}"
        notify(f"end to end: --seeker act --experts {experts} into {run}")
        rollout = RolloutConfig(
            out=run,
            seeker="act",
            experts=experts,
            episodes=config.cases,
            seed=config.seed,
            resume=run.exists(),
            context=dict(config.context),
        )
        run_rollouts(rollout, progress=False)
        metrics = compute_metrics(load_run(run), genres_lookup(resources.movies()))
        results[experts] = {
            "episodes": metrics.n_episodes,
            "failed": metrics.n_failed,
            "sr": metrics.sr.value,
            "strict_sr": metrics.strict_sr.value,
            "run": str(run),
        }
    rule_sr = results["rule"]["sr"]
    results["llm_to_rule_sr"] = results["llm"]["sr"] / rule_sr if rule_sr else None
    return results
