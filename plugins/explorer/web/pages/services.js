// #/services[?place=&type=] — published services, searchable by place and
// type (case-insensitive substrings of the on-chain fields).
// Data: GET /v1/services/ (the whole list; the filter runs in the page).
import { get, hasPlugin } from "../api.js";
import { h, link, fmtInt, timeEl, empty } from "../ui.js";

const norm = (s) => String(s || "").toLocaleLowerCase().trim();

export function matches(svc, place, type) {
  return (
    (!place || norm(svc.place).includes(norm(place))) &&
    (!type || norm(svc.type).includes(norm(type)))
  );
}

function datalist(id, values) {
  return h(
    "datalist",
    { id },
    [...new Set(values)].sort().map((v) => h("option", { value: v })),
  );
}

export async function render(ctx) {
  const { main, signal, query } = ctx;
  ctx.title("Services");
  if (!(await hasPlugin("services"))) {
    main.append(
      h("h1", {}, "Services"),
      h("p", { "data-testid": "services-none" }, "This node does not run the services plugin."),
    );
    return;
  }
  const r = await get("/v1/services/", { signal });
  const all = (r.services || []).slice().sort((a, b) => b.height - a.height);
  const place = query.get("place") || "";
  const type = query.get("type") || "";
  const shown = all.filter((s) => matches(s, place, type));

  const placeIn = h("input", {
    id: "f-place",
    name: "place",
    type: "search",
    value: place,
    list: "places",
    autocomplete: "off",
    "data-testid": "filter-place",
  });
  const typeIn = h("input", {
    id: "f-type",
    name: "type",
    type: "search",
    value: type,
    list: "types",
    autocomplete: "off",
    "data-testid": "filter-type",
  });
  const form = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Filter services" },
    h("div", { class: "field" }, h("label", { for: "f-place" }, "Place"), placeIn),
    h("div", { class: "field" }, h("label", { for: "f-type" }, "Type"), typeIn),
    h("div", { class: "field" }, h("button", { type: "submit", "data-testid": "filter-submit" }, "Filter")),
    datalist("places", all.map((s) => s.place)),
    datalist("types", all.map((s) => s.type)),
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams();
    if (placeIn.value.trim()) q.set("place", placeIn.value.trim());
    if (typeIn.value.trim()) q.set("type", typeIn.value.trim());
    const s = q.toString();
    location.hash = `#/services${s ? "?" + s : ""}`;
  });

  main.append(
    h("h1", {}, "Services"),
    h(
      "p",
      { class: "muted" },
      "Services providers delivered and recorded on chain. A service's page shows its digest, " +
        "feedback and the regulators' published opinions, and plays its video for an account " +
        "that paid for it.",
    ),
    form,
    h(
      "p",
      { role: "status", "data-testid": "services-count" },
      place || type
        ? `${shown.length} of ${all.length} services match.`
        : `${all.length} services.`,
    ),
  );
  if (!shown.length) {
    main.append(empty(all.length ? "No service matches this filter." : "No service is published yet.", { "data-testid": "services-empty" }));
    return;
  }
  main.append(
    h(
      "ul",
      { class: "cards", "data-testid": "services-list" },
      shown.map((s) =>
        h(
          "li",
          { "data-testid": "service-row", "data-id": s.id },
          h("h2", {}, link("service", s.id, `${s.type} — ${s.place}`)),
          h("p", {}, "By ", link("account", s.provider, s.provider_name || s.provider)),
          h("p", {}, `Price ${fmtInt(s.price?.amount)} ${s.price?.denom || ""} · delivered `, timeEl(s.time)),
          h("p", { class: "muted" }, "Published in block ", link("block", s.height)),
        ),
      ),
    ),
  );
}
