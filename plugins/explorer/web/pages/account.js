// #/account/{address} — balances per denomination, nonce, roles, recent
// txs, and the services it is entitled to.
// Data: GET /v1/accounts/{a}; GET /v1/bank/balances/{a} (bank loaded);
// GET /v1/explorer/accounts/{a}/txs?limit=25 (this node's index);
// GET /v1/services/accounts/{a}/entitlements (services loaded).
import { get, hasPlugin, seg } from "../api.js";
import { h, link, fmtInt, fields, section, table, empty, isAddress } from "../ui.js";

export async function render(ctx) {
  const { main, signal } = ctx;
  const addr = (ctx.args[0] || "").trim().toLowerCase();
  ctx.title(`Account ${addr.slice(0, 10)}`);
  if (!isAddress(addr)) {
    main.append(
      h("h1", {}, "Not an address"),
      h("p", {}, `“${ctx.args[0] || ""}” is not an account address (40 hexadecimal characters).`),
    );
    return;
  }
  const [bank, services] = await Promise.all([hasPlugin("bank"), hasPlugin("services")]);
  const [acct, bal, txs, ents] = await Promise.all([
    get(`/v1/accounts/${seg(addr)}`, { signal }),
    bank ? get(`/v1/bank/balances/${seg(addr)}`, { signal }) : null,
    get(`/v1/explorer/accounts/${seg(addr)}/txs?limit=25`, { signal }),
    services ? get(`/v1/services/accounts/${seg(addr)}/entitlements`, { signal }) : null,
  ]);
  main.append(
    h("h1", {}, "Account"),
    fields(
      [
        ["Address", h("span", { class: "hash full" }, acct.address), "account-address"],
        ["Nonce", fmtInt(acct.nonce), "account-nonce"],
        ["Next nonce", fmtInt(acct.next_nonce), "account-next-nonce"],
        [
          "Roles",
          acct.roles && acct.roles.length ? acct.roles.join(", ") : "none",
          "account-roles",
        ],
      ],
      { "data-testid": "account-fields" },
    ),
  );

  if (bal) {
    const denoms = Object.keys(bal.balances || {}).sort();
    const locked = [];
    for (const [holder, m] of Object.entries(bal.locked || {}))
      for (const [denom, amount] of Object.entries(m))
        locked.push({ holder, denom, amount });
    main.append(
      section(
        "Balances",
        denoms.length
          ? table(
              [
                { label: "Denomination", cell: (d) => d },
                { label: "Balance", cell: (d) => fmtInt(bal.balances[d]), class: "num" },
              ],
              denoms,
              { "data-testid": "account-balances" },
              (d) => ({ "data-testid": "balance-row", "data-denom": d, "data-amount": bal.balances[d] }),
            )
          : empty("No balance.", { "data-testid": "account-balances-empty" }),
        locked.length
          ? table(
              [
                { label: "Locked by", cell: (l) => l.holder },
                { label: "Denomination", cell: (l) => l.denom },
                { label: "Amount", cell: (l) => fmtInt(l.amount), class: "num" },
              ],
              locked,
              { caption: "Locked (staked or held by a plugin), not spendable" },
            )
          : null,
      ),
    );
  }

  const list = txs.txs || [];
  main.append(
    section(
      "Recent transactions",
      list.length
        ? table(
            [
              { label: "Tx", cell: (t) => link("tx", t.id) },
              { label: "Type", cell: (t) => t.type },
              { label: "Block", cell: (t) => link("block", t.height), class: "num" },
              { label: "Role", cell: (t) => t.role },
            ],
            list,
            { "data-testid": "account-txs" },
            (t) => ({ "data-testid": "account-tx", "data-id": t.id }),
          )
        : empty("No transactions in this node's index of recent blocks.", {
            "data-testid": "account-txs-empty",
          }),
      h("p", { class: "muted" }, "From this node's index of recent blocks, newest first."),
    ),
  );

  if (ents) {
    const e = ents.entitlements || [];
    main.append(
      section(
        "Service entitlements",
        e.length
          ? table(
              [
                { label: "Service", cell: (x) => link("service", x.service) },
                { label: "Price", cell: (x) => `${fmtInt(x.amount)} ${x.denom}${x.by === "stake" ? " (staked)" : ""}`, class: "num" },
                { label: "Since block", cell: (x) => link("block", x.height), class: "num" },
              ],
              e,
              { "data-testid": "account-entitlements" },
            )
          : empty("No entitlements."),
      ),
    );
  }
}
