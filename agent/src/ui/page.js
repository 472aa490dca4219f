// The ecrlink virtual terminal page: one panel per terminal, each following its server-sent
// view and posting the tester's actions. Every string from the server goes into the page
// with textContent (never as HTML).
"use strict";

const token = new URLSearchParams(location.search).get("token");

function api(path) {
  return token ? path + (path.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token) : path;
}

const OUTCOME = {
  "approved": "APPROVED",
  "declined": "DECLINED",
  "timeout": "TIMEOUT",
  "terminal-offline": "TERMINAL OFFLINE",
  "bank-unavailable": "BANK UNAVAILABLE",
  "cancelled": "CANCELLED",
  "failed": "NOT DONE",
};

function text(el, s) { el.textContent = s == null ? "" : String(s); }

// What the screen says for a stage: [big, line, detail].
function screenText(v, now) {
  const s = v.screen;
  switch (s.stage) {
    case "idle": return ["ecrlink", "Ready", "Welcome"];
    case "request": return [s.amount || s.kind, "Please wait", s.kind];
    case "present-card": {
      const left = Math.max(0, s.limit_s - Math.floor((now - v.since) / 1000));
      return [s.amount, "Present card", "Insert, tap or swipe", left + " s left · red key cancels"];
    }
    case "pin-entry": return ["Enter PIN", "● ● ● ●", "Remove the card to abort"];
    case "card-read": return [s.scheme, "Card read", s.entry + " " + s.pan];
    case "no-card": return ["No card", "Card wait ended", ""];
    case "card-failed": return ["Card error", s.reason, "Remove card"];
    case "contacting-bank": return ["Contacting bank", "Please wait", ""];
    case "answer": {
      const big = OUTCOME[s.outcome] || s.outcome;
      let line = s.amount || s.kind;
      let detail = "";
      if (s.outcome === "approved" && s.approval) detail = "Approval code " + s.approval;
      else if (s.code) detail = "Code " + s.code;
      else if (s.reason) detail = s.reason;
      if (v.printing) detail += (detail ? " · " : "") + "Printing receipt";
      return [big, line, detail];
    }
    default: return [s.stage, "", ""];
  }
}

function post(panel, index, body) {
  return fetch(api("/api/t/" + index + "/action"), {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  }).then(r => r.json().catch(() => ({ ok: false, message: "HTTP " + r.status })))
    .then(j => text(panel.querySelector(".note"), j.message))
    .catch(e => text(panel.querySelector(".note"), "not sent: " + e));
}

function renderHistory(panel, v) {
  const list = panel.querySelector(".history");
  const open = new Set(Array.from(list.querySelectorAll("details[open]")).map(d => d.dataset.key));
  list.replaceChildren();
  panel.querySelector(".empty").hidden = v.history.length > 0;
  for (const t of v.history) {
    const a = t.answer;
    const li = document.createElement("li");
    const key = (a.trace || "") + "|" + (a.time || "") + "|" + a.kind;
    const line = document.createElement("span");
    const outcome = document.createElement("span");
    outcome.className = a.outcome;
    text(outcome, OUTCOME[a.outcome] || a.outcome);
    const parts = [a.time ? a.time.slice(11) : "", a.kind, a.amount || ""];
    text(line, parts.filter(Boolean).join(" · ") + " · ");
    li.append(line, outcome);
    const more = [];
    if (a.code) more.push("code " + a.code);
    if (a.reason) more.push(a.reason);
    if (a.approval) more.push("approval " + a.approval);
    if (a.scheme) more.push(a.scheme);
    if (a.pan) more.push(a.pan);
    if (more.length) li.append(document.createTextNode(" · " + more.join(" · ")));
    if (t.receipt) {
      const d = document.createElement("details");
      d.dataset.key = key;
      if (open.has(key)) d.open = true;
      const sum = document.createElement("summary");
      text(sum, "Receipt as printed");
      const pre = document.createElement("pre");
      pre.className = "receipt";
      text(pre, t.receipt);
      d.append(sum, pre);
      li.append(d);
    }
    list.append(li);
  }
}

function render(panel, v) {
  renderScreen(panel, v);
  panel.querySelector("input[name=tester]").checked = v.tester_decides;
  const b = v.bank;
  text(panel.querySelector(".bank-state"), "Now: " + b.mode + (b.mode === "slow" ? " (" + b.delay_ms + " ms)" : ""));
  if (v.note) text(panel.querySelector(".note"), v.note);
  renderHistory(panel, v);
}

function renderScreen(panel, v) {
  const screen = panel.querySelector(".screen");
  const now = Date.now();
  const [big, line, detail, timer] = v.power === "asleep"
    ? ["", "Asleep", "Screen off; network closed"]
    : screenText(v, now);
  text(screen.querySelector(".big"), big);
  text(screen.querySelector(".line"), line);
  text(screen.querySelector(".detail"), detail);
  text(screen.querySelector(".timer"), timer || "");
  screen.dataset.stage = v.screen.stage;
  screen.dataset.power = v.power;
  if (v.screen.stage === "answer") screen.dataset.outcome = v.screen.outcome;
  else delete screen.dataset.outcome;
}

function addTerminal(t) {
  const tpl = document.getElementById("terminal-template");
  const panel = tpl.content.firstElementChild.cloneNode(true);
  const index = t.index;
  panel.id = "terminal-" + index;
  // Ids (and the labels' for) unique per panel.
  for (const el of panel.querySelectorAll("[id]")) el.id = "t" + index + "-" + el.id;
  for (const l of panel.querySelectorAll("label[for]")) l.htmlFor = "t" + index + "-" + l.htmlFor;
  const h = panel.querySelector(".name");
  h.id = "terminal-" + index + "-name";
  panel.setAttribute("aria-labelledby", h.id);
  text(h, t.name);
  text(panel.querySelector(".listen"), "Tills connect to " + t.listen.join(", "));
  document.getElementById("terminals").append(panel);

  const card = panel.querySelector(".card-form");
  card.addEventListener("submit", ev => {
    ev.preventDefault();
    const f = new FormData(card);
    post(panel, index, { action: "present", entry: f.get("entry"), scheme: f.get("scheme"), pin: f.get("pin"), decline: f.get("decline") || null });
  });
  panel.querySelector(".remove").addEventListener("click", () => post(panel, index, { action: "remove" }));
  panel.querySelector(".cancel").addEventListener("click", () => post(panel, index, { action: "cancel" }));
  panel.querySelector("input[name=tester]").addEventListener("change", ev => post(panel, index, { action: "tester", decides: ev.target.checked }));
  const bank = panel.querySelector(".bank-form");
  bank.addEventListener("submit", ev => {
    ev.preventDefault();
    const f = new FormData(bank);
    post(panel, index, { action: "bank", mode: f.get("mode"), delay_ms: Number(f.get("delay")) || 0 });
  });
  panel.querySelector(".sleep").addEventListener("click", () => post(panel, index, { action: "sleep" }));
  panel.querySelector(".wake").addEventListener("click", () => post(panel, index, { action: "wake" }));
  panel.querySelector(".cut").addEventListener("click", () => post(panel, index, { action: "cut-till" }));

  let view = null;
  const es = new EventSource(api("/api/t/" + index + "/events"));
  es.addEventListener("view", ev => {
    const v = JSON.parse(ev.data);
    const stageKey = JSON.stringify(v.screen);
    v.since = view && view.stageKey === stageKey ? view.since : Date.now();
    v.stageKey = stageKey;
    view = v;
    render(panel, v);
  });
  es.addEventListener("open", () => text(document.getElementById("conn"), "Live"));
  es.addEventListener("error", () => text(document.getElementById("conn"), "Connection to the agent lost; retrying…"));
  // The countdown of "present card".
  setInterval(() => { if (view && view.screen.stage === "present-card") renderScreen(panel, view); }, 1000);
}

fetch(api("/api/terminals"))
  .then(r => { if (!r.ok) throw new Error("HTTP " + r.status + (r.status === 401 ? ": open the address with its ?token=" : "")); return r.json(); })
  .then(list => list.forEach(addTerminal))
  .catch(e => text(document.getElementById("conn"), "Cannot load the terminals: " + e.message));
