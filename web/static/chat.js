// Chat view: the recommender graph through the server's own thread API (/threads/...).
// The thread id is kept in localStorage, so a reload shows the same conversation.
"use strict";

const THREAD_KEY = "rso.web.thread";
const SETTINGS_KEY = "rso.web.chat-settings";

function chatSettings() {
  try { return JSON.parse(localStorage.getItem(SETTINGS_KEY)) || {}; } catch (_) { return {}; }
}

// The run context sent with each turn (graph.context.Context field names).
function runContext(settings) {
  const planner = settings.planner === "path" ? (settings.path || "").trim() : settings.planner;
  const context = { planner_checkpoint: planner || "sft", planner_mode: settings.mode || "greedy" };
  if (settings.experts) context.experts = settings.experts;
  return context;
}

function select(id, label, options, value) {
  return el("label", {}, label, " ",
    el("select", { id }, options.map(([v, text]) =>
      el("option", { value: v, selected: v === value }, text))));
}

function plannerControls(onChange) {
  const s = chatSettings();
  const path = el("input", { id: "planner-path", type: "text", placeholder: "checkpoint directory",
                             value: s.path || "", hidden: s.planner !== "path" });
  const box = el("form", { class: "controls", id: "planner-controls" },
    select("planner", "Planner", [["sft", "sft (warm-up checkpoint)"], ["uniform", "uniform"],
                                  ["majority", "majority"], ["path", "checkpoint path…"]],
           s.planner || "sft"),
    path,
    select("planner-mode", "Mode", [["greedy", "greedy"], ["sample", "sample"]], s.mode || "greedy"),
    select("experts", "Experts", [["", "server default"], ["llm", "llm"], ["rule", "rule (LLM-free)"]],
           s.experts || ""));
  box.addEventListener("change", () => {
    const next = {
      planner: box.querySelector("#planner").value,
      path: path.value,
      mode: box.querySelector("#planner-mode").value,
      experts: box.querySelector("#experts").value,
    };
    path.hidden = next.planner !== "path";
    localStorage.setItem(SETTINGS_KEY, JSON.stringify(next));
    if (onChange) onChange(next);
  });
  box.addEventListener("submit", (event) => event.preventDefault());
  return box;
}

async function turnInsight(values, names) {
  const retrieved = (values.retrieved || []).slice(0, 5);
  const ids = retrieved.map((pair) => pair[0]);
  if (values.chosen_movie && !ids.includes(values.chosen_movie)) ids.push(values.chosen_movie);
  const title = await titles(ids);
  const probs = values.strategy_probs || {};
  const box = el("aside", { class: "insight" },
    el("p", {}, el("b", {}, "Strategy: "),
       el("span", { class: "strategy" }, values.strategy || "none (Planner ablated)")));
  if (Object.keys(probs).length) box.append(distributionChart(names, probs, values.strategy));
  box.append(el("p", {}, el("b", {}, "Preferences: "), values.preferences || "none known yet"));
  if (retrieved.length) {
    box.append(el("b", {}, "Top candidates"), el("ol", { class: "candidates" },
      retrieved.map(([id, score]) => el("li", { class: id === values.chosen_movie ? "chosen" : null },
        title(id), " ", el("span", { class: "score" }, fmt(score)),
        id === values.chosen_movie ? el("span", { class: "tag" }, "chosen") : null,
        (values.recommended || []).includes(id) ? el("span", { class: "tag" }, "mentioned") : null))));
  } else if (values.chosen_movie) {
    box.append(el("p", {}, el("b", {}, "Chosen: "), title(values.chosen_movie)));
  }
  if (values.movie_facts) box.append(el("p", {}, el("b", {}, "Facts: "), values.movie_facts));
  const fallbacks = values.fallbacks || [];
  box.append(fallbacks.length
    ? el("div", { class: "fallbacks" }, el("b", {}, "Fallbacks"), el("ul", {},
        fallbacks.map((f) => el("li", {}, `${f.node}: ${f.failure} → ${f.action}`))))
    : el("p", { class: "muted" }, "No fallbacks."));
  return box;
}

function messageText(message) {
  const content = message.content;
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.map((part) => part.text || "").join("");
  return "";
}

async function createThread() {
  const thread = await postJSON("/threads", { metadata: { source: "rso-web" } });
  localStorage.setItem(THREAD_KEY, thread.thread_id);
  return thread.thread_id;
}

// Turn details of a thread, by turn, from the checkpoints that ended a run.
async function turnDetails(threadId) {
  const details = new Map();
  const history = await postJSON(`/threads/${threadId}/history`, { limit: 200 });
  for (const state of history) {
    const values = state.values || {};
    if ((state.next || []).length || !values.reply || details.has(values.turn)) continue;
    details.set(values.turn, values);
  }
  return details;
}

async function renderChat(view) {
  const names = await strategies();
  const log = el("div", { class: "chat-log", id: "chat-log" });
  const input = el("textarea", { id: "chat-input", rows: 2, placeholder: "Say something to the recommender…" });
  const send = el("button", { id: "chat-send", type: "submit" }, "Send");
  const status = el("p", { class: "status", id: "chat-status" });
  const fresh = el("button", { id: "chat-new", type: "button" }, "New conversation");
  const form = el("form", { class: "chat-form" }, input, send, fresh);
  view.replaceChildren(el("section", { class: "chat" },
    el("h2", {}, "Chat with the recommender"), plannerControls(), log, form, status));

  let threadId = localStorage.getItem(THREAD_KEY);
  const addHuman = (text) => log.append(el("div", { class: "row" },
    el("div", { class: "msg human" }, el("span", { class: "who" }, "You"), text)));
  const addTurn = async (text, values) => {
    const row = el("div", { class: "row turn" },
      el("div", { class: "msg ai" }, el("span", { class: "who" }, "Recommender"), text));
    if (values) row.append(await turnInsight(values, names));
    log.append(row);
  };

  async function restore() {
    if (!threadId) return;
    try {
      const state = await getJSON(`/threads/${threadId}/state`);
      const details = await turnDetails(threadId);
      let turn = 0;
      for (const message of (state.values && state.values.messages) || []) {
        if (message.type === "human") addHuman(messageText(message));
        else if (message.type === "ai") await addTurn(messageText(message), details.get(turn++));
      }
    } catch (error) {
      if (error.status === 404) { threadId = null; localStorage.removeItem(THREAD_KEY); }
      else status.replaceChildren(errorBox(error));
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    send.disabled = true;
    status.textContent = "The recommender is thinking…";
    try {
      if (!threadId) threadId = await createThread();
      addHuman(text);
      input.value = "";
      const values = await postJSON(`/threads/${threadId}/runs/wait`, {
        assistant_id: "recommender",
        input: { messages: [{ role: "user", content: text }] },
        context: runContext(chatSettings()),
      });
      if (!values || values.__error__ || typeof values.reply !== "string") {
        throw new Error((values && values.__error__ && values.__error__.message) || "the run failed");
      }
      await addTurn(values.reply, values);
      status.textContent = "";
    } catch (error) {
      status.replaceChildren(errorBox(error));
    } finally {
      send.disabled = false;
      log.scrollTop = log.scrollHeight;
    }
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); form.requestSubmit(); }
  });
  fresh.addEventListener("click", () => {
    localStorage.removeItem(THREAD_KEY);
    threadId = null;
    log.replaceChildren();
    status.textContent = "";
  });
  await restore();
}
