// #/search/{q} — what the search box found: GET /v1/explorer/search?q=
// (this node's index: heights, block hashes, tx ids, addresses, service
// ids, CIDs of stored blobs). One match or more: straight to the best
// one's page (the others are named above it); none: "nothing found".
import { get } from "../api.js";
import { h, href, link, short, setNotice } from "../ui.js";

const kinds = {
  block: "block",
  tx: "transaction",
  account: "account",
  service: "service",
  cid: "stored file (CID)",
};

export async function render(ctx) {
  const { main, signal } = ctx;
  const q = (ctx.args[0] || "").trim();
  ctx.title(`Search ${q}`);
  document.getElementById("search-input").value = q;
  if (!q) {
    main.append(
      h("h1", {}, "Search"),
      h("p", {}, "Type a height, block hash, tx id, address, service id or CID in the search box."),
    );
    return;
  }
  const r = await get(`/v1/explorer/search?q=${encodeURIComponent(q)}`, {
    signal,
  });
  const matches = (r.matches || []).filter((m) => kinds[m.kind]);
  if (matches.length > 0) {
    const [best, ...rest] = matches;
    if (rest.length)
      setNotice([
        `“${short(q, 12)}” is a ${kinds[best.kind]}; it also matches: `,
        ...rest.flatMap((m, i) => [
          i ? ", " : "",
          link(m.kind, m.id, `a ${kinds[m.kind]}`),
        ]),
        ".",
      ]);
    // Replace the search in the history: Back goes where the user was.
    location.replace(href(best.kind, best.id));
    return;
  }
  main.append(
    h("h1", {}, "Nothing found"),
    h(
      "p",
      { "data-testid": "search-nothing" },
      `Nothing found for “${q}”. `,
      "Search for a block height, a block hash, a transaction id, an " +
        "account address (40 hex characters), a service id or a CID.",
    ),
    h(
      "p",
      { class: "muted" },
      "Block hashes and account histories come from this node's index of " +
        "recent blocks; an older block is found by its height.",
    ),
  );
}
