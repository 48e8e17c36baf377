// #/block/{height} (or a block hash) — header fields, the commit signatures
// with each validator's stake, the txs with their decoded body and result.
// Data: GET /v1/blocks/{height}; with pos loaded GET /v1/pos/commits/{height}
// (who signed, with power) and GET /v1/pos/validators (stake); a hash is
// first resolved with GET /v1/explorer/blocks/by-hash/{hash}.
import { get, hasPlugin, seg } from "../api.js";
import {
  h,
  link,
  full,
  fmtInt,
  timeEl,
  ago,
  fields,
  table,
  section,
  empty,
  isHex,
  jsonValue,
} from "../ui.js";

export function resultCell(r) {
  if (!r) return "—";
  if (r.ok) return h("span", { class: "ok" }, "ok");
  return h(
    "span",
    {},
    h("span", { class: "bad" }, r.code || "failed"),
    r.error ? `: ${r.error}` : "",
  );
}

export async function render(ctx) {
  const { main, signal } = ctx;
  let arg = (ctx.args[0] || "").trim().toLowerCase();
  if (isHex(arg, 32)) {
    const r = await get(`/v1/explorer/blocks/by-hash/${arg}`, { signal });
    location.replace(`#/block/${r.height}`);
    return;
  }
  if (arg !== "latest" && !/^\d+$/.test(arg)) {
    ctx.title("Block");
    main.append(
      h("h1", {}, "Not a block"),
      h("p", {}, `“${ctx.args[0] || ""}” is not a block height or hash.`),
    );
    return;
  }
  const b = await get(`/v1/blocks/${seg(arg)}`, { signal });
  const hd = b.header || {};
  const height = hd.height;
  ctx.title(`Block ${height}`);
  const pos = await hasPlugin("pos");
  const [commit, vals] = pos
    ? await Promise.all([
        get(`/v1/pos/commits/${height}`, { signal }),
        get("/v1/pos/validators", { signal }),
      ])
    : [null, null];

  main.append(
    h("h1", { "data-testid": "block-title" }, `Block ${fmtInt(height)}`),
    h(
      "nav",
      { class: "pager", "aria-label": "Neighbouring blocks" },
      height > 1
        ? h("a", { href: `#/block/${height - 1}`, rel: "prev" }, "← Previous block")
        : null,
      h("a", { href: `#/block/${height + 1}`, rel: "next" }, "Next block →"),
    ),
    fields(
      [
        ["Height", fmtInt(height), "block-height"],
        ["Hash", full(b.hash), "block-hash"],
        ["Time", [timeEl(hd.time), ` (${ago(hd.time)})`], "block-time"],
        ["Chain", hd.chain_id, "block-chain"],
        ["Proposer", link("account", hd.proposer, hd.proposer), "block-proposer"],
        [
          "Previous hash",
          height > 1 ? link("block", height - 1, hd.prev_hash, { class: "hash full" }) : full(hd.prev_hash || ""),
          "block-prev",
        ],
        ["Tx root", full(hd.tx_root || ""), "block-tx-root"],
        ["State root", full(hd.state_root || ""), "block-state-root"],
        ["Transactions", fmtInt(hd.tx_count ?? (b.txs || []).length), "block-tx-count"],
      ],
      { "data-testid": "block-fields" },
    ),
  );

  // ---- commit ----
  const stake = new Map();
  for (const v of vals?.validators || [])
    stake.set(v.address, { self: v.self_stake, delegated: v.delegated });
  if (commit) {
    const share = commit.total_power
      ? ((100 * commit.signed_power) / commit.total_power).toFixed(1)
      : "0";
    main.append(
      section(
        "Commit signatures",
        h(
          "p",
          { "data-testid": "commit-summary" },
          `Round ${commit.round}: signed by validators holding ${fmtInt(commit.signed_power)} of ${fmtInt(commit.total_power)} voting power (${share}%).`,
        ),
        table(
          [
            { label: "Validator", cell: (v) => link("account", v.address) },
            { label: "Signed", cell: (v) => (v.signed ? h("span", { class: "ok" }, "✓ signed") : h("span", { class: "bad" }, "✗ missing")) },
            { label: "Power", cell: (v) => fmtInt(v.power), class: "num" },
            {
              label: "Stake now",
              cell: (v) => {
                const s = stake.get(v.address);
                return s
                  ? `${fmtInt(s.self + s.delegated)}${s.delegated ? ` (${fmtInt(s.delegated)} delegated)` : ""}`
                  : "—";
              },
              class: "num",
            },
          ],
          commit.validators || [],
          { "data-testid": "block-commit", caption: "The validator set of this height; power is what counted for this commit" },
          (v) => ({ "data-testid": "commit-row", "data-address": v.address, "data-signed": v.signed ? "1" : "0" }),
        ),
      ),
    );
  } else if (b.certificate) {
    main.append(
      section(
        "Commit certificate",
        h("p", { class: "muted" }, `A ${b.certificate.type || "consensus"} certificate (this node runs no pos plugin to decode its signers).`),
        jsonValue(b.certificate),
      ),
    );
  }

  // ---- txs ----
  const txs = (b.txs || []).map((t, i) => ({
    i,
    tx: t,
    id: (b.results || [])[i]?.id,
    result: (b.results || [])[i]?.result,
  }));
  main.append(
    section(
      "Transactions",
      txs.length
        ? h(
            "ol",
            { class: "cards", "data-testid": "block-txs", start: "0" },
            txs.map((t) =>
              h(
                "li",
                { "data-testid": "block-tx", "data-id": t.id },
                h("h3", {}, `#${t.i} `, t.tx.type),
                fields([
                  ["Id", link("tx", t.id)],
                  ["From", link("account", t.tx.from)],
                  ["Nonce", fmtInt(t.tx.nonce)],
                  ["Result", resultCell(t.result)],
                  ["Body", jsonValue(t.tx.body)],
                ]),
              ),
            ),
          )
        : empty("No transactions in this block.", { "data-testid": "block-txs-empty" }),
    ),
  );
}
