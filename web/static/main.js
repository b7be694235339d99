// The page's router: #/chat, #/runs, #/run/<name>, #/episode/<name>/<id>, #/compare/<a>/<b>.
"use strict";

async function route() {
  const view = document.getElementById("view");
  const parts = (location.hash.replace(/^#\/?/, "") || "chat").split("/").map(decodeURIComponent);
  document.getElementById("nav-chat").classList.toggle("active", parts[0] === "chat");
  document.getElementById("nav-runs").classList.toggle("active", parts[0] !== "chat");
  view.replaceChildren(el("p", { class: "muted" }, "Loading…"));
  try {
    if (parts[0] === "runs") await renderRunList(view);
    else if (parts[0] === "run") await renderRun(view, parts[1]);
    else if (parts[0] === "episode") await renderEpisode(view, parts[1], parts[2]);
    else if (parts[0] === "compare") await renderCompare(view, parts[1], parts[2]);
    else await renderChat(view);
  } catch (error) {
    view.replaceChildren(errorBox(error));
  }
}

window.addEventListener("hashchange", route);
route();
