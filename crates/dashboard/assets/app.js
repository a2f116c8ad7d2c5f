// joblite dashboard: four views over the Kubernetes API, kept current by
// watch streams (list, then watch from the list's resourceVersion; resume
// from the last one seen). No framework, no build step: a small element
// helper, a virtualised table that draws only the rows in view, and at
// most two redraws a second however many events arrive (`live`).

const $ = (sel, root = document) => root.querySelector(sel);

/** Creates an element: h("a", {href: "#"}, "text", child, ...). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v;
    // Through the CSSOM: the page's CSP forbids style attributes.
    else if (k === "style") el.style.cssText = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/**
 * Sets `parent`'s children, replacing only those that differ from what is
 * there (`isEqualNode`): a redraw that changes one number re-lays out one
 * node, not the view. Most of the cost of a live page is layout and paint.
 */
function patch(parent, ...children) {
  const next = children.flat().filter((c) => c !== null && c !== undefined && c !== false)
    .map((c) => (c instanceof Node ? c : document.createTextNode(String(c))));
  const old = [...parent.childNodes];
  if (old.length !== next.length) { parent.replaceChildren(...next); return; }
  next.forEach((n, i) => { if (!old[i].isEqualNode(n)) parent.replaceChild(n, old[i]); });
}

const state = { csrf: null, ns: localStorage.getItem("joblite.ns") || "", view: null };

// ---- API ----------------------------------------------------------------

async function api(path, { method = "GET", body, contentType } = {}) {
  const headers = {};
  if (method !== "GET") headers["X-CSRF-Token"] = state.csrf;
  if (body !== undefined) headers["Content-Type"] = contentType || "application/json";
  const r = await fetch(path, {
    method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : (typeof body === "string" ? body : JSON.stringify(body)),
  });
  const text = await r.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  if (!r.ok) {
    if (r.status === 401) showLogin();
    const err = new Error((data && data.message) || `${r.status} ${r.statusText}`);
    err.status = r.status;
    throw err;
  }
  return data;
}

/** Reads a streamed response line by line. */
async function readLines(response, onLine, signal) {
  const reader = response.body.getReader();
  const dec = new TextDecoder();
  let buf = "";
  while (!signal.aborted) {
    const { value, done } = await reader.read();
    if (done) break;
    // One split per chunk: a chunk can hold hundreds of lines.
    const lines = (buf + dec.decode(value, { stream: true })).split("\n");
    buf = lines.pop();
    for (const l of lines) {
      const line = l.trim();
      if (line) onLine(line);
    }
  }
  if (buf.trim() && !signal.aborted) onLine(buf.trim());
}

const withParam = (path, kv) => path + (path.includes("?") ? "&" : "?") + kv;

/**
 * List then watch `path` (a collection URL, maybe with selectors): calls
 * onReset(items) after each list and onEvent(type, object) per change.
 * A watch that ends resumes from the last resourceVersion; a 410 lists again.
 */
class Watch {
  constructor(path, onReset, onEvent) {
    Object.assign(this, { path, onReset, onEvent, ctrl: new AbortController(), rv: null, failures: 0 });
    this.run();
  }
  stop() { this.ctrl.abort(); }
  async run() {
    const signal = this.ctrl.signal;
    while (!signal.aborted) {
      try {
        if (this.rv === null) {
          const list = await api(this.path);
          this.rv = list.metadata.resourceVersion;
          this.onReset(list.items || []);
        }
        const url = withParam(this.path, `watch=1&allowWatchBookmarks=true&resourceVersion=${this.rv}`);
        const r = await fetch(url, { credentials: "same-origin", signal });
        if (r.status === 401) { showLogin(); return; }
        if (!r.ok) throw new Error(`watch ${r.status}`);
        setLive(true);
        this.failures = 0;
        await readLines(r, (line) => {
          const ev = JSON.parse(line);
          if (ev.type === "ERROR") { if (ev.object && ev.object.code === 410) this.rv = null; return; }
          if (ev.object && ev.object.metadata) this.rv = ev.object.metadata.resourceVersion;
          if (ev.type !== "BOOKMARK") this.onEvent(ev.type, ev.object);
        }, signal);
      } catch (e) {
        if (signal.aborted) return;
        if (e.status === 401) return;
        setLive(false);
        this.failures++;
      }
      if (!signal.aborted) await sleep(Math.min(5000, 100 * 2 ** this.failures));
    }
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function setLive(ok) {
  const el = $("#live");
  el.hidden = false;
  el.classList.toggle("stale", !ok);
  el.textContent = ok ? "live" : "reconnecting";
}

// ---- time ---------------------------------------------------------------

/** kubectl's HumanDuration: 5s, 3m12s, 2h5m, 3d4h, 400d. */
function human(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return `${m}m${s % 60 ? (s % 60) + "s" : ""}`;
  if (m < 180) return `${m}m`;
  const hr = Math.floor(m / 60);
  if (hr < 8) return `${hr}h${m % 60 ? (m % 60) + "m" : ""}`;
  if (hr < 48) return `${hr}h`;
  const d = Math.floor(hr / 24);
  if (d < 8) return `${d}d${hr % 24 ? (hr % 24) + "h" : ""}`;
  return `${d}d`;
}
const t = (s) => (s ? Date.parse(s) : NaN);
const age = (s) => (s ? human(Date.now() - t(s)) : "");

// ---- redraw scheduling --------------------------------------------------

let frame = 0;
const redrawers = new Set();
function redraw(fn) {
  redrawers.add(fn);
  if (!frame) frame = requestAnimationFrame(() => {
    frame = 0;
    const fns = [...redrawers];
    redrawers.clear();
    for (const f of fns) f();
  });
}

// Redraws driven by watch streams go through `live`: at most one batch
// per LIVE_MS, and never more than a tenth of the time spent drawing. A
// 10,000-pod Job changes hundreds of rows a second; drawing on every
// frame cost the engine it watches most of a core on a 2-core machine,
// and nobody reads a table faster than a few updates a second.
const LIVE_MS = 500;
let liveTimer = 0, liveCost = 0, liveLast = 0;
const liveFns = new Set();
function live(fn) {
  liveFns.add(fn);
  if (liveTimer) return;
  const wait = Math.max(0, liveLast + Math.max(LIVE_MS, 10 * liveCost) - performance.now());
  liveTimer = setTimeout(() => requestAnimationFrame(() => {
    const t0 = performance.now();
    const fns = [...liveFns];
    liveFns.clear();
    for (const f of fns) f();
    liveLast = performance.now();
    liveCost = liveLast - t0;
    liveTimer = 0;
    if (liveFns.size) live([...liveFns][0]);
  }), wait);
}

// Ages and durations move with the clock: redraw what is on screen every
// few seconds. This is a local redraw; it sends no request.
setInterval(() => { if (state.view && state.view.tick) redraw(state.view.tick); }, 5000);

// ---- a virtualised table ------------------------------------------------

/**
 * columns: [{title, width, cell(row) -> string|Node}]. setRows(array) and
 * the table draws the rows in view only, reusing their elements.
 */
class VTable {
  constructor(columns, { height = 480, rowHeight = 34, empty = "Nothing here yet.", key } = {}) {
    Object.assign(this, { columns, rowHeight, empty, rows: [], key });
    const grid = columns.map((c) => c.width || "1fr").join(" ");
    this.head = h("div", { class: "vt-head", style: `grid-template-columns:${grid}`, role: "row" },
      columns.map((c) => h("div", { role: "columnheader" }, c.title)));
    this.spacer = h("div", { class: "vt-spacer" });
    this.body = h("div", { class: "vt-body", style: `max-height:${height}px`, onscroll: () => redraw(this.draw) }, this.spacer);
    this.emptyEl = h("div", { class: "vt-empty" }, empty);
    this.el = h("div", { class: "vt", role: "table" }, this.head, this.body);
    this.grid = grid;
    this.draw = () => this.render();
  }
  /** New rows from a stream: drawn in the next `live` batch. */
  setRows(rows) { this.rows = rows; live(this.draw); }
  render(force = false) {
    const n = this.rows.length;
    if (!n) { this.shown = null; this.spacer.replaceChildren(this.emptyEl); this.spacer.style.height = "auto"; return; }
    const height = `${n * this.rowHeight}px`;
    if (this.spacer.style.height !== height) this.spacer.style.height = height;
    const top = this.body.scrollTop;
    const view = this.body.clientHeight || 480;
    const first = Math.max(0, Math.floor(top / this.rowHeight) - 5);
    const last = Math.min(n, Math.ceil((top + view) / this.rowHeight) + 5);
    // The rows in view are the same objects as last time: nothing to do
    // (a changed row is a new object). Most changes of a big Job are
    // out of view.
    const shown = this.rows.slice(first, last);
    if (!force && this.shown && this.shownFirst === first && shown.length === this.shown.length
        && shown.every((r, i) => r === this.shown[i])) return;
    this.shown = shown;
    this.shownFirst = first;
    const els = [];
    for (let i = first; i < last; i++) {
      const row = this.rows[i];
      const el = h("div", { class: "vt-row", role: "row", style: `top:${i * this.rowHeight}px;grid-template-columns:${this.grid}` },
        this.columns.map((c) => h("div", { role: "cell" }, c.cell(row))));
      if (this.key) el.dataset.key = this.key(row);
      els.push(el);
    }
    patch(this.spacer, els);
  }
}

// ---- Jobs ---------------------------------------------------------------

const cond = (obj, type) => (obj.status?.conditions || []).find((c) => c.type === type && c.status === "True");

/** The one-word status of a Job, as Headlamp and kubectl summarise it. */
function jobStatus(j) {
  if (cond(j, "Complete")) return "Complete";
  if (cond(j, "Failed")) return "Failed";
  if (cond(j, "FailureTarget")) return "Failing";
  if (cond(j, "SuccessCriteriaMet")) return "Completing";
  if (cond(j, "Suspended") || (j.spec?.suspend && !j.status?.active)) return "Suspended";
  return (j.status?.active || 0) > 0 ? "Running" : "Pending";
}

function progress(j) {
  const want = j.spec?.completions ?? null;
  const ok = j.status?.succeeded || 0, bad = j.status?.failed || 0, run = j.status?.active || 0;
  const total = want ?? Math.max(1, ok + run);
  const pct = (n) => `${Math.min(100, (100 * n) / total)}%`;
  return h("div", { class: "progress", dataset: { succeeded: ok, completions: want ?? "" } },
    h("div", { class: "bar", title: `${ok} succeeded, ${run} active, ${bad} failed` },
      h("i", { class: "ok", style: `width:${pct(ok)}` }),
      h("i", { class: "run", style: `width:${pct(Math.max(0, Math.min(run, total - ok)))}` }),
      h("i", { class: "bad", style: `width:${pct(Math.max(0, Math.min(bad, total - ok - run)))}` })),
    h("span", { class: "num completions" }, `${ok}/${want ?? "-"}`));
}

function duration(j) {
  const start = t(j.status?.startTime);
  if (isNaN(start)) return "";
  const end = t(j.status?.completionTime);
  return human((isNaN(end) ? Date.now() : end) - start);
}

const owner = (obj, kind) => (obj.metadata.ownerReferences || []).find((o) => o.kind === kind && o.controller);
const badge = (s) => h("span", { class: `badge s-${s}` }, s);
const nsPath = (group, plural) => state.ns ? `${group}/namespaces/${encodeURIComponent(state.ns)}/${plural}` : `${group}/${plural}`;
const key = (o) => `${o.metadata.namespace}/${o.metadata.name}`;

function jobsView(main) {
  const jobs = new Map();
  const table = new VTable([
    { title: "Name", width: "2fr", cell: (j) => h("a", { href: `#/jobs/${j.metadata.namespace}/${j.metadata.name}`, class: "job-link" }, j.metadata.name) },
    { title: "Namespace", width: "1fr", cell: (j) => j.metadata.namespace },
    { title: "Status", width: "1fr", cell: (j) => badge(jobStatus(j)) },
    { title: "Completions", width: "2fr", cell: progress },
    { title: "Active", width: "70px", cell: (j) => h("span", { class: "num" }, j.status?.active || 0) },
    { title: "Failed", width: "70px", cell: (j) => h("span", { class: "num" }, j.status?.failed || 0) },
    { title: "Duration", width: "90px", cell: duration },
    { title: "Age", width: "80px", cell: (j) => age(j.metadata.creationTimestamp) },
    { title: "CronJob", width: "1fr", cell: (j) => owner(j, "CronJob")?.name || "" },
  ], { height: Math.max(300, innerHeight - 200), empty: "No Jobs.", key: key });
  const count = h("span", { class: "muted" });
  main.replaceChildren(h("h1", {}, "Jobs", count), table.el);
  const draw = () => {
    const rows = [...jobs.values()].sort((a, b) => key(a).localeCompare(key(b)));
    count.textContent = `${rows.length}`;
    table.setRows(rows);
  };
  const w = new Watch(nsPath("/apis/batch/v1", "jobs"),
    (items) => { jobs.clear(); for (const j of items) jobs.set(key(j), j); live(draw); },
    (type, j) => { if (type === "DELETED") jobs.delete(key(j)); else jobs.set(key(j), j); live(draw); });
  return { stop: () => w.stop(), tick: () => table.render(true) };
}

// ---- a Job ----------------------------------------------------------------

/** Parses "1,3-5" into [[1,1],[3,5]]. */
const intervals = (s) => (s || "").split(",").filter(Boolean).map((p) => {
  const [a, b] = p.split("-").map(Number);
  return [a, b ?? a];
});

/** Draws one cell per completion index: succeeded, failed, running, pending. */
function drawStrip(canvas, job, running) {
  const n = job.spec?.completions || 0;
  const w = canvas.clientWidth || 800, hgt = canvas.clientHeight || 22;
  canvas.width = w; canvas.height = hgt;
  const ctx = canvas.getContext("2d");
  const css = getComputedStyle(document.documentElement);
  const color = (v) => css.getPropertyValue(v).trim();
  ctx.fillStyle = color("--bar"); ctx.fillRect(0, 0, w, hgt);
  const px = (i) => Math.floor((i * w) / n);
  const paint = (a, b, c) => { ctx.fillStyle = c; ctx.fillRect(px(a), 0, Math.max(1, px(b + 1) - px(a)), hgt); };
  for (const i of running) paint(i, i, color("--run"));
  for (const [a, b] of intervals(job.status?.failedIndexes)) paint(a, b, color("--bad"));
  for (const [a, b] of intervals(job.status?.completedIndexes)) paint(a, b, color("--ok"));
}

function jobView(main, ns, name) {
  let job = null;
  const pods = new Map();
  const events = new Map();
  const title = h("h1", {}, name);
  const summary = h("div", { class: "summary" });
  const conditions = h("div");
  const stripBox = h("div", { hidden: true });
  const strip = h("canvas", { class: "strip" });
  stripBox.append(h("h2", {}, "Completion indexes"), strip,
    h("div", { class: "legend" }, h("span", {}, h("i", { style: "background:var(--ok)" }), "succeeded"),
      h("span", {}, h("i", { style: "background:var(--bad)" }), "failed"),
      h("span", {}, h("i", { style: "background:var(--run)" }), "running"),
      h("span", {}, h("i", { style: "background:var(--bar)" }), "pending")));
  const podCount = h("span", { class: "muted" });
  const podTable = new VTable([
    { title: "Pod", width: "2fr", cell: (r) => h("a", { href: `#/pods/${ns}/${r[0]}`, class: "pod-link" }, r[0]) },
    { title: "Phase", width: "1fr", cell: (r) => badge(r[8] && r[1] === "Running" ? "Terminating" : r[1]) },
    { title: "Restarts", width: "80px", cell: (r) => h("span", { class: "num" }, r[2]) },
    { title: "Exit code", width: "80px", cell: (r) => h("span", { class: "num" }, r[3] ?? "") },
    { title: "Reason", width: "1fr", cell: (r) => r[4] || "" },
    { title: "Index", width: "70px", cell: (r) => r[7] ?? "" },
    { title: "Node", width: "1fr", cell: (r) => r[5] || "" },
    { title: "Age", width: "80px", cell: (r) => age(r[6]) },
  ], { height: 400, empty: "No pods.", key: (r) => r[0] });
  const eventsBody = h("tbody");
  const error = h("p", { class: "error" });
  main.replaceChildren(h("p", {}, h("a", { href: "#/" }, "← Jobs")), title, error, summary, h("h2", {}, "Conditions"), conditions, stripBox,
    h("h2", {}, "Pods ", podCount), podTable.el,
    h("h2", {}, "Events"), h("table", { class: "plain" }, h("thead", {}, h("tr", {}, ["Type", "Reason", "Age", "From", "Message"].map((x) => h("th", {}, x)))), eventsBody));

  const act = async (fn) => {
    error.textContent = "";
    try { await fn(); } catch (e) { error.textContent = e.message; }
  };
  const suspend = (on) => act(() => api(`/apis/batch/v1/namespaces/${ns}/jobs/${name}`, {
    method: "PATCH", contentType: "application/merge-patch+json", body: { spec: { suspend: on } },
  }));
  const del = (policy) => act(async () => {
    await api(`/apis/batch/v1/namespaces/${ns}/jobs/${name}`, {
      method: "DELETE", body: { kind: "DeleteOptions", apiVersion: "v1", propagationPolicy: policy },
    });
    location.hash = "#/";
  });

  const drawHeader = () => {
    if (!job) return;
    const st = jobStatus(job);
    const policy = h("select", { id: "propagation", title: "propagationPolicy" },
      ["Background", "Foreground", "Orphan"].map((p) => h("option", { value: p }, p)));
    const confirm = h("span", { class: "confirm", hidden: true },
      "Delete this Job?", policy,
      h("button", { class: "danger", id: "confirm-delete", onclick: () => del(policy.value) }, "Delete"),
      h("button", { onclick: () => { confirm.hidden = true; } }, "Cancel"));
    const finished = st === "Complete" || st === "Failed";
    patch(title, name, badge(st), h("span", { class: "actions" },
      job.spec?.suspend
        ? h("button", { id: "resume", class: "primary", disabled: finished, onclick: () => suspend(false) }, "Resume")
        : h("button", { id: "suspend", disabled: finished, onclick: () => suspend(true) }, "Suspend"),
      h("button", { id: "delete", class: "danger", onclick: () => { confirm.hidden = false; } }, "Delete…"),
      confirm));
  };
  const drawJob = () => {
    if (!job) return;
    const s = job.spec || {}, st = job.status || {};
    const c0 = s.template?.spec?.containers?.[0] || {};
    const item = (k, v) => h("div", {}, h("span", {}, k), v);
    patch(summary,
      item("Namespace", ns),
      item("Completions", progress(job)),
      item("Parallelism", s.parallelism ?? 1),
      item("Completion mode", s.completionMode || "NonIndexed"),
      item("Active / ready / terminating", `${st.active || 0} / ${st.ready ?? 0} / ${st.terminating ?? 0}`),
      item("Succeeded / failed", `${st.succeeded || 0} / ${st.failed || 0}`),
      item("Backoff limit", s.backoffLimitPerIndex !== undefined ? `${s.backoffLimitPerIndex} per index` : (s.backoffLimit ?? 6)),
      item("Active deadline", s.activeDeadlineSeconds ? `${s.activeDeadlineSeconds}s` : "-"),
      item("TTL after finished", s.ttlSecondsAfterFinished ?? "-"),
      item("Suspend", s.suspend ? "true" : "false"),
      item("Started", st.startTime ? `${age(st.startTime)} ago` : "-"),
      item("Duration", duration(job) || "-"),
      item("CronJob", owner(job, "CronJob")?.name || "-"),
      item("Image", c0.image || "-"),
      item("Command", [...(c0.command || []), ...(c0.args || [])].join(" ") || "-"),
    );
    const cs = st.conditions || [];
    patch(conditions, cs.length
      ? h("table", { class: "plain", id: "conditions" }, h("thead", {}, h("tr", {}, ["Type", "Status", "Reason", "Message", "Last transition"].map((x) => h("th", {}, x)))),
        h("tbody", {}, cs.map((c) => h("tr", { dataset: { type: c.type, status: c.status } }, h("td", {}, c.type), h("td", {}, c.status), h("td", {}, c.reason || ""), h("td", {}, c.message || ""), h("td", {}, `${age(c.lastTransitionTime)} ago`)))))
      : h("p", { class: "muted" }, "No conditions yet."));
    drawHeader();
  };
  const drawStripNow = () => {
    if (!job || job.spec?.completionMode !== "Indexed") return;
    stripBox.hidden = false;
    const running = [];
    for (const r of pods.values()) if (r[7] !== null && (r[1] === "Running" || r[1] === "Pending")) running.push(r[7]);
    drawStrip(strip, job, running);
  };
  // A row's place (index, then name) never changes: sort only when pods
  // come or go, not on every status change.
  let order = null;
  const drawPods = () => {
    if (!order) {
      // Plain code-point order, as kubectl sorts names (localeCompare cost
      // ~100 ms per sort at 10,000 pods).
      order = [...pods.values()].sort((a, b) => (a[7] ?? 0) - (b[7] ?? 0) || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map((r) => r[0]);
    }
    const rows = order.map((n) => pods.get(n));
    podCount.textContent = `${rows.length}`;
    podTable.rows = rows;
    podTable.render();
    drawStripNow();
  };
  const drawEvents = () => {
    const evs = [...events.values()].sort((a, b) => t(b.lastTimestamp || b.eventTime || b.metadata.creationTimestamp) - t(a.lastTimestamp || a.eventTime || a.metadata.creationTimestamp));
    patch(eventsBody, ...evs.slice(0, 200).map((e) => h("tr", { dataset: { reason: e.reason } },
      h("td", {}, e.type), h("td", {}, e.reason), h("td", {}, age(e.lastTimestamp || e.eventTime || e.metadata.creationTimestamp)),
      h("td", {}, e.source?.component || e.reportingComponent || ""), h("td", {}, `${e.message}${e.count > 1 ? ` (×${e.count})` : ""}`))));
  };

  let podStream = null, evWatch = null;
  const startPods = (uid) => {
    const ctrl = new AbortController();
    podStream = ctrl;
    (async () => {
      let failures = 0;
      while (!ctrl.signal.aborted) {
        try {
          const r = await fetch(`/ui/data/pods?namespace=${encodeURIComponent(ns)}&controllerUid=${encodeURIComponent(uid)}`, { credentials: "same-origin", signal: ctrl.signal });
          if (r.status === 401) { showLogin(); return; }
          const fresh = new Map();
          let synced = false;
          await readLines(r, (line) => {
            const m = JSON.parse(line);
            const target = synced ? pods : fresh;
            if (m.t === "rows") for (const row of m.r) target.set(row[0], row);
            else if (m.t === "synced") { synced = true; pods.clear(); for (const [k, v] of fresh) pods.set(k, v); order = null; }
            else if (m.t === "B") {
              for (const row of m.r) { if (!pods.has(row[0])) order = null; pods.set(row[0], row); }
              for (const n of m.d) { if (pods.delete(n)) order = null; }
            }
            if (synced) live(drawPods);
          }, ctrl.signal);
          failures = 0;
        } catch (e) { if (ctrl.signal.aborted) return; failures++; }
        await sleep(Math.min(5000, 100 * 2 ** failures));
      }
    })();
    evWatch = new Watch(`/api/v1/namespaces/${encodeURIComponent(ns)}/events?fieldSelector=${encodeURIComponent(`involvedObject.uid=${uid}`)}`,
      (items) => { events.clear(); for (const e of items) events.set(e.metadata.name, e); live(drawEvents); },
      (type, e) => { if (type === "DELETED") events.delete(e.metadata.name); else events.set(e.metadata.name, e); live(drawEvents); });
  };

  let uid = null;
  const jobWatch = new Watch(`/apis/batch/v1/namespaces/${encodeURIComponent(ns)}/jobs?fieldSelector=${encodeURIComponent(`metadata.name=${name}`)}`,
    (items) => { job = items[0] || null; onJob(); },
    (type, j) => { job = type === "DELETED" ? null : j; onJob(); });
  function onJob() {
    if (!job) {
      title.replaceChildren(name, badge("Deleted"));
      return;
    }
    if (job.metadata.uid !== uid) {
      if (podStream) podStream.abort();
      if (evWatch) evWatch.stop();
      pods.clear(); events.clear(); order = null;
      uid = job.metadata.uid;
      startPods(uid);
    }
    live(drawJob);
    live(drawStripNow);
  }
  return {
    stop: () => { jobWatch.stop(); if (podStream) podStream.abort(); if (evWatch) evWatch.stop(); },
    tick: () => { drawJob(); podTable.render(true); drawEvents(); },
  };
}

// ---- a pod's logs ---------------------------------------------------------

const MAX_LOG_CHARS = 2_000_000;

function podView(main, ns, name) {
  const base = `/api/v1/namespaces/${encodeURIComponent(ns)}/pods/${encodeURIComponent(name)}`;
  const pre = h("pre", { class: "log", id: "log" });
  const info = h("div", { class: "summary" });
  const containerSel = h("select", { id: "container" });
  const followBtn = h("button", { id: "follow", class: "primary" }, "Follow");
  const prevBtn = h("button", { id: "previous" }, "Previous");
  const dl = h("a", { id: "download", download: `${name}.log` }, "Download");
  const back = h("a", { href: "#/" }, "← Jobs");
  const error = h("p", { class: "error" });
  main.replaceChildren(h("p", {}, back), h("h1", {}, name), error, info,
    h("div", { class: "toolbar" }, h("label", {}, "Container ", containerSel), followBtn, prevBtn, dl), pre);
  let ctrl = null;
  const stopStream = () => { if (ctrl) ctrl.abort(); ctrl = null; followBtn.textContent = "Follow"; };
  const append = (text) => {
    const stick = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 20;
    let s = pre.textContent + text;
    if (s.length > MAX_LOG_CHARS) s = s.slice(s.length - MAX_LOG_CHARS);
    pre.textContent = s;
    if (stick) pre.scrollTop = pre.scrollHeight;
  };
  const stream = async (params) => {
    stopStream();
    pre.textContent = "";
    error.textContent = "";
    ctrl = new AbortController();
    const c = containerSel.value;
    if (params.follow) followBtn.textContent = "Stop";
    try {
      const r = await fetch(`${base}/log?container=${encodeURIComponent(c)}${params.follow ? "&follow=true" : ""}${params.previous ? "&previous=true" : ""}`,
        { credentials: "same-origin", signal: ctrl.signal });
      if (!r.ok) { const s = await r.json().catch(() => ({})); throw new Error(s.message || `${r.status}`); }
      const reader = r.body.getReader(), dec = new TextDecoder();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        append(dec.decode(value, { stream: true }));
      }
    } catch (e) { if (!ctrl || !ctrl.signal.aborted) error.textContent = e.message; }
    followBtn.textContent = "Follow";
  };
  followBtn.onclick = () => (followBtn.textContent === "Stop" ? stopStream() : stream({ follow: true }));
  prevBtn.onclick = () => stream({ previous: true });
  const setDownload = () => { dl.href = `${base}/log?container=${encodeURIComponent(containerSel.value)}`; dl.download = `${name}-${containerSel.value}.log`; };
  containerSel.onchange = () => { setDownload(); stream({ follow: true }); };
  let started = false;
  const podWatch = new Watch(`/api/v1/namespaces/${encodeURIComponent(ns)}/pods?fieldSelector=${encodeURIComponent(`metadata.name=${name}`)}`,
    (items) => show(items[0]), (type, p) => show(type === "DELETED" ? null : p));
  function show(p) {
    if (!p) { info.replaceChildren(h("div", {}, badge("Deleted"))); return; }
    const job = owner(p, "Job");
    if (job) back.replaceChildren(`← Job ${job.name}`), back.href = `#/jobs/${ns}/${job.name}`;
    const cs = p.status?.containerStatuses || [];
    const names = [...(p.spec.initContainers || []), ...p.spec.containers].map((c) => c.name);
    if (!containerSel.options.length) {
      containerSel.replaceChildren(...names.map((n) => h("option", { value: n }, n)));
      containerSel.value = p.spec.containers[0].name;
      setDownload();
    }
    const term = cs.map((c) => c.state?.terminated).find(Boolean);
    info.replaceChildren(
      h("div", {}, h("span", {}, "Phase"), badge(p.status?.phase || "Pending")),
      h("div", {}, h("span", {}, "Node"), p.spec.nodeName || "-"),
      h("div", {}, h("span", {}, "Restarts"), cs.reduce((n, c) => n + (c.restartCount || 0), 0)),
      h("div", {}, h("span", {}, "Exit code"), term ? `${term.exitCode} (${term.reason || ""})` : "-"),
      h("div", {}, h("span", {}, "Age"), age(p.metadata.creationTimestamp)));
    if (!started) { started = true; stream({ follow: true }); }
  }
  return { stop: () => { stopStream(); podWatch.stop(); } };
}

// ---- CronJobs -----------------------------------------------------------

function cronJobsView(main) {
  const cjs = new Map();
  let next = {};
  const table = new VTable([
    { title: "Name", width: "2fr", cell: (c) => c.metadata.name },
    { title: "Namespace", width: "1fr", cell: (c) => c.metadata.namespace },
    { title: "Schedule", width: "2fr", cell: (c) => `${c.spec.schedule}${c.spec.timeZone ? ` (${c.spec.timeZone})` : ""}` },
    { title: "Suspend", width: "80px", cell: (c) => (c.spec.suspend ? "True" : "False") },
    { title: "Active", width: "70px", cell: (c) => (c.status?.active || []).length },
    { title: "Last schedule", width: "1fr", cell: (c) => (c.status?.lastScheduleTime ? `${age(c.status.lastScheduleTime)} ago` : "<none>") },
    { title: "Next run", width: "1fr", cell: (c) => { const n = next[key(c)]; return n ? `in ${human(t(n) - Date.now())}` : "-"; } },
    { title: "Age", width: "80px", cell: (c) => age(c.metadata.creationTimestamp) },
  ], { height: Math.max(300, innerHeight - 200), empty: "No CronJobs.", key });
  main.replaceChildren(h("h1", {}, "CronJobs"), table.el);
  const draw = () => table.setRows([...cjs.values()].sort((a, b) => key(a).localeCompare(key(b))));
  // Next runs follow the CronJobs' changes (and the local clock), not a timer.
  let pending = null;
  const refreshNext = () => {
    clearTimeout(pending);
    pending = setTimeout(async () => {
      try { next = await api(`/ui/data/next-runs?namespace=${encodeURIComponent(state.ns)}`); } catch { next = {}; }
      redraw(draw);
    }, 200);
  };
  const w = new Watch(nsPath("/apis/batch/v1", "cronjobs"),
    (items) => { cjs.clear(); for (const c of items) cjs.set(key(c), c); live(draw); refreshNext(); },
    (type, c) => { if (type === "DELETED") cjs.delete(key(c)); else cjs.set(key(c), c); live(draw); refreshNext(); });
  return { stop: () => w.stop(), tick: () => { if (Object.values(next).some((n) => n && t(n) < Date.now())) refreshNext(); table.render(true); } };
}

// ---- login and routing --------------------------------------------------

function showLogin() {
  if (state.view) { state.view.stop(); state.view = null; }
  $("#nav").hidden = true;
  $("#ns-filter").hidden = true;
  $("#live").hidden = true;
  $("#main").replaceChildren(h("div", { class: "login", id: "login" },
    h("h1", {}, "Log in to the joblite dashboard"),
    h("p", {}, "This page shows nothing without a session. To get one, run"),
    h("p", {}, h("code", {}, "joblite dashboard")),
    h("p", {}, "on the machine that runs the engine, and open the one-time link it prints (it opens a browser where it can). The link works once, for five minutes.")));
}

function route() {
  if (!state.csrf) return;
  if (state.view) state.view.stop();
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  const main = $("#main");
  for (const a of document.querySelectorAll("[data-nav]")) a.classList.remove("active");
  const nav = (n) => $(`[data-nav=${n}]`).classList.add("active");
  $("#ns-filter").hidden = false;
  if (parts[0] === "jobs" && parts.length >= 3) { $("#ns-filter").hidden = true; nav("jobs"); state.view = jobView(main, parts[1], parts[2]); }
  else if (parts[0] === "pods" && parts.length >= 3) { $("#ns-filter").hidden = true; state.view = podView(main, parts[1], parts[2]); }
  else if (parts[0] === "cronjobs") { nav("cronjobs"); state.view = cronJobsView(main); }
  else { nav("jobs"); state.view = jobsView(main); }
}

async function namespaces() {
  const sel = $("#ns");
  const names = new Set();
  const draw = () => {
    const cur = state.ns;
    sel.replaceChildren(h("option", { value: "" }, "all namespaces"), ...[...names].sort().map((n) => h("option", { value: n }, n)));
    if (cur && !names.has(cur)) sel.append(h("option", { value: cur }, cur));
    sel.value = cur;
  };
  new Watch("/api/v1/namespaces",
    (items) => { names.clear(); for (const n of items) names.add(n.metadata.name); draw(); },
    (type, n) => { if (type === "DELETED") names.delete(n.metadata.name); else names.add(n.metadata.name); draw(); });
  sel.onchange = () => { state.ns = sel.value; localStorage.setItem("joblite.ns", state.ns); route(); };
}

async function start() {
  try {
    const s = await api("/ui/session");
    state.csrf = s.csrfToken;
  } catch {
    showLogin();
    return;
  }
  $("#nav").hidden = false;
  namespaces();
  addEventListener("hashchange", route);
  route();
}

start();
