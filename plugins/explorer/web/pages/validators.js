// #/validators — stake, voting power share, proposed and missed blocks over
// the last 1,000 blocks, jailed and slashed state.
// Data: GET /v1/pos/validators, GET /v1/pos/signing?last=1000 (pos loaded).
import { get, hasPlugin, nodeStatus } from "../api.js";
import { h, link, fmtInt, table, empty } from "../ui.js";

const LAST = 1000;

export async function render(ctx) {
  const { main, signal } = ctx;
  ctx.title("Validators");
  if (!(await hasPlugin("pos"))) {
    const st = await nodeStatus();
    const cons = (st.plugins || []).filter((p) => /consensus/.test(p.kind)).map((p) => p.id);
    main.append(
      h("h1", {}, "Validators"),
      h(
        "p",
        { "data-testid": "validators-none" },
        `This chain runs ${cons.join(", ") || "no consensus plugin"}, not proof of stake: ` +
          "it has no validator set with stakes to show.",
      ),
    );
    return;
  }
  const [vr, sr] = await Promise.all([
    get("/v1/pos/validators", { signal }),
    get(`/v1/pos/signing?last=${LAST}`, { signal }),
  ]);
  const vals = vr.validators || [];
  const sign = sr.validators || {};
  const totalPower = vals.filter((v) => v.in_set).reduce((a, v) => a + v.power, 0);
  const totalStake = vals.reduce((a, v) => a + v.self_stake + v.delegated, 0);
  const rows = vals
    .map((v) => ({
      ...v,
      stake: v.self_stake + v.delegated,
      s: sign[v.address] || { proposed: 0, signed: 0, missed: 0 },
    }))
    .sort((a, b) => b.power - a.power || (a.address < b.address ? -1 : 1));
  const pct = (x, of) => (of ? `${((100 * x) / of).toFixed(2)}%` : "—");
  const state = (v) => {
    const out = [];
    if (v.jailed) out.push(h("span", { class: "bad" }, `jailed${v.jailed_until ? ` until block ${fmtInt(v.jailed_until)}` : ""}`));
    if (v.slashed) out.push(h("span", { class: "bad" }, `slashed ${fmtInt(v.slashed)}`));
    if (!out.length) out.push(v.in_set ? h("span", { class: "ok" }, "active") : "not in the set");
    return out.flatMap((x, i) => (i ? [", ", x] : [x]));
  };
  main.append(
    h("h1", {}, "Validators"),
    h(
      "p",
      { "data-testid": "validators-summary" },
      `${vals.length} validators, ${vals.filter((v) => v.in_set).length} in the set; total stake ${fmtInt(totalStake)}; ` +
        `signing counted over blocks ${fmtInt(sr.from)}–${fmtInt(sr.to)} (${fmtInt(sr.blocks)} blocks).`,
    ),
    rows.length
      ? table(
          [
            { label: "Validator", cell: (v) => link("account", v.address) },
            { label: "Stake", cell: (v) => fmtInt(v.stake), class: "num" },
            { label: "Self / delegated", cell: (v) => `${fmtInt(v.self_stake)} / ${fmtInt(v.delegated)}`, class: "num" },
            { label: "Power share", cell: (v) => (v.in_set ? pct(v.power, totalPower) : "—"), class: "num" },
            { label: "Proposed", cell: (v) => fmtInt(v.s.proposed), class: "num" },
            { label: "Signed", cell: (v) => fmtInt(v.s.signed), class: "num" },
            { label: "Missed", cell: (v) => fmtInt(v.s.missed), class: "num" },
            { label: "State", cell: state },
          ],
          rows,
          {
            "data-testid": "validators-table",
            caption: `Proposed, signed and missed: the last ${fmtInt(sr.blocks)} blocks`,
          },
          (v) => ({
            "data-testid": "validator-row",
            "data-address": v.address,
            "data-stake": v.stake,
            "data-proposed": v.s.proposed,
            "data-signed": v.s.signed,
            "data-missed": v.s.missed,
          }),
        )
      : empty("No validators."),
  );
}
