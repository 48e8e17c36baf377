// #/tx/{id} — a tx: envelope, decoded body, result or error, events, block.
// Data: GET /v1/txs/{id}.
import { get, seg } from "../api.js";
import { h, link, full, fmtInt, fields, section, jsonValue, table, empty } from "../ui.js";
import { resultCell } from "./block.js";

export async function render(ctx) {
  const { main, signal } = ctx;
  const id = (ctx.args[0] || "").trim().toLowerCase();
  ctx.title(`Tx ${id.slice(0, 12)}`);
  const r = await get(`/v1/txs/${seg(id)}`, { signal });
  const tx = r.tx || {};
  const res = r.result || null;
  main.append(
    h("h1", {}, "Transaction"),
    fields(
      [
        ["Id", full(r.id), "tx-id"],
        ["Status", r.status, "tx-status"],
        [
          "Block",
          typeof r.height === "number"
            ? [link("block", r.height, fmtInt(r.height)), ` (tx #${r.index})`]
            : "not committed yet",
          "tx-block",
        ],
        ["Type", tx.type, "tx-type"],
        ["From", link("account", tx.from, tx.from), "tx-from"],
        ["Nonce", fmtInt(tx.nonce), "tx-nonce"],
        ["Chain", tx.chain_id],
        ["Public key", full(tx.pubkey || "")],
        ["Signature", full(tx.sig || "")],
        [
          "Result",
          res ? resultCell(res) : "pending",
          "tx-result",
        ],
      ],
      { "data-testid": "tx-fields" },
    ),
    section("Body", h("div", { "data-testid": "tx-body" }, jsonValue(tx.body))),
  );
  const events = res?.events || [];
  main.append(
    section(
      "Events",
      events.length
        ? table(
            [
              { label: "Type", cell: (e) => e.type },
              { label: "Attributes", cell: (e) => jsonValue(e.attrs) },
            ],
            events,
            { "data-testid": "tx-events" },
          )
        : empty(res ? "This tx emitted no events." : "Not committed yet."),
    ),
  );
}
