// DOM helpers. Text from the chain is untrusted: it only ever goes into
// text nodes and attribute values, never into innerHTML.

// h("a", {href: "#/", class: "x", "data-testid": "y", onclick: fn}, ...kids)
export function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function")
      el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  append(el, kids);
  return el;
}

function append(el, kids) {
  for (const k of kids) {
    if (k === undefined || k === null || k === false) continue;
    if (Array.isArray(k)) append(el, k);
    else if (k instanceof Node) el.appendChild(k);
    else el.appendChild(document.createTextNode(String(k)));
  }
}

export const isHex = (s, bytes) =>
  typeof s === "string" && s.length === bytes * 2 && /^[0-9a-f]+$/.test(s);
export const isAddress = (s) => isHex(s, 20);

// A long hex shown short, the whole value in its title (and copyable by
// selecting the link's title in a long-press menu). Full values are shown
// in full, wrapping, on the pages of the things themselves.
export function short(s, keep = 8) {
  s = String(s);
  return s.length > 2 * keep + 1 ? `${s.slice(0, keep)}…${s.slice(-keep)}` : s;
}

export function hashText(s, attrs = {}) {
  return h("span", { class: "hash", title: s, ...attrs }, short(s));
}

export function full(s, attrs = {}) {
  return h("span", { class: "hash full", ...attrs }, String(s));
}

const routes = {
  block: (v) => `#/block/${encodeURIComponent(v)}`,
  tx: (v) => `#/tx/${encodeURIComponent(v)}`,
  account: (v) => `#/account/${encodeURIComponent(v)}`,
  service: (v) => `#/service/${encodeURIComponent(v)}`,
  cid: (v) => `#/cid/${encodeURIComponent(v)}`,
  panel: (v) => `#/panel/${encodeURIComponent(v)}`,
};

export function href(kind, id) {
  return routes[kind](id);
}

// A link to the page of kind/id. text: what to show (default: the id,
// shortened when it is a long hash).
export function link(kind, id, text, attrs = {}) {
  const s = String(id);
  const shown = text !== undefined ? text : s.length > 20 ? short(s) : s;
  return h(
    "a",
    { href: href(kind, s), title: shown === s ? undefined : s, ...attrs },
    shown,
  );
}

export function fmtInt(n) {
  if (typeof n !== "number") return String(n);
  return n.toLocaleString("en-US");
}

export function fmtTime(ms) {
  if (typeof ms !== "number" || !ms) return "—";
  const d = new Date(ms);
  return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

export function ago(ms, now = Date.now()) {
  if (typeof ms !== "number" || !ms) return "";
  const s = Math.round((now - ms) / 1000);
  if (s < -5) return `in ${-s} s`;
  if (s < 2) return "just now";
  if (s < 120) return `${s} s ago`;
  if (s < 7200) return `${Math.round(s / 60)} min ago`;
  if (s < 172800) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} days ago`;
}

export function timeEl(ms, attrs = {}) {
  const el = h(
    "time",
    { datetime: ms ? new Date(ms).toISOString() : undefined, ...attrs },
    fmtTime(ms),
  );
  if (ms) el.title = ago(ms);
  return el;
}

// Just the time of day (UTC), the full date and time in the title: for
// tables of recent things.
export function clockEl(ms) {
  if (typeof ms !== "number" || !ms) return "—";
  const iso = new Date(ms).toISOString();
  return h("time", { datetime: iso, title: fmtTime(ms) }, iso.slice(11, 19));
}

// A definition list of [label, value, testid?] rows.
export function fields(rows, attrs = {}) {
  const dl = h("dl", { class: "fields", ...attrs });
  for (const [label, value, testid] of rows) {
    if (value === undefined) continue;
    dl.append(
      h("dt", {}, label),
      h("dd", { "data-testid": testid }, value === null ? "—" : value),
    );
  }
  return dl;
}

// A table: columns [{label, cell: (row) => Node|string, class?}], rows.
// Wrapped so a wide table scrolls inside its box, not the page.
export function table(columns, rows, attrs = {}, rowAttrs = () => ({})) {
  const { caption, ...rest } = attrs;
  const t = h(
    "table",
    {},
    caption ? h("caption", {}, caption) : null,
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        columns.map((c) => h("th", { scope: "col", class: c.class }, c.label)),
      ),
    ),
  );
  const body = h("tbody");
  for (const r of rows) body.appendChild(tableRow(columns, r, rowAttrs(r)));
  t.appendChild(body);
  return h("div", { class: "table-wrap", ...rest }, t);
}

export function tableRow(columns, r, attrs = {}) {
  return h(
    "tr",
    attrs,
    columns.map((c) => h("td", { class: c.class }, c.cell(r))),
  );
}

export function section(title, ...kids) {
  const id = "s-" + title.toLowerCase().replace(/[^a-z0-9]+/g, "-");
  return h(
    "section",
    { "aria-labelledby": id },
    h("h2", { id }, title),
    ...kids,
  );
}

export function empty(text, attrs = {}) {
  return h("p", { class: "empty", ...attrs }, text);
}

// A JSON value as nested fields, with links where a value names something
// this explorer has a page for. key: the member's name (decides the link).
export function jsonValue(v, key = "") {
  if (v === null) return h("span", { class: "json-null" }, "null");
  if (Array.isArray(v)) {
    if (v.length === 0) return h("span", { class: "json-empty" }, "[]");
    return h(
      "ol",
      { class: "json-array", start: "0" },
      v.map((x) => h("li", {}, jsonValue(x, key))),
    );
  }
  if (typeof v === "object") {
    const keys = Object.keys(v).sort();
    if (keys.length === 0) return h("span", { class: "json-empty" }, "{}");
    return h(
      "dl",
      { class: "json-object" },
      keys.map((k) => [h("dt", {}, k), h("dd", {}, jsonValue(v[k], k))]),
    );
  }
  if (typeof v === "string") {
    if (isAddress(v)) return link("account", v, v, { class: "hash full" });
    if (isHex(v, 32)) {
      if (key === "service") return link("service", v, v, { class: "hash full" });
      if (key === "tx" || key === "case" || key.endsWith("_tx"))
        return link("tx", v, v, { class: "hash full" });
      return full(v);
    }
    if (/^[0-9a-f]{40,}$/.test(v)) return full(v); // keys, signatures
    if (key === "cid" || key.endsWith("_cid"))
      return link("cid", v, v, { class: "hash full" });
    return h("span", { class: "json-string" }, v);
  }
  if (typeof v === "number" && (key === "height" || key.endsWith("_height")))
    return link("block", v);
  return h("span", { class: "json-number" }, String(v));
}

// The value at a dotted path ("aggregate.period") of obj, or undefined.
export function dotted(obj, path) {
  let v = obj;
  for (const part of path.split(".")) {
    if (v === null || typeof v !== "object") return undefined;
    v = v[part];
  }
  return v;
}

// Nodes shown once above the next page rendered (the search page says what
// else a query matched).
let notice = null;
export function setNotice(nodes) {
  notice = nodes;
}
export function takeNotice() {
  const n = notice;
  notice = null;
  return n;
}
