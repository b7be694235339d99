// Runs view: the run directories under the server's runs root, read-only, page by page.
"use strict";

const PAGE = 50;
const OUTCOMES = ["strict", "success", "no success", "failed"];
const enc = encodeURIComponent;

function runLink(name) { return `#/run/${enc(name)}`; }

async function renderRunList(view) {
  const data = await getJSON("api/runs");
  const picked = new Set();
  const compare = el("a", { id: "compare-link", class: "button disabled", href: "#/runs" },
                     "Compare the two selected runs");
  const update = () => {
    const [a, b] = [...picked];
    const ready = picked.size === 2;
    compare.className = ready ? "button" : "button disabled";
    compare.setAttribute("href", ready ? `#/compare/${enc(a)}/${enc(b)}` : "#/runs");
  };
  const rows = data.runs.map((run) => el("tr", {},
    el("td", {}, el("input", { type: "checkbox", "aria-label": `select ${run.name}`,
      onchange: (event) => { event.target.checked ? picked.add(run.name) : picked.delete(run.name);
                             update(); } })),
    el("td", {}, el("a", { href: runLink(run.name), class: "run-link" }, run.name)),
    el("td", { class: "num" }, run.episodes),
    el("td", {}, Object.entries(run.settings).map(([k, v]) => `${k}=${v}`).join(", ")),
    el("td", {}, new Date(run.modified * 1000).toLocaleString())));
  view.replaceChildren(el("section", {},
    el("h2", {}, "Runs"), el("p", { class: "muted" }, `Root: ${data.root} (read-only)`),
    rows.length ? el("table", { id: "runs-table" },
      el("thead", {}, el("tr", {}, ["", "run", "episodes", "settings", "modified"].map((h) => el("th", {}, h)))),
      el("tbody", {}, rows)) : el("p", {}, "No runs under this root yet."),
    compare));
}

function metricsTable(metrics) {
  const rows = [
    ["episodes", metrics.n_episodes], ["failed", metrics.n_failed],
    ["SR", interval(metrics.sr)], ["strict SR", interval(metrics.strict_sr)],
    ["AvgT", interval(metrics.avg_turns)],
    ...Object.entries(metrics.recall || {}).map(([k, v]) => [k.replace("recall", "Recall"), interval(v)]),
    ["SR@t", (metrics.sr_at_t || []).map((v) => fmt(v, 2)).join(" ")],
  ];
  return el("table", { class: "metrics" },
    el("tbody", {}, rows.map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", {}, v)))));
}

async function runOverview(name) {
  const [summary, metrics] = await Promise.all([
    getJSON(`api/run?name=${enc(name)}`), getJSON(`api/metrics?name=${enc(name)}`)]);
  return el("div", { class: "overview" },
    el("h3", {}, "Metrics (95% bootstrap intervals)"), metricsTable(metrics),
    el("h3", {}, "Strategies over conversation progress"),
    progressChart(metrics.strategies, metrics.strategy_shares || []),
    el("details", {}, el("summary", {}, "Manifest"),
       el("pre", { class: "manifest" }, JSON.stringify(summary.manifest, null, 2))));
}

async function renderRun(view, name) {
  const list = el("div", { id: "episodes" });
  const filter = el("select", { id: "outcome-filter", "aria-label": "outcome" },
    el("option", { value: "" }, "all outcomes"), OUTCOMES.map((o) => el("option", { value: o }, o)));
  view.replaceChildren(el("section", {},
    el("p", {}, el("a", { href: "#/runs" }, "← all runs")),
    el("h2", {}, "Run ", el("span", { class: "run-name" }, name)),
    el("div", { id: "overview" }, "Loading metrics…"),
    el("h3", {}, "Episodes"), el("label", {}, "Outcome ", filter), list));
  const showPage = async (offset) => {
    const page = await getJSON(`api/episodes?name=${enc(name)}&outcome=${enc(filter.value)}&offset=${offset}&limit=${PAGE}`);
    const pager = el("p", { class: "pager" },
      el("button", { type: "button", disabled: offset === 0, onclick: () => showPage(Math.max(0, offset - PAGE)) }, "‹ previous"),
      ` ${page.total ? offset + 1 : 0}-${offset + page.rows.length} of ${page.total} `,
      el("button", { type: "button", id: "next-page", disabled: offset + PAGE >= page.total,
                     onclick: () => showPage(offset + PAGE) }, "next ›"));
    list.replaceChildren(el("table", { id: "episodes-table", "data-outcome": filter.value, "data-offset": offset },
      el("thead", {}, el("tr", {}, ["episode", "persona", "goal", "turns", "outcome"].map((h) => el("th", {}, h)))),
      el("tbody", {}, page.rows.map((row) => el("tr", { class: `outcome-${row.outcome.replace(" ", "-")}` },
        el("td", {}, el("a", { href: `#/episode/${enc(name)}/${enc(row.episode_id)}`, class: "episode-link" }, row.episode_id)),
        el("td", {}, row.persona_id), el("td", {}, row.goal), el("td", { class: "num" }, row.n_turns),
        el("td", {}, row.outcome, row.error ? ` (${row.error})` : ""))))), pager);
  };
  filter.addEventListener("change", () => showPage(0));
  await showPage(0);
  try {
    view.querySelector("#overview").replaceChildren(await runOverview(name));
  } catch (error) {
    view.querySelector("#overview").replaceChildren(errorBox(error));
  }
}

async function renderEpisode(view, name, id) {
  const episode = await getJSON(`api/episode?name=${enc(name)}&id=${enc(id)}`);
  const title = await titles([...new Set(episode.turns.flatMap((t) => t.recommended))]);
  const turns = episode.turns.map((turn) => el("div", { class: "row turn" },
    el("div", {},
      el("div", { class: "msg ai" }, el("span", { class: "who" }, `Recommender, turn ${turn.turn + 1}`), turn.reply),
      el("div", { class: "msg human" }, el("span", { class: "who" }, `Seeker${turn.seeker_act ? ` (${turn.seeker_act})` : ""}`),
         turn.seeker_reply)),
    el("aside", { class: "insight" },
      el("p", {}, el("b", {}, "Strategy: "), el("span", { class: "strategy" }, turn.strategy || "none")),
      turn.probs.length ? distributionChart(episode.strategies, turn.probs, turn.strategy) : null,
      el("p", {}, el("b", {}, "Reward: "), el("span", { class: "reward" }, fmt(turn.reward, 2)),
         turn.reward_samples.length > 1 ? ` (${turn.reward_samples.length} samples)` : ""),
      turn.recommended.length ? el("p", {}, el("b", {}, "Recommended: "), turn.recommended.map(title).join("; ")) : null,
      turn.fallbacks.length ? el("ul", { class: "fallbacks" }, turn.fallbacks.map((f) =>
        el("li", {}, `${f.node}: ${f.failure} → ${f.action}`))) : null)));
  view.replaceChildren(el("section", { class: "episode" },
    el("p", {}, el("a", { href: runLink(name) }, "← run ", name)),
    el("h2", {}, "Episode ", el("span", { class: "episode-id" }, episode.episode_id)),
    el("p", {}, `goal ${episode.goal} · persona ${episode.persona_id} · ${episode.n_turns} turns · `,
       episode.strict_success ? "accepted" : episode.success ? "success" : "no success",
       episode.error ? ` · error: ${episode.error}` : ""),
    el("div", { class: "msg human" }, el("span", { class: "who" }, "Seeker"), episode.opening),
    turns));
}

async function renderCompare(view, a, b) {
  const column = async (name) => {
    try { return el("div", {}, el("h3", {}, el("a", { href: runLink(name) }, name)), await runOverview(name)); }
    catch (error) { return el("div", {}, el("h3", {}, name), errorBox(error)); }
  };
  view.replaceChildren(el("section", {}, el("p", {}, el("a", { href: "#/runs" }, "← all runs")),
    el("h2", {}, "Two runs side by side"),
    el("div", { class: "compare" }, await column(a), await column(b))));
}
