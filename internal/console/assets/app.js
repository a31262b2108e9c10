// kinflow console: one page per route (#/overview, #/flows, #/conns, #/alerts, #/lb, #/ip/<ip>, #/health), drawn from the console's
// JSON API. No framework and no build step: the charts are SVG drawn here. Every value from the API is escaped
// (esc) before it becomes markup, so a field value can never become a tag.
"use strict";

const state = { meta: null, timer: null, seq: 0, fields: null };

// sticky are a page's own parameters that a new search keeps (the alerts' and the load balancers' filters); the
// others (a flows cursor, a selected window or alert) belong to the search they came from.
const sticky = { alerts: ["rule", "status"], lb: ["lb", "dataset"] };

// renderers by page id; the nav comes from the server's page registry (/api/meta), so a page added there without
// a renderer here shows a message instead of a blank page.
const pages = {
  overview: renderOverview,
  flows: renderFlows,
  conns: renderConns,
  alerts: renderAlerts,
  lb: renderLB,
  health: renderHealth,
  ip: renderIP,
};

const $ = (sel) => document.querySelector(sel);
const esc = (v) => String(v ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
const num = (n) => (n ?? 0).toLocaleString("en-US");
const pct = (x) => ((x ?? 0) * 100).toFixed(1) + "%";
function bytes(n) {
  n = n ?? 0;
  const u = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + " " + u[i];
}
const isIP = (s) => /^[0-9a-fA-F:.]+$/.test(s) && (s.includes(".") || s.includes(":"));
const ipLink = (ip) => `<a class="ip" href="#/ip/${encodeURIComponent(ip)}">${esc(ip)}</a>`;
const keyCell = (k) => (isIP(k) ? ipLink(k) : esc(k));
// flag is a country's flag emoji from its ISO code (regional indicator letters), "" for anything else.
const flag = (cc) => (/^[A-Z]{2}$/.test(cc || "") ? String.fromCodePoint(...[...cc].map((c) => 0x1f1e6 + c.charCodeAt(0) - 65)) : "");
// tag is what an IP row's flows say it is, beside it: its instance's Name tag, its country's flag and code.
const tag = (r) => (r.name ? ` <span class="tag name" title="instance Name tag">${esc(r.name)}</span>` : "") +
  (r.country ? ` <span class="tag country" title="country">${flag(r.country)} ${esc(r.country)}</span>` : "");
const time = (t) => (t ? new Date(t).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z") : "");

// route reads the hash: #/page/arg?range=1h&q=...
function route() {
  const h = location.hash.replace(/^#\/?/, "") || "overview";
  const [path, qs] = h.split("?");
  const [page, ...rest] = path.split("/");
  return { page, arg: decodeURIComponent(rest.join("/")), params: new URLSearchParams(qs || "") };
}

// scopeParams are the bar's range and query, as the API takes them.
function scopeParams() {
  const p = new URLSearchParams();
  const r = $("#range").value;
  if (r === "custom") {
    if ($("#from").value) p.set("from", $("#from").value);
    if ($("#to").value) p.set("to", $("#to").value);
  } else p.set("range", r);
  const q = $("#q").value.trim();
  if (q) p.set("q", q);
  return p;
}

// syncBar puts the route's scope into the bar (a shared or reloaded link shows what it searched).
function syncBar(params) {
  if (params.has("q")) $("#q").value = params.get("q");
  if (params.has("from")) {
    $("#range").value = "custom";
    $("#from").value = params.get("from");
    $("#to").value = params.get("to") || "";
  } else if (params.has("range")) $("#range").value = params.get("range");
  $("#custom").hidden = $("#range").value !== "custom";
}

async function api(path, extra) {
  const p = scopeParams();
  for (const [k, v] of Object.entries(extra || {})) if (v !== undefined && v !== "") p.set(k, v);
  let res;
  try {
    res = await fetch(`api/${path}?${p}`, { credentials: "same-origin", headers: { Accept: "application/json" } });
  } catch (e) {
    throw Object.assign(new Error("the console does not answer: " + e.message), { status: 0 });
  }
  let body;
  try { body = await res.json(); } catch { body = { error: `HTTP ${res.status}` }; }
  if (!res.ok) throw Object.assign(new Error(body.error || `HTTP ${res.status}`), { status: res.status, body });
  return body;
}

// showError shows e in the one warning line, or clears it (null). An error shown during a load stays until the next
// load: a panel that failed before the rest of the page drew must not be cleared by the page finishing.
function showError(e) {
  const el = $("#error");
  if (!e) { el.hidden = true; el.textContent = ""; $("#q").classList.remove("bad"); return; }
  state.erroredSeq = state.seq;
  el.hidden = false;
  el.textContent = (e.status ? `Error ${e.status}: ` : "Error: ") + e.message;
  $("#q").classList.toggle("bad", e.status === 400 && e.body && e.body.offset !== undefined);
}

async function load() {
  const seq = ++state.seq;
  const r = route();
  syncBar(r.params);
  for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("active", a.dataset.page === r.page);
  setFields(r.page);
  const render = pages[r.page];
  const main = $("#page");
  if (!render) { main.innerHTML = `<p>No page “${esc(r.page)}”.</p>`; return; }
  const started = performance.now();
  try {
    if (state.erroredSeq !== undefined && state.erroredSeq !== seq) showError(null);
    await render(main, r, () => seq === state.seq);
    if (seq !== state.seq) return;
    if (state.erroredSeq !== seq) showError(null);
    $("#status").textContent = `updated ${new Date().toLocaleTimeString()} in ${Math.round(performance.now() - started)} ms`;
  } catch (e) {
    if (seq !== state.seq) return;
    showError(e);
    if (!main.dataset.page || main.dataset.page !== r.page) main.innerHTML = "";
    $("#status").textContent = `failed ${new Date().toLocaleTimeString()}`;
  }
  main.dataset.page = r.page;
}

// barFields are the query bar's fields and example per page: the page's documents' (alerts, load-balancer logs), else
// the flows'.
const barFields = {
  alerts: ["alert_fields", "KQL: rule.name:horizontal_scan AND source.ip:10.0.0.0/8 AND event.severity >= 73"],
  lb: ["lb_fields", "KQL: http.response.status_code >= 500 AND url.path:/api/* AND NOT user_agent.original:ELB-HealthChecker*"],
};
const flowFields = ["fields", "KQL: source.ip:10.0.0.0/8 AND event.action:reject AND destination.ip:*"];

// setFields offers the query bar the fields of the page's documents.
function setFields(page) {
  const [which, example] = barFields[page] || flowFields;
  if (!state.meta || state.fields === which) return;
  state.fields = which;
  $("#fields").innerHTML = (state.meta[which] || []).map((f) => `<option value="${esc(f)}:">`).join("");
  $("#q").placeholder = example;
}

// navigate writes the bar's scope into the hash (which loads the page).
function navigate(page) {
  const r = route();
  const p = scopeParams();
  if (!page || page === r.page) for (const k of sticky[r.page] || []) if (r.params.has(k)) p.set(k, r.params.get(k));
  const target = `#/${page || r.page}${r.arg && !page ? "/" + encodeURIComponent(r.arg) : ""}?${p}`;
  if (location.hash === target) load(); else location.hash = target;
}

function setRefresh() {
  clearInterval(state.timer);
  const s = Number($("#refresh").value);
  if (s > 0) state.timer = setInterval(load, s * 1000);
}

// ---- charts -------------------------------------------------------------------------------------------------

// series draws stacked bars of accepted (blue) and rejected (red) per bucket; metric is "flows" or "bytes".
function series(points, metric) {
  const by = metric === "bytes";
  return stacked(points, [
    { key: "accepted", label: "accepted", color: "#2f6fdf", v: (p) => (by ? p.bytes_accepted : p.accepted) },
    { key: "rejected", label: "rejected", color: "#d9473b", v: (p) => (by ? p.bytes_rejected : p.rejected) },
  ], by ? bytes : (v) => num(Math.round(v)), `${metric} over time`);
}

// stacked draws one bar per bucket, its layers stacked bottom up: {key, label, color, v(point)}; fmt labels the
// axis. A layer's rect carries its class (layer-<key>) and value (data-v).
function stacked(points, layers, fmt, label) {
  const W = 900, H = 180, L = 56, B = 22, T = 8;
  const max = Math.max(1, ...points.map((p) => layers.reduce((n, l) => n + (l.v(p) || 0), 0)));
  const bw = (W - L) / Math.max(1, points.length);
  const y = (v) => T + (H - T - B) * (1 - v / max);
  let s = `<svg viewBox="0 0 ${W} ${H}" width="100%" role="img" aria-label="${esc(label)}">`;
  for (let i = 0; i <= 4; i++) {
    const v = (max * i) / 4;
    s += `<line x1="${L}" x2="${W}" y1="${y(v)}" y2="${y(v)}" stroke="#eceef2"/><text x="${L - 4}" y="${y(v) + 3}" text-anchor="end">${esc(fmt(v))}</text>`;
  }
  points.forEach((p, i) => {
    const x = L + i * bw;
    const tip = `${time(p.t)}: ${layers.map((l) => `${num(l.v(p))} ${l.label}`).join(", ")}`;
    s += `<g><title>${esc(tip)}</title>`;
    let base = 0;
    for (const l of layers) {
      const v = l.v(p) || 0;
      s += `<rect class="layer-${esc(l.key)}" data-v="${esc(v)}" x="${x + 0.5}" y="${y(base + v)}" width="${Math.max(1, bw - 1)}" height="${y(base) - y(base + v)}" fill="${esc(l.color)}"/>`;
      base += v;
    }
    s += `</g>`;
  });
  const ticks = Math.min(6, points.length);
  for (let k = 0; k < ticks; k++) {
    const i = Math.floor((k * points.length) / ticks);
    const d = new Date(points[i].t);
    s += `<text x="${L + i * bw}" y="${H - 6}">${esc(d.toISOString().slice(11, 16))}</text>`;
  }
  return s + `</svg><div class="legend">` + layers.map((l) => `<span><i class="sw" style="background:${esc(l.color)}"></i>${esc(l.label)}</span>`).join("") + `</div>`;
}

// bars is a table of rows with a bar each, the key linked when it is an IP; metric is flows or bytes.
function bars(rows, metric, cls) {
  if (!rows || !rows.length) return `<p class="muted">none</p>`;
  const max = Math.max(1, ...rows.map((r) => r[metric]));
  return `<table class="${cls || ""}"><tr><th>key</th><th class="n">flows</th><th class="n">bytes</th><th class="n">rejected</th><th class="barcell"></th></tr>` +
    rows.map((r) => `<tr><td class="key">${keyCell(r.key)}${tag(r)}</td><td class="n">${num(r.flows)}</td><td class="n">${bytes(r.bytes)}</td>` +
      `<td class="n">${num(r.rejected)}</td><td class="barcell"><span class="bar${r.rejected > r.flows / 2 ? " rej" : ""}" style="width:${(100 * r[metric]) / max}%"></span></td></tr>`).join("") + `</table>`;
}

// heat draws the source-by-destination heat map of the top pairs: a cell's shade is its bytes.
function heat(pairs) {
  if (!pairs.length) return `<p class="muted">none</p>`;
  const srcs = [...new Set(pairs.map((p) => p.src))].slice(0, 15);
  const dsts = [...new Set(pairs.map((p) => p.dst))].slice(0, 15);
  const max = Math.max(...pairs.map((p) => p.bytes));
  const cw = 44, ch = 18, L = 110, T = 96;
  const W = L + dsts.length * cw + 4, H = T + srcs.length * ch + 4;
  let s = `<svg viewBox="0 0 ${W} ${H}" width="${Math.min(W, 900)}" role="img" aria-label="bytes by source and destination">`;
  dsts.forEach((d, j) => { s += `<text transform="translate(${L + j * cw + cw / 2},${T - 4}) rotate(-55)">${esc(d)}</text>`; });
  srcs.forEach((sr, i) => { s += `<text x="${L - 4}" y="${T + i * ch + 12}" text-anchor="end">${esc(sr)}</text>`; });
  for (const p of pairs) {
    const i = srcs.indexOf(p.src), j = dsts.indexOf(p.dst);
    if (i < 0 || j < 0) continue;
    const a = 0.12 + 0.88 * Math.sqrt(p.bytes / max);
    s += `<rect x="${L + j * cw}" y="${T + i * ch}" width="${cw - 2}" height="${ch - 2}" fill="rgba(47,111,223,${a.toFixed(3)})"><title>${esc(`${p.src} → ${p.dst}: ${bytes(p.bytes)}, ${p.flows} flows`)}</title></rect>`;
  }
  return s + `</svg>`;
}

// line draws one value per point (an IP's peers per window).
function line(points, label) {
  if (!points.length) return `<p class="muted">no closed windows in the range</p>`;
  const W = 900, H = 140, L = 40, B = 20, T = 8;
  const max = Math.max(1, ...points.map((p) => p.v));
  const x = (i) => L + (points.length === 1 ? (W - L) / 2 : (i * (W - L - 10)) / (points.length - 1));
  const y = (v) => T + (H - T - B) * (1 - v / max);
  let s = `<svg viewBox="0 0 ${W} ${H}" width="100%" role="img" aria-label="${esc(label)}">`;
  s += `<text x="${L - 4}" y="${y(max) + 3}" text-anchor="end">${num(max)}</text><text x="${L - 4}" y="${y(0)}" text-anchor="end">0</text>`;
  s += `<polyline fill="none" stroke="#2f6fdf" stroke-width="2" points="${points.map((p, i) => `${x(i)},${y(p.v)}`).join(" ")}"/>`;
  points.forEach((p, i) => { s += `<circle cx="${x(i)}" cy="${y(p.v)}" r="3" fill="#2f6fdf"><title>${esc(`${p.label}: ${p.v}`)}</title></circle>`; });
  return s + `</svg>`;
}

const took = (p) => (p && p.took_ms !== undefined ? `<span class="took">${p.took_ms} ms</span>` : "");
const stat = (id, v, l) => `<div class="stat"><div class="v" id="${id}">${v}</div><div class="l">${esc(l)}</div></div>`;

// ---- pages ----------------------------------------------------------------------------------------------------

// answerOf fetches a page's answer; a failed request that still carries one (a panel failed, the others answered)
// returns it and shows the error.
async function answerOf(path, params, current) {
  try { return await api(path, params); } catch (e) {
    if (!(e.body && e.body.data)) throw e;
    if (current()) setTimeout(() => showError(e));
    return e.body.data;
  }
}

// panelsOf fetches overview panels, as answerOf.
async function panelsOf(names, current) { return (await answerOf("overview", { panels: names }, current)).panels; }

// setParam goes to page with its parameter key set to value, or left out when value is empty.
function setParam(page, key, value) {
  const p = route().params;
  if (value) p.set(key, value); else p.delete(key);
  location.hash = `#/${page}?${p}`;
}

async function renderOverview(main, r, current) {
  // The pairs visit every source/destination pair and cost the most: they are asked for apart and drawn when they
  // come, so the rest of the page does not wait for them.
  const pairsReq = panelsOf("pairs", current);
  pairsReq.catch(() => {});
  const P = await panelsOf("totals,timeline,top,breakdowns", current);
  if (!current()) return;
  P.pairs = { pending: true };
  drawOverview(main, r, P);
  const pp = await pairsReq;
  if (!current()) return;
  P.pairs = pp.pairs;
  const card = main.querySelector("#pairs-pending");
  if (card) card.outerHTML = pairsCard(P.pairs);
}

function pairsCard(pp) {
  if (pp.pending) return `<div class="card wide" id="pairs-pending"><h2>Top source → destination pairs by bytes</h2><p class="muted">counting every pair…</p></div>`;
  if (pp.error) return `<div class="card wide" id="pairs"><h2>Top source → destination pairs by bytes</h2><p class="reject">${esc(pp.error)}</p></div>`;
  const pairs = (pp.data && pp.data.pairs) || [];
  return `<div class="card wide" id="pairs">${took(pp)}<h2>Top ${pairs.length} source → destination pairs by bytes ` +
    `<span class="muted">(${num(pp.data.distinct)} distinct pairs${pp.data.complete ? "" : ", ranking over the first pages only"})</span></h2>` +
    `<div class="grid"><div class="scroll" style="max-height:420px"><table><tr><th>#</th><th>source</th><th>destination</th><th class="n">bytes</th><th class="n">flows</th></tr>` +
    pairs.map((p, i) => `<tr class="pair-row"><td>${i + 1}</td><td>${ipLink(p.src)}</td><td>${ipLink(p.dst)}</td><td class="n" data-bytes="${p.bytes}">${bytes(p.bytes)}</td><td class="n">${num(p.flows)}</td></tr>`).join("") +
    `</table></div><div><h2>Heat map: bytes, source × destination</h2>${heat(pairs)}</div></div></div>`;
}

function drawOverview(main, r, P) {
  // A failed panel shows a dash, never a zero that would read as "no traffic".
  const t = P.totals.data || { flows: "—", bytes: "—", accepted: "—", rejected: "—", rejected_share: "—" };
  const fmt = (f, v) => (v === "—" ? v : f(v));
  const metric = r.params.get("metric") || "flows";
  const topName = { "source.ip": "Top source IPs", "destination.ip": "Top destination IPs", "destination.port": "Top destination ports", "network.transport": "Protocols" };
  const byName = { "cloud.account.id": "By account", "cloud.region": "By region", "aws.vpcflow.vpc_id": "By VPC", "aws.vpcflow.subnet_id": "By subnet",
    "aws.vpcflow.interface_id": "By interface", "network.direction": "By flow direction", "aws.vpcflow.traffic_path": "By traffic path" };
  const top = P.top.data || {}, br = P.breakdowns.data || {};
  let h = `<div class="cards">${stat("total-flows", fmt(num, t.flows), "flows")}${stat("total-bytes", fmt(bytes, t.bytes), "bytes")}` +
    `${stat("accepted", fmt(num, t.accepted), "accepted")}${stat("rejected", fmt(num, t.rejected), "rejected")}${stat("rejected-share", fmt(pct, t.rejected_share), "rejected share")}</div>`;
  h += `<div class="grid"><div class="card wide" id="timeline">${took(P.timeline)}<h2>Flows and bytes over time <span class="tabs">` +
    `<button type="button" data-metric="flows" class="${metric === "flows" ? "on" : ""}">flows</button><button type="button" data-metric="bytes" class="${metric === "bytes" ? "on" : ""}">bytes</button></span></h2>` +
    `${P.timeline.data ? series(P.timeline.data.points, metric) : `<p class="reject">${esc(P.timeline.error)}</p>`}</div>`;
  for (const f of Object.keys(topName)) {
    const tp = top[f] || {};
    h += `<div class="card" id="top-${f.replace(/\./g, "-")}">${took(P.top)}<h2>${topName[f]} <span class="tabs" data-f="${f}"><button type="button" class="on" data-by="by_flows">by flows</button><button type="button" data-by="by_bytes">by bytes</button></span></h2>` +
      (P.top.error ? `<p class="reject">${esc(P.top.error)}</p>` :
        `<div class="by by_flows">${bars(tp.by_flows, "flows")}</div><div class="by by_bytes" hidden>${bars(tp.by_bytes, "bytes")}</div>`) + `</div>`;
  }
  h += pairsCard(P.pairs);
  for (const f of Object.keys(byName)) {
    if (br[f] && br[f].length) h += `<div class="card" id="by-${f.replace(/\./g, "-")}">${took(P.breakdowns)}<h2>${byName[f]}</h2>${bars(br[f], "flows")}</div>`;
  }
  main.innerHTML = h + `</div>`;
  for (const b of main.querySelectorAll("[data-metric]")) b.onclick = () => setParam("overview", "metric", b.dataset.metric);
  for (const tabs of main.querySelectorAll(".tabs[data-f]")) {
    for (const b of tabs.querySelectorAll("button")) b.onclick = () => {
      for (const o of tabs.querySelectorAll("button")) o.classList.toggle("on", o === b);
      for (const d of tabs.closest(".card").querySelectorAll(".by")) d.hidden = !d.classList.contains(b.dataset.by);
    };
  }
}

function flowTable(flows, withRows) {
  return `<table id="flow-table"><tr><th>time</th><th>action</th><th>source</th><th>destination</th><th>proto</th><th class="n">bytes</th><th class="n">packets</th><th>interface</th></tr>` +
    flows.map((f) => {
      const s = f.source || {}, ev = s.event || {}, so = s.source || {}, de = s.destination || {}, n = s.network || {};
      const eni = ((s.aws || {}).vpcflow || {}).interface_id;
      return `<tr class="${withRows ? "click " : ""}flow-row" data-id="${esc(f.id)}"><td>${esc(time(s["@timestamp"]))}</td><td class="${esc(ev.action)}">${esc(ev.action)}</td>` +
        `<td>${so.ip ? ipLink(so.ip) : ""}${so.port !== undefined ? ":" + esc(so.port) : ""}</td><td>${de.ip ? ipLink(de.ip) : ""}${de.port !== undefined ? ":" + esc(de.port) : ""}</td>` +
        `<td>${esc(n.transport)}</td><td class="n">${num(n.bytes)}</td><td class="n">${num(n.packets)}</td><td>${esc(eni)}</td></tr>`;
    }).join("") + `</table>`;
}

async function renderFlows(main, r, current) {
  const after = r.params.get("after") || "";
  const page = await api("flows", { after });
  if (!current()) return;
  main.innerHTML = `<h1>Flows <span class="muted" id="flows-total">${num(page.total)}</span></h1><div class="card scroll">${flowTable(page.flows, true)}` +
    `<div class="pager">${after ? `<button type="button" id="first">first page</button>` : ""}${page.next ? `<button type="button" id="next">next page</button>` : ""}</div></div>` +
    `<div class="card" id="doc" hidden><h2>Document <span class="muted" id="doc-id"></span></h2><pre id="doc-json"></pre></div>`;
  const go = (a) => setParam("flows", "after", a);
  if ($("#next")) $("#next").onclick = () => go(page.next);
  if ($("#first")) $("#first").onclick = () => go("");
  for (const tr of main.querySelectorAll("tr.flow-row")) {
    tr.onclick = async (ev) => {
      if (ev.target.closest("a")) return;
      for (const o of main.querySelectorAll("tr.sel")) o.classList.remove("sel");
      tr.classList.add("sel");
      try {
        const res = await fetch(`api/flow?id=${encodeURIComponent(tr.dataset.id)}`);
        const body = await res.json();
        if (!res.ok) throw Object.assign(new Error(body.error), { status: res.status });
        $("#doc").hidden = false;
        $("#doc-id").textContent = `${body.index} / ${body.id}`;
        $("#doc-json").textContent = JSON.stringify(body.source, null, 2);
      } catch (e) { showError(e); }
    };
  }
}

function setTable(rows, id, cols) {
  if (!rows || !rows.length) return `<p class="muted">none</p>`;
  return `<table id="${id}"><tr><th>IP</th>${cols.map((c) => `<th class="n">${esc(c[0])}</th>`).join("")}</tr>` +
    rows.map((s) => `<tr><td>${ipLink(s.ip)}${tag(s)}</td>${cols.map((c) => `<td class="n">${c[1](s)}</td>`).join("")}</tr>`).join("") + `</table>`;
}

// The set columns; flows are sent plus received (a set counts each of its flows once, at its own end).
const setCols = [["peers", (s) => num(s.peers) + (s.peers_estimated ? "≈" : "")], ["dst ports", (s) => num(s.ports)],
  ["flows", (s) => num(s.sent + s.received)], ["rejected", (s) => num(s.rejected)], ["share", (s) => pct(s.rejected_share)]];

async function renderConns(main, r, current) {
  const body = await api("conns", { window: r.params.get("window") || "" });
  if (!current()) return;
  const ws = body.windows || [];
  let h = `<h1>Connection sets <span class="muted">of closed windows</span></h1>`;
  if (body.query_applied === false) h += `<p class="muted">The query names flow fields; connection sets have their own (ip, peers_count, dst_ports_count, flows.rejected, …), so it is not applied here.</p>`;
  if (!ws.length) { main.innerHTML = h + `<p class="muted">No closed window in the range yet: a window closes when the watermark passes its end plus the allowed lateness.</p>`; return; }
  h += `<div class="grid"><div class="card wide"><h2>Latest closed windows</h2><table id="windows"><tr><th>window start</th><th class="n">IPs</th><th class="n">most peers</th><th class="n">flows</th><th class="n">rejected share</th></tr>` +
    ws.map((w) => `<tr class="click${w.start === body.window ? " sel" : ""}" data-start="${esc(w.start)}"><td>${esc(time(w.start))}</td><td class="n">${num(w.ips)}</td><td class="n">${num(w.max_peers)}</td><td class="n">${num(w.flows)}</td><td class="n">${pct(w.rejected_share)}</td></tr>`).join("") +
    `</table></div>`;
  h += `<div class="card"><h2>Most distinct peers <span class="muted">${esc(time(body.window))}</span></h2>${setTable(body.peers, "most-peers", setCols)}</div>`;
  h += `<div class="card"><h2>Most distinct destination ports</h2>${setTable(body.ports, "most-ports", setCols)}</div>`;
  h += `<div class="card"><h2>Most rejected flows</h2>${setTable(body.rejected, "most-rejected", setCols)}</div></div>`;
  main.innerHTML = h;
  for (const tr of main.querySelectorAll("#windows tr[data-start]")) tr.onclick = () => { const p = route().params; p.set("window", tr.dataset.start); location.hash = `#/conns?${p}`; };
}

// ---- alerts: the episodes of the finalizer's rules, their counts, and one alert's evidence and signals ----------

const sevBadge = (a) => `<span class="sev sev-${esc(a.severity)}">${esc(a.severity_name || a.severity)}</span>`;
// technique links to ATT&CK by an id of the right shape, never by a URL read from a document.
const technique = (a) => (/^T\d{4}(\.\d{3})?$/.test(a.technique || "")
  ? `<a class="technique" href="https://attack.mitre.org/techniques/${esc(a.technique.replace(".", "/"))}/" target="_blank" rel="noopener noreferrer" title="${esc(a.technique_name)}">${esc(a.technique)}</a>`
  : `<span class="muted">—</span>`);
const fixed = (x, d) => (x ?? 0).toFixed(d);
// span is a detection's windows, the first's start to the last's end, the day written once when both share it.
function span(a) {
  const s = time(a.start), e = time(a.end);
  return s.slice(0, 10) === e.slice(0, 10) ? `${s}..${e.slice(11)}` : `${s}..${e}`;
}
// windowsText is how many windows fired: an alert counts its active signals, so a withdrawn one has none.
const windowsText = (a) => (a.windows ? `${a.ongoing ? "ongoing · " : ""}${num(a.windows)} window${a.windows === 1 ? "" : "s"}` : "no active window");

function alertRow(a, sel) {
  return `<tr class="click alert-row${a.status === "withdrawn" ? " withdrawn" : ""}${a.id === sel ? " sel" : ""}" data-id="${esc(a.id)}">` +
    `<td>${sevBadge(a)}</td><td class="rule">${esc(a.rule)}</td><td>${technique(a)}</td><td>${ipLink(a.ip)}</td>` +
    `<td class="span">${esc(span(a))}</td><td class="windows${a.ongoing ? " ongoing" : ""}">${esc(windowsText(a))}</td>` +
    `<td class="n">${fixed(a.score, 2)}</td><td class="reason">${esc(a.reason)}</td><td class="status">${esc(a.status)}</td></tr>`;
}

// filterTabs are a filter's buttons, each value with its count; "all" is their sum.
function filterTabs(id, param, rows, cur, all) {
  const total = rows.reduce((n, c) => n + c.count, 0);
  return `<span class="tabs filter" id="${id}"><button type="button" data-${param}="" class="${cur ? "" : "on"}">${esc(all)} <b>${num(total)}</b></button>` +
    rows.map((c) => `<button type="button" data-${param}="${esc(c.key)}" class="${c.key === cur ? "on" : ""}${c.count ? "" : " zero"}">${esc(c.key)} <b>${num(c.count)}</b></button>`).join("") + `</span>`;
}

function alertDetail(rep) {
  const a = rep.alert, ev = a.evidence || {}, b = a.baseline, peers = ev.peer_sample || [], ports = ev.port_sample || [];
  let h = `<div class="card wide" id="alert-detail"><h2>${sevBadge(a)} <span id="detail-rule">${esc(a.rule)}</span> on ${ipLink(a.ip)} ` +
    `<span class="muted">${esc(span(a))}, ${esc(windowsText(a))}, ${esc(a.status)}, score ${fixed(a.score, 2)}</span></h2>` +
    `<p id="detail-reason">${esc(a.reason)}</p>`;
  h += `<h2>Evidence <span class="muted">of its latest window</span></h2><div class="cards">` +
    stat("ev-peers", num(ev.peers) + (ev.peers_estimated ? "≈" : ""), "distinct peers") + stat("ev-ports", num(ev.ports), "destination ports") +
    stat("ev-service-ports", num(ev.service_ports), "service ports (below 32768)") + stat("ev-flows-sent", num(ev.flows_sent), "flows sent") +
    stat("ev-flows-received", num(ev.flows_received), "flows received") + stat("ev-rejected", num(ev.rejected), "rejected flows") +
    stat("ev-bytes-sent", esc(bytes(ev.bytes_sent)), "bytes sent") + `</div>`;
  h += `<div class="grid"><div><h2>Peer sample <span class="muted">(the lowest ${num(peers.length)})</span></h2><div id="ev-peer-sample" class="sample">` +
    (peers.map(ipLink).join(" ") || `<span class="muted">none</span>`) + `</div></div>`;
  h += `<div><h2>Port sample <span class="muted">(the lowest ${num(ports.length)})</span></h2><div id="ev-port-sample" class="sample">` +
    (ports.map((p) => `<span>${esc(p)}</span>`).join(" ") || `<span class="muted">none</span>`) + `</div></div>`;
  h += `<div><h2>Baseline</h2>` + (b ? `<table id="ev-baseline"><tr><th>per window</th><th class="n">mean</th><th class="n">std dev</th></tr>` +
    `<tr><td>rejected flows</td><td class="n" id="bl-rejected-mean">${fixed(b.rejected_mean, 1)}</td><td class="n">${fixed(b.rejected_std, 1)}</td></tr>` +
    `<tr><td>bytes sent</td><td class="n" id="bl-bytes-mean">${esc(bytes(Math.round(b.bytes_sent_mean)))}</td><td class="n">${esc(bytes(Math.round(b.bytes_sent_std)))}</td></tr></table>` +
    `<p class="muted" id="bl-windows">over ${num(b.windows)} previous windows (those in which the IP alerted left out)</p>`
    : `<p class="muted" id="ev-baseline">none: the rule uses none, or the IP had too short a history</p>`) + `</div></div>`;
  const sigs = rep.signals || [];
  h += `<h2>Signals <span class="muted">(${num(sigs.length)}, one per window, oldest first)</span></h2>` + (sigs.length
    ? `<div class="scroll"><table id="signals"><tr><th>window</th><th>severity</th><th class="n">score</th><th class="n">peers</th><th class="n">ports</th>` +
      `<th class="n">rejected</th><th class="n">bytes sent</th><th class="n">revision</th><th>status</th><th>reason</th></tr>` +
      sigs.map((g) => {
        const e = g.evidence || {};
        return `<tr class="signal-row${g.status === "withdrawn" ? " withdrawn" : ""}"><td>${esc(span(g))}</td><td>${sevBadge(g)}</td><td class="n">${fixed(g.score, 2)}</td>` +
          `<td class="n">${num(e.peers)}</td><td class="n">${num(e.ports)}</td><td class="n">${num(e.rejected)}</td><td class="n">${esc(bytes(e.bytes_sent))}</td>` +
          `<td class="n">${num(g.revision)}</td><td class="status">${esc(g.status)}</td><td class="reason">${esc(g.reason)}</td></tr>`;
      }).join("") + `</table></div>`
    : `<p class="muted">none stored</p>`);
  return h + `</div>`;
}

async function renderAlerts(main, r, current) {
  const rule = r.params.get("rule") || "", status = r.params.get("status") || "", sel = r.params.get("alert") || "";
  // The selected alert is asked for beside the list, so it draws in one round trip.
  const detailReq = sel ? api("alert", { id: sel }) : null;
  if (detailReq) detailReq.catch(() => {});
  const body = await answerOf("alerts", { rule, status }, current);
  let detail = null;
  if (detailReq) {
    try { detail = await detailReq; } catch (e) { if (current()) setTimeout(() => showError(e)); }
  }
  if (!current()) return;
  const P = body.panels, C = P.counts.data, L = P.alerts.data;
  let h = `<h1>Alerts <span class="muted" id="alerts-total">${C ? num(C.total) : "—"}</span> <span class="muted">in the range</span></h1>`;
  if (body.query_applied === false) h += `<p class="muted" id="query-not-applied">The query names flow fields; alerts have their own (rule.name, source.ip, event.severity, alert.status, …), so it is not applied here.</p>`;
  h += `<div class="cards" id="alert-counts">` + (C ? C.by_severity.map((c) => stat(`sev-count-${esc(c.key)}`, num(c.count), c.name || c.key)).join("")
    : stat("sev-count", "—", "alerts")) + `</div>`;
  h += `<div class="grid">`;
  h += C ? `<div class="card wide filters">${took(P.counts)}<div><span class="label">rule</span>${filterTabs("rule-filter", "rule", C.by_rule, rule, "all rules")}</div>` +
    `<div><span class="label">status</span>${filterTabs("status-filter", "status", C.by_status, status, "any status")}</div></div>`
    : `<div class="card wide"><p class="reject">${esc(P.counts.error)}</p></div>`;
  if (L) {
    const rows = L.alerts || [];
    h += `<div class="card wide scroll">${took(P.alerts)}<h2>Alerts <span class="muted">${rows.length < L.total ? `the latest ${num(rows.length)} of ${num(L.total)}` : num(L.total)}, ` +
      `latest activity first${L.latest_closed ? `; latest closed window ends ${esc(time(L.latest_closed))}` : ""}</span></h2>` +
      (rows.length ? `<table id="alert-table"><tr><th>severity</th><th>rule</th><th>technique</th><th>IP</th><th>first..last window</th><th>windows</th>` +
        `<th class="n">score</th><th>reason</th><th>status</th></tr>` + rows.map((a) => alertRow(a, sel)).join("") + `</table>`
        : `<p class="muted" id="alerts-empty">No alert in the range${rule || status ? " under these filters" : ""}.</p>`) + `</div>`;
  } else h += `<div class="card wide"><p class="reject">${esc(P.alerts.error)}</p></div>`;
  if (detail) h += alertDetail(detail);
  main.innerHTML = h + `</div>`;
  const go = (k, v) => setParam("alerts", k, v);
  for (const b of main.querySelectorAll("#rule-filter button")) b.onclick = () => go("rule", b.dataset.rule);
  for (const b of main.querySelectorAll("#status-filter button")) b.onclick = () => go("status", b.dataset.status);
  for (const tr of main.querySelectorAll("tr.alert-row")) {
    tr.onclick = (ev) => { if (!ev.target.closest("a")) go("alert", tr.dataset.id === sel ? "" : tr.dataset.id); };
  }
}

// ---- load balancers: ALB, NLB and classic ELB access logs, by status class, top lists and target time --------------

// statusLayers are the status classes as the chart stacks them, bottom up.
const statusLayers = [
  { key: "2xx", label: "2xx", color: "#2e9d6a" }, { key: "3xx", label: "3xx", color: "#2f6fdf" },
  { key: "4xx", label: "4xx", color: "#d98a1b" }, { key: "5xx", label: "5xx", color: "#d9473b" },
  { key: "other", label: "no status or 1xx", color: "#a7aebb" },
].map((l) => Object.assign(l, { v: (p) => p[l.key] }));

// dur formats nanoseconds as milliseconds (seconds from 10 s), with the precision a latency is read at.
function dur(ns) {
  if (ns === null || ns === undefined) return "—";
  const ms = ns / 1e6;
  if (ms >= 10000) return (ms / 1000).toFixed(1) + " s";
  return (ms < 1 ? ms.toFixed(3) : ms < 100 ? ms.toFixed(1) : ms.toFixed(0)) + " ms";
}

// lbBars is a top list: key (an IP linked to its page), requests, errors (status 400 and above) and a bar.
function lbBars(rows, id, link) {
  if (!rows || !rows.length) return `<p class="muted" id="${id}-empty">none</p>`;
  const max = Math.max(1, ...rows.map((r) => r.requests));
  return `<table id="${id}"><tr><th>key</th><th class="n">requests</th><th class="n">errors</th><th class="barcell"></th></tr>` +
    rows.map((r) => `<tr class="lb-row"><td class="key long">${link ? ipLink(r.key) : esc(r.key)}</td><td class="n">${num(r.requests)}</td>` +
      `<td class="n">${num(r.errors)}</td><td class="barcell"><span class="bar${r.errors > r.requests / 2 ? " rej" : ""}" style="width:${(100 * r.requests) / max}%"></span></td></tr>`).join("") + `</table>`;
}

async function renderLB(main, r, current) {
  const lb = r.params.get("lb") || "", dataset = r.params.get("dataset") || "";
  const body = await answerOf("lb", { lb, dataset }, current);
  if (!current()) return;
  const P = body.panels, C = P.counts.data, TL = P.timeline.data, T = P.top.data, L = P.latency.data;
  const fail = (p) => `<p class="reject">${esc(p.error)}</p>`;
  const cls = C ? C.by_class : {};
  const v = (x) => (C ? num(x) : "—");
  let h = `<h1>Load balancers <span class="muted" id="lb-total">${v(C && C.matching)}</span> <span class="muted">requests in the range` +
    `${lb || dataset ? " under the filters" : ""}</span></h1>`;
  if (body.query_applied === false) h += `<p class="muted" id="query-not-applied">The query names fields load-balancer logs do not have; they have their own (http.response.status_code, url.path, source.ip, user_agent.original, aws.elb.name, …), so it is not applied here.</p>`;
  h += `<div class="cards">` + statusLayers.map((l) => stat(`lb-class-${l.key}`, v(cls[l.key]), l.label)).join("") +
    stat("lb-error-share", C ? pct(C.matching ? (cls["4xx"] + cls["5xx"]) / C.matching : 0) : "—", "answered 4xx or 5xx") + `</div>`;
  h += `<div class="grid">`;
  h += C ? `<div class="card wide filters">${took(P.counts)}<div><span class="label">kind</span>${filterTabs("dataset-filter", "dataset", C.by_dataset, dataset, "all kinds")}</div>` +
    `<div><span class="label">name</span>${filterTabs("lb-filter", "lb", C.by_lb, lb, "all load balancers")}</div></div>`
    : `<div class="card wide">${fail(P.counts)}</div>`;
  h += `<div class="card wide" id="lb-timeline">${took(P.timeline)}<h2>Requests over time by status class</h2>` +
    (TL ? stacked(TL.points, statusLayers, (x) => num(Math.round(x)), "requests over time by status class") : fail(P.timeline)) + `</div>`;
  h += `<div class="card" id="lb-latency-card">${took(P.latency)}<h2>Target processing time <span class="muted">${esc(L ? L.field : "")}</span></h2>` +
    (L ? `<table id="lb-latency"><tr><th>percentile</th><th class="n">time</th></tr>` +
      L.percentiles.map((p) => `<tr><td>p${esc(p.p)}</td><td class="n" id="lb-p${esc(p.p)}" data-ns="${esc(p.ns ?? "")}">${esc(dur(p.ns))}</td></tr>`).join("") + `</table>` +
      `<p class="muted"><span id="lb-measured">${num(L.measured)}</span> requests timed (ALB and classic ELB); <span id="lb-unanswered">${num(L.unanswered)}</span> the target did not answer.</p>`
      : fail(P.latency)) + `</div>`;
  for (const [key, title, link] of [["not_found", "404s by path"], ["server_errors", "5xx by path"], ["clients", "Top client IPs", true],
    ["paths", "Most visited paths"], ["user_agents", "User agents"], ["tls_versions", "TLS versions (TLS and HTTPS listeners)"]]) {
    const id = "lb-" + key.replace(/_/g, "-");
    h += `<div class="card" id="${id}-card">${took(P.top)}<h2>${esc(title)}</h2>${T ? lbBars(T[key], id, link) : fail(P.top)}</div>`;
  }
  main.innerHTML = h + `</div>`;
  const go = (k, v) => setParam("lb", k, v);
  for (const b of main.querySelectorAll("#dataset-filter button")) b.onclick = () => go("dataset", b.dataset.dataset);
  for (const b of main.querySelectorAll("#lb-filter button")) b.onclick = () => go("lb", b.dataset.lb);
}

function direction(d, title, id, peerWord) {
  return `<div class="card" id="${id}"><h2>${title}</h2><div class="cards">${stat(id + "-flows", num(d.flows), "flows")}${stat(id + "-bytes", bytes(d.bytes), "bytes")}` +
    `${stat(id + "-rejected", num(d.rejected), "rejected")}${stat(id + "-peers", num(d.peers), "distinct " + peerWord)}</div>` +
    `<h2>Top ${peerWord}</h2>${bars(d.top_peers, "flows")}<h2>Destination ports</h2>${bars(d.top_ports, "flows")}</div>`;
}

// identityCard is the IP page's "what it is": what the newest enriched flow of the range says of the address (its
// instance, interface and network for one of the user's VPCs; its country and network owner for a public one), and
// the threat lists it matched in the range, first and in red.
function identityCard(id) {
  id = id || {};
  let h = `<div class="card wide" id="ip-what"><h2>What it is</h2>`;
  if (id.threats && id.threats.length) {
    h += `<div class="threat" id="ip-threat"><b>⚠ On a threat list</b> in ${num(id.threat_flows)} flow${id.threat_flows === 1 ? "" : "s"} of the range: ` +
      id.threats.map((t) => `<span class="threat-list">${esc(t.list)}</span>${t.description ? ` <span class="threat-desc">${esc(t.description)}</span>` : ""}`).join("; ") + `</div>`;
  }
  if (!id.known) return h + `<p class="muted" id="ip-what-none">no enrichment configured or known for this address</p></div>`;
  const rows = [];
  const row = (k, key, v) => { if (v) rows.push(`<tr><th>${esc(k)}</th><td id="what-${key}">${v}</td></tr>`); };
  row("instance", "instance", [id.instance_id, id.instance_name].filter(Boolean).map(esc).join(" · "));
  row("interface", "interface", [id.interface_id, id.interface_type].filter(Boolean).map(esc).join(" · "));
  row("security groups", "sgs", (id.security_groups || []).map(esc).join(", "));
  row("subnet", "subnet", esc(id.subnet_id));
  row("VPC", "vpc", esc(id.vpc_id));
  row("account", "account", esc(id.account_id));
  row("country", "country", id.country_iso_code ? `${flag(id.country_iso_code)} ${esc(id.country_iso_code)}${id.country_name ? " " + esc(id.country_name) : ""}` : esc(id.country_name));
  row("city", "city", esc(id.city_name));
  row("network", "as", [id.as_number ? "AS" + id.as_number : "", id.as_organization].filter(Boolean).map(esc).join(" "));
  h += rows.length ? `<table class="what">${rows.join("")}</table>` : "";
  if (id.seen) h += `<p class="muted">from the newest enriched flow of the range (${esc(time(id.seen))}, as its ${esc(id.end)})</p>`;
  return h + `</div>`;
}

async function renderIP(main, r, current) {
  const rep = await api("ip", { ip: r.arg });
  if (!current()) return;
  const ws = rep.windows || [];
  main.innerHTML = `<h1>IP <span id="ip-title">${esc(rep.ip)}</span></h1><div class="grid">` + identityCard(rep.identity) +
    `<div class="card wide">${series(rep.timeline, "flows")}</div>` +
    direction(rep.out, "As source (outbound)", "ip-out", "destinations") + direction(rep.in, "As destination (inbound)", "ip-in", "sources") +
    `<div class="card wide"><h2>Distinct peers per window</h2>${line(ws.map((w) => ({ v: w.peers, label: time(w.start) })), "peers per window")}` +
    setTable(ws.slice().reverse().map((w) => Object.assign({}, w, { ip: time(w.start) })), "ip-windows", setCols).replace(/<a class="ip"[^>]*>([^<]*)<\/a>/g, "$1") + `</div>` +
    `<div class="card wide scroll"><h2>Latest flows <span class="muted">(${num(rep.flows.total)} in the range)</span></h2>${flowTable(rep.flows.flows, false)}</div></div>`;
}

async function renderHealth(main, r, current) {
  const body = await answerOf("health", undefined, current);
  if (!current()) return;
  const P = body.panels, dl = P.deadletters.data, fl = P.flows.data, st = P.state.data;
  let h = `<h1>Pipeline health</h1><div class="cards">`;
  if (fl) h += stat("newest-flow", esc(time(fl.newest_flow) || "none"), `newest flow (${fl.newest_flow_age_seconds !== undefined ? num(fl.newest_flow_age_seconds) + " s ago" : "no flows"})`) + stat("health-flows", num(fl.flows), "flows in the range");
  if (dl) h += stat("deadletters-total", num(dl.total), "dead letters in the range");
  if (st && st.configured && !st.error) {
    h += stat("watermark", esc(time(st.watermark) || "none"), `lowest shard watermark (lag ${num(st.watermark_lag_seconds)} s)`) +
      stat("windows-closed", num(st.windows_closed), "windows closed") + stat("windows-open", num(st.windows_open), "windows open") + stat("windows-finalizing", num(st.windows_finalizing), "being finalized");
  }
  h += `</div><div class="grid">`;
  h += `<div class="card">${took(P.deadletters)}<h2>Dead letters by stage and reason</h2>${dl ? (dl.by_reason.length ? `<table id="dl-reasons"><tr><th>stage</th><th>reason</th><th class="n">count</th></tr>` +
    dl.by_reason.map((x) => `<tr><td>${esc(x.stage)}</td><td>${esc(x.reason)}</td><td class="n">${num(x.count)}</td></tr>`).join("") + `</table>` : `<p class="muted">none</p>`) : `<p class="reject">${esc(P.deadletters.error)}</p>`}</div>`;
  h += `<div class="card">${took(P.flows)}<h2>Flows per daily index</h2>${fl ? bars(fl.indices, "flows") : `<p class="reject">${esc(P.flows.error)}</p>`}</div>`;
  if (st && st.error) {
    h += `<div class="card"><h2>State</h2><p class="reject" id="state-error">${esc(st.error)}</p></div>`;
  } else if (st && st.configured) {
    h += `<div class="card">${took(P.state)}<h2>Shards</h2><table id="shards"><tr><th>shard</th><th>watermark</th><th>state</th><th>last data</th><th>last progress</th></tr>` +
      st.shards.map((s) => `<tr><td>${esc(s.id)}</td><td>${esc(time(s.watermark))}</td><td>${s.ended ? "ended" : s.registered ? "not reported" : s.caught_up ? "caught up" : "behind"}</td>` +
        `<td>${esc(time(s.last_data_at))}</td><td>${esc(time(s.updated_at))}</td></tr>`).join("") + `</table></div>`;
  } else if (st) {
    h += `<div class="card"><h2>State</h2><p class="muted">No state table configured (KINFLOW_STATE_TABLE): shard progress and windows are not shown.</p></div>`;
  } else h += `<div class="card"><h2>State</h2><p class="reject">${esc(P.state.error)}</p></div>`;
  if (dl && dl.latest.length) {
    h += `<div class="card wide scroll"><h2>Latest dead letters</h2><table id="dl-latest"><tr><th>time</th><th>stage</th><th>reason</th><th>log group</th><th>error and original</th></tr>` +
      dl.latest.map((l) => `<tr><td>${esc(time(l.time))}</td><td>${esc(l.stage)}</td><td>${esc(l.reason)}</td><td>${esc(l.log_group)}</td>` +
        `<td><details><summary>${esc(l.error.slice(0, 120))}</summary><pre>${esc(l.original)}</pre><span class="muted">${esc(l.original_encoding)}, shard ${esc(l.shard_id)}, sequence ${esc(l.sequence_number)}</span></details></td></tr>`).join("") + `</table></div>`;
  }
  main.innerHTML = h + `</div><p class="muted">Failed webhook deliveries are dead letters of stage webhook; successful ones, and events per second, are in the consumer's /metrics, not in the cluster.</p>`;
}

// ---- start ----------------------------------------------------------------------------------------------------

async function start() {
  try {
    const res = await fetch("api/meta");
    state.meta = await res.json();
    if (!res.ok) throw Object.assign(new Error(state.meta.error), { status: res.status });
  } catch (e) {
    showError(e);
    state.meta = { pages: [{ id: "overview", title: "Overview" }], fields: [] };
  }
  $("#nav").innerHTML = state.meta.pages.map((p) => `<a href="#/${esc(p.id)}" data-page="${esc(p.id)}">${esc(p.title)}</a>`).join("");
  $("#engine").textContent = state.meta.engine ? `${state.meta.engine} · ${state.meta.prefix}-*` : "";
  for (const a of $("#nav").querySelectorAll("a")) a.onclick = (e) => { e.preventDefault(); navigate(a.dataset.page); };
  $("#bar").onsubmit = (e) => { e.preventDefault(); navigate(); };
  $("#range").onchange = () => { $("#custom").hidden = $("#range").value !== "custom"; if ($("#range").value !== "custom") navigate(); };
  $("#refresh").onchange = setRefresh;
  window.addEventListener("hashchange", load);
  load();
}

start();
