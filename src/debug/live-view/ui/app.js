// The live view: renders each state the server streams over /ui/events (Server-Sent Events).
// Everything shown is set as text, never parsed as HTML: object names come from user input.
"use strict";

const SHORT_TYPES = ["cds", "eds", "lds", "rds", "sds"];
let current = null;

/** An element with attributes (`data-*`, `class`, `title`) and children (nodes or text). */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null) continue;
    if (k === "class") el.className = v;
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function replace(id, ...children) {
  document.getElementById(id).replaceChildren(...children);
}

function count(id, n) {
  document.getElementById(id).textContent = `(${n})`;
}

/** A table of `headers` over the given row elements. */
function table(headers, rows, attrs) {
  return h(
    "table",
    attrs,
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        headers.map((t) => h("th", {}, t)),
      ),
    ),
    h("tbody", {}, rows),
  );
}

function percent(p) {
  return Number.isInteger(p) ? `${p}%` : `${p.toFixed(1)}%`;
}

function destination(d) {
  const bar = h("span");
  bar.style.width = `${Math.max(0, Math.min(100, d.percent))}%`;
  const noEndpoints = d.endpoints === 0;
  const endpoints = d.endpoints === undefined ? "" : ` · ${d.endpoints} endpoint${d.endpoints === 1 ? "" : "s"}`;
  return h(
    "li",
    {
      class: `dest${noEndpoints ? " no-endpoints" : ""}`,
      title: d.cluster,
      "data-cluster": d.cluster,
      "data-subset": d.subset ?? "",
      "data-weight": d.weight,
      "data-percent": d.percent,
      "data-endpoints": d.endpoints,
    },
    h("span", { class: "subset mono" }, d.subset ?? "(all)"),
    h("span", { class: "weight" }, percent(d.percent)),
    h("span", {}, h("div", { class: "bar" }, bar), h("span", { class: "muted" }, `weight ${d.weight}${endpoints}`)),
  );
}

function routeRow(r) {
  return h(
    "tr",
    { class: "route", "data-route": r.name ?? `#${r.index}`, "data-origin": r.origin ?? "" },
    h("td", { class: "mono" }, r.name ? `${r.index} ${r.name}` : String(r.index)),
    h("td", {}, r.match),
    h("td", {}, r.action === "forward" ? h("ul", { class: "dests" }, r.destinations.map(destination)) : r.action),
    h("td", {}, r.origin ?? h("span", { class: "muted" }, "default route")),
    h(
      "td",
      {},
      r.details.map((d) => h("div", {}, d)),
    ),
  );
}

function servicePort(p) {
  const title = h(
    "h4",
    {},
    `port ${p.port}${p.name ? ` (${p.name})` : ""} · ${p.protocol}`,
    p.virtualHost ? ` · route ${p.routeConfig} · virtual host ${p.virtualHost}` : "",
  );
  const body =
    p.routes.length === 0
      ? h("div", { class: "empty" }, "no routes for this port in this view")
      : table(["#", "match", "destinations", "from", "also"], p.routes.map(routeRow), { class: "routes" });
  return h("div", { class: "port", "data-port": p.port }, title, body);
}

/** A list section: its count, and a table of `items` (or a line saying there are none). */
function renderList(name, items, empty, headers, row) {
  count(`${name}-count`, items.length);
  replace(`${name}-list`, items.length === 0 ? h("div", { class: "empty" }, empty) : table(headers, items.map(row)));
}

function renderServices(services) {
  const filter = document.getElementById("filter").value.trim().toLowerCase();
  const shown = services.filter((s) => !filter || s.hostname.toLowerCase().includes(filter));
  count("services-count", services.length);
  if (shown.length === 0) return replace("services-list", h("div", { class: "empty" }, services.length ? "no service matches the filter" : "no services"));
  replace(
    "services-list",
    ...shown.map((s) =>
      h(
        "article",
        { class: "service", "data-host": s.hostname },
        h("h3", {}, s.hostname, h("span", { class: "tag" }, s.kind), s.clusterIP ? h("span", { class: "tag" }, s.clusterIP) : ""),
        s.ports.map(servicePort),
      ),
    ),
  );
}

function syncCell(p, t) {
  const s = p.types[t];
  if (!s) return h("td", { class: "muted" }, "—");
  return h(
    "td",
    { class: `state-${s.state.replace(" ", "-")}`, "data-type": t, "data-state": s.state, title: `sent ${s.versionSent}, acked ${s.versionAcked}` },
    s.state,
    s.nack ? h("div", { class: "mono" }, s.nack) : "",
  );
}

function renderProxies(proxies) {
  renderList(
    "proxies",
    proxies,
    "no proxy is connected",
    ["proxy", "transport", "connected since", "version", ...SHORT_TYPES.map((t) => t.toUpperCase())],
    (p) =>
      h(
        "tr",
        { class: "proxy", "data-proxy": p.id },
        h("td", { class: "mono" }, p.id),
        h("td", {}, p.transport),
        h("td", {}, new Date(p.connectedSince).toLocaleTimeString()),
        h("td", {}, p.proxyVersion ?? ""),
        SHORT_TYPES.map((t) => syncCell(p, t)),
      ),
  );
}

function where(f) {
  const obj = f.object ? `${f.object.kind} ${f.object.namespace ? `${f.object.namespace}/` : ""}${f.object.name ?? ""}` : "";
  const file = f.source?.file ? `${f.source.file}${f.source.line ? `:${f.source.line}` : ""}` : "";
  return [obj, f.path, file].filter(Boolean).join(" · ");
}

function renderFindings(findings) {
  renderList("findings", findings, "no findings", ["severity", "code", "where", "finding"], (f) =>
    h(
      "tr",
      { class: "finding", "data-code": f.code, "data-severity": f.severity },
      h("td", { class: `sev-${f.severity}` }, f.severity),
      h("td", { class: "mono" }, f.code),
      h("td", {}, where(f)),
      h("td", {}, f.message),
    ),
  );
}

/** `RDS ~9080 +name -name` per type a push changed for a group of proxies. */
function changes(types) {
  return Object.entries(types)
    .map(([t, c]) => {
      const names = [...c.added.map((n) => `+${n}`), ...c.changed.map((n) => `~${n}`), ...c.removed.map((n) => `-${n}`)].join(" ");
      return `${t.toUpperCase()} ${names}${c.more ? ` and ${c.more} more` : ""}`;
    })
    .join("; ");
}

function renderHistory(history) {
  renderList("history", history, "no push yet", ["push", "at", "why", "what changed"], (p) =>
    h(
      "tr",
      { class: "push", "data-push": p.id },
      h("td", {}, String(p.id)),
      h("td", {}, new Date(p.at).toLocaleTimeString()),
      h(
        "td",
        {},
        p.trigger.objects.length ? p.trigger.objects.map((o) => h("div", { class: "mono" }, o)) : "—",
        p.trigger.fastPath ? h("div", { class: "muted" }, "endpoints only") : "",
      ),
      h(
        "td",
        {},
        p.groups.map((g) => h("div", {}, `${g.proxyCount} prox${g.proxyCount === 1 ? "y" : "ies"}: ${changes(g.types)}`)),
      ),
    ),
  );
}

function render(state) {
  current = state;
  renderServices(state.services);
  renderProxies(state.proxies);
  renderFindings(state.findings);
  renderHistory(state.history);
  document.getElementById("updated").textContent = `updated ${new Date().toLocaleTimeString()}${state.ready ? "" : " (config sources still loading)"}`;
}

function setConnection(state, text) {
  const el = document.getElementById("connection");
  el.dataset.state = state;
  el.textContent = text;
}

function connect() {
  const events = new EventSource("events");
  events.addEventListener("open", () => setConnection("live", "live"));
  events.addEventListener("error", () => setConnection("reconnecting", "reconnecting…"));
  events.addEventListener("state", (e) => {
    render(JSON.parse(e.data));
    document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
  });
}

document.getElementById("filter").addEventListener("input", () => current && renderServices(current.services));
connect();
