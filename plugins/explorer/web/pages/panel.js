// #/panel/{id} — a page an app plugin registered (cairn.explorer/1): its
// route's rows as a table, one column per registered key (dotted paths
// allowed), values turned into links by the column's "link" kind.
// Data: GET /v1/explorer/panels (once per load), then GET {panel.route}.
import { get, panelsList } from "../api.js";
import { h, link, fmtInt, table, empty, dotted } from "../ui.js";

const LINKS = new Set(["block", "tx", "account", "service"]);

// The rows of a panel route's answer: an array, or an object's first array
// member.
export function rowsOf(answer) {
  if (Array.isArray(answer)) return answer;
  if (answer && typeof answer === "object")
    for (const v of Object.values(answer)) if (Array.isArray(v)) return v;
  return null;
}

function cell(value, col) {
  if (value === undefined || value === null) return "—";
  if (col.link && LINKS.has(col.link) && (typeof value === "string" || typeof value === "number"))
    return link(col.link, value);
  if (typeof value === "number") return fmtInt(value);
  if (typeof value === "object") return h("code", {}, JSON.stringify(value));
  return String(value);
}

export async function render(ctx) {
  const { main, signal } = ctx;
  const id = ctx.args[0] || "";
  const { panels = [] } = await panelsList();
  const p = panels.find((x) => x.id === id);
  if (!p) {
    ctx.title("No such panel");
    main.append(
      h("h1", {}, "No such panel"),
      h("p", {}, `No plugin on this node registered a panel “${id}”.`),
      panels.length
        ? h("ul", {}, panels.map((x) => h("li", {}, link("panel", x.id, x.title))))
        : null,
    );
    return;
  }
  ctx.title(p.title);
  // The route is the plugin's (checked when it registered: a /v1/ path).
  const answer = await get(p.route, { signal });
  const rows = rowsOf(answer);
  main.append(
    h("h1", { "data-testid": "panel-title" }, p.title),
    p.description ? h("p", { "data-testid": "panel-description" }, p.description) : null,
    h("p", { class: "muted" }, `From the ${p.plugin} plugin: `, h("code", {}, `GET ${p.route}`)),
  );
  if (rows === null) {
    main.append(h("p", { class: "bad" }, `${p.route} answered no list to show.`));
    return;
  }
  const cols = (p.columns || []).map((c) => ({
    label: c.label,
    cell: (r) => cell(dotted(r, c.key), c),
    class: undefined,
  }));
  main.append(
    rows.length
      ? table(cols, rows, { "data-testid": "panel-table" }, () => ({ "data-testid": "panel-row" }))
      : empty("Nothing to show yet.", { "data-testid": "panel-empty" }),
  );
}
