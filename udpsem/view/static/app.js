// The udpsem explorer page: talks to the JSON API of udpsem.view.server.
// The URL's hash names the state (#/N or #/N~choices~choices...), so it can be shared.
"use strict";
let current = null;       // the last /api/state answer
let chartLine = null;     // which run the chart shows (its first path element + branch)

const $ = (id) => document.getElementById(id);

function pathFromHash() {
  const h = decodeURIComponent(location.hash.replace(/^#\/?/, ""));
  return h === "" ? "0" : h;
}

function go(path) {
  const h = "#/" + path;
  if (location.hash !== h) location.hash = h; else load(path);
}

async function api(url) {
  const r = await fetch(url);
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || r.statusText);
  return body;
}

function showError(msg) {
  const e = $("error");
  e.textContent = msg;
  e.style.display = msg ? "block" : "none";
}

function text(tag, cls, content) {
  const el = document.createElement(tag);
  if (cls) el.className = cls;
  if (content !== undefined) el.textContent = content;
  return el;
}

function renderStep(st) {
  const box = $("step");
  box.innerHTML = "";
  if (!st.step) { box.textContent = "the initial state"; return; }
  const s = st.step;
  const head = text("div");
  head.append(text("span", "rule", s.rule), text("span", "", s.partner ? " with " + s.partner : ""));
  box.append(head);
  box.append(text("div", "label", s.label));
  box.append(text("div", "", "at " + s.time + "; choices: " + s.choices_text));
  for (const d of [s.rule_doc, s.partner_doc]) {
    if (!d) continue;
    box.append(text("div", "summary", d.name + ": " + d.summary));
    if (d.doc) box.append(text("div", "doc", d.doc));
  }
}

function renderState(st) {
  const box = $("state");
  box.innerHTML = "";
  $("statetime").textContent = "t = " + st.state.time;
  for (const sec of st.state.sections) {
    const div = text("div", "section " + (sec.status || ""));
    div.dataset.key = sec.key;
    const title = text("div", "title" + (sec.title_changed ? " changed" : ""), sec.title);
    div.append(title);
    for (const r of sec.rows) {
      const row = text("div", "row" + (r.changed ? " changed" : ""), r.text);
      row.dataset.key = r.key;
      div.append(row);
    }
    box.append(div);
  }
  if (st.state.removed.length) {
    box.append(text("div", "removed", "gone since the previous state: " + st.state.removed.join(", ")));
  }
}

function renderVerdicts(st) {
  const ul = $("verdicts");
  ul.innerHTML = "";
  for (const [name, v] of Object.entries(st.verdicts)) {
    const li = text("li", v.holds ? "holds" : "violated", name + ": " + (v.holds ? "holds" : "VIOLATED — " + v.message));
    li.dataset.prop = name;
    if (v.holds) li.title = v.message;
    ul.append(li);
  }
}

function renderSuccessors(st) {
  const ol = $("successors");
  ol.innerHTML = "";
  if (!st.successors.length) { ol.append(text("li", "", "nothing: the run is over here")); return; }
  for (const s of st.successors) {
    const li = text("li");
    const b = text("button", s.follows_trace ? "follows" : "");
    b.dataset.path = s.path;
    b.dataset.rule = s.rule;
    b.append(text("span", "rule", s.rule + (s.partner ? "+" + s.partner : "")), text("span", "", " " + s.label + " "),
             text("span", "ch", "[" + s.choices_text + "] → " + s.time + (s.follows_trace ? " (the trace's step)" : "")));
    b.addEventListener("click", () => go(s.path));
    li.append(b);
    ol.append(li);
  }
}

function moveMarker(now) {
  // the chart's root carries its time mapping: data-t0/t1 (ns) onto data-x0/x1 (px)
  const svg = $("chart").querySelector("svg");
  if (!svg) return;
  const d = svg.dataset;
  const t0 = Number(d.t0), t1 = Number(d.t1), x0 = Number(d.x0), x1 = Number(d.x1);
  const x = x0 + (Math.min(Math.max(now, t0), t1) - t0) * (x1 - x0) / (t1 - t0);
  let line = svg.querySelector("line.now");
  if (!line) {
    line = document.createElementNS("http://www.w3.org/2000/svg", "line");
    line.setAttribute("class", "now");
    line.setAttribute("stroke", "#2ca02c");
    line.setAttribute("stroke-width", "2");
    line.setAttribute("stroke-dasharray", "6 3");
    svg.append(line);
  }
  for (const [k, v] of [["x1", x], ["x2", x], ["y1", d.y0], ["y2", d.y1]]) line.setAttribute(k, v);
}

async function renderChart(st) {
  const line = st.branched ? st.path : "trace";
  if (line !== chartLine || st.branched || !$("chart").querySelector("svg")) {
    const r = await fetch("/api/chart?path=" + encodeURIComponent(st.path));
    $("chart").innerHTML = await r.text();
    chartLine = line;
    for (const g of $("chart").querySelectorAll("svg g[data-i]")) {
      g.addEventListener("click", () => {
        if (current && !current.branched) go(String(Number(g.dataset.i) + 1));
      });
    }
  }
  moveMarker(st.now);
  const n = st.index;
  for (const g of $("chart").querySelectorAll("svg g[data-i]")) {
    const i = Number(g.dataset.i);
    g.classList.toggle("future", i >= n);
    const j = g.dataset.j === undefined ? null : Number(g.dataset.j);
    g.classList.toggle("pending", i < n && j !== null && j >= n);
  }
}

async function load(path) {
  try {
    const st = await api("/api/state?path=" + encodeURIComponent(path));
    current = st;
    showError("");
    $("position").textContent = "step " + st.index + " of " + st.trace_steps + (st.branched ? " (+" + st.branched + " off the trace)" : "");
    $("pathinfo").textContent = st.branched ? "branched off the trace at step " + (st.index - st.branched) : "";
    $("back").disabled = st.back === null;
    $("first").disabled = st.index === 0;
    $("forward").disabled = st.forward === null;
    renderStep(st);
    renderState(st);
    renderVerdicts(st);
    renderSuccessors(st);
    await renderChart(st);
    document.body.dataset.loaded = st.path;
  } catch (e) {
    showError(String(e.message || e));
  }
}

$("back").addEventListener("click", () => current && current.back !== null && go(current.back));
$("forward").addEventListener("click", () => current && current.forward !== null && go(current.forward));
$("first").addEventListener("click", () => go("0"));
$("last").addEventListener("click", () => current && go(String(current.trace_steps)));
$("goto").addEventListener("change", (e) => go(String(e.target.value)));
document.addEventListener("keydown", (e) => {
  if (e.target.tagName === "INPUT") return;
  if (!current) return;
  if ((e.key === "ArrowRight" || e.key === "j") && current.forward !== null) go(current.forward);
  else if ((e.key === "ArrowLeft" || e.key === "k") && current.back !== null) go(current.back);
  else if (e.key === "Home") go("0");
  else if (e.key === "End") go(String(current.trace_steps));
  else return;
  e.preventDefault();
});
window.addEventListener("hashchange", () => load(pathFromHash()));

api("/api/info").then((info) => {
  $("title").textContent = "udpsem explorer — " + info.title + (info.source ? " — " + info.source : "");
  document.title = "udpsem explorer: " + info.program;
  load(pathFromHash());
}).catch((e) => showError(String(e.message || e)));
