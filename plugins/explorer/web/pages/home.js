// #/ — the overview: chain id, height, last block time, validators online,
// tx/s over the last minute (a live chart), the latest blocks and txs.
// Data: GET /v1/explorer/stats and /v1/pos/commits/latest (again every
// 10 s), GET /v1/blocks/{h} for
// the latest blocks, then the event stream GET /v1/events?types=block: each
// block event adds a row, and a block with txs is fetched once for their
// types.
import { get, hasPlugin } from "../api.js";
import { showError } from "../errors.js";
import { TpsChart } from "../chart.js";
import {
  h,
  link,
  hashText,
  fmtInt,
  timeEl,
  clockEl,
  ago,
  table,
  tableRow,
  section,
  empty,
} from "../ui.js";

const BLOCKS = 10;
const TXS = 10;

const blockCols = [
  { label: "Height", cell: (b) => link("block", b.height), class: "num" },
  { label: "Time (UTC)", cell: (b) => clockEl(b.time) },
  { label: "Txs", cell: (b) => fmtInt(b.tx_count), class: "num" },
  { label: "Proposer", cell: (b) => link("account", b.proposer), class: "wide" },
  { label: "Hash", cell: (b) => hashText(b.hash), class: "wide" },
];
const txCols = [
  { label: "Tx", cell: (t) => link("tx", t.id) },
  { label: "Type", cell: (t) => t.type || "…" },
  { label: "Block", cell: (t) => link("block", t.height), class: "num" },
  {
    label: "Result",
    cell: (t) =>
      t.ok === undefined
        ? "…"
        : t.ok
          ? h("span", { class: "ok" }, "ok")
          : h("span", { class: "bad", title: t.error || "" }, t.code || "failed"),
  },
];

// A stored block (GET /v1/blocks) as the row the event stream would give.
function blockRow(b) {
  return {
    height: b.header.height,
    time: b.header.time,
    tx_count: b.header.tx_count ?? (b.txs || []).length,
    proposer: b.header.proposer,
    hash: b.hash,
  };
}

function txRows(b) {
  const out = [];
  (b.txs || []).forEach((t, i) => {
    const r = (b.results || [])[i]?.result || {};
    out.push({
      id: (b.results || [])[i]?.id,
      type: t.type,
      height: b.header.height,
      ok: r.ok,
      code: r.code,
      error: r.error,
    });
  });
  return out.reverse(); // newest (last in the block) first
}

// Validators online: the signers of the latest commit (pos), as the
// explorer README says; "—" under another consensus.
async function addValidatorsOnline(stats, signal) {
  if (!(await hasPlugin("pos"))) return;
  const c = await get("/v1/pos/commits/latest", { signal });
  stats.validators_online = (c.validators || []).filter((v) => v.signed).length;
  stats.validators_total = (c.validators || []).length;
}

export async function render(ctx) {
  const { main, signal } = ctx;
  ctx.title("Overview");
  const stats = await get("/v1/explorer/stats", { signal });
  await addValidatorsOnline(stats, signal);
  const chart = new TpsChart(60);
  chart.load(stats.tps);

  const vHeight = h("dd", { "data-testid": "home-height" });
  const vTime = h("dd", { "data-testid": "home-last-block" });
  const vOnline = h("dd", { "data-testid": "home-validators-online" });
  const vTps = h("dd", { "data-testid": "home-tps" });
  const vChain = h("dd", { "data-testid": "home-chain-id" }, stats.chain_id);
  const stat = (label, dd) => h("div", {}, h("dt", {}, label), dd);
  const live = h(
    "p",
    { class: "live", "data-testid": "live-status", role: "status" },
    h("span", { class: "dot", "aria-hidden": "true" }),
    "connecting to the event stream…",
  );
  let lastTime = stats.last_block_time_ms;
  let height = stats.height;

  function showStats(s) {
    vOnline.replaceChildren(
      typeof s.validators_online === "number"
        ? fmtInt(s.validators_online)
        : "—",
      h(
        "small",
        {},
        typeof s.peers === "number" ? `this node has ${s.peers} peers` : "",
      ),
    );
  }
  function showHead() {
    vHeight.replaceChildren(link("block", height, fmtInt(height)));
    vTime.replaceChildren(timeEl(lastTime), h("small", {}, ago(lastTime)));
    const sum = chart.summary();
    vTps.replaceChildren(
      sum.perSecond.toFixed(sum.perSecond < 10 ? 2 : 1),
      h("small", {}, `${fmtInt(sum.total)} txs in the last minute`),
    );
  }
  showStats(stats);
  showHead();

  const blocksBox = h("div");
  const txsBox = h("div");
  main.append(
    h("h1", {}, "Overview"),
    h(
      "dl",
      { class: "stats", "data-testid": "home-stats" },
      stat("Chain", vChain),
      stat("Height", vHeight),
      stat("Last block", vTime),
      stat("Validators online", vOnline),
      stat("Tx/s (last minute)", vTps),
    ),
    section("Transactions per second", chart.svg, live),
    h(
      "div",
      { class: "grid2" },
      section("Latest blocks", blocksBox),
      section("Latest transactions", txsBox),
    ),
  );

  // The latest blocks, newest first.
  const from = Math.max(stats.height - BLOCKS + 1, 1);
  const heights = [];
  for (let x = stats.height; x >= from; x--) heights.push(x);
  const blocks = await Promise.all(
    heights.map((x) => get(`/v1/blocks/${x}`, { signal })),
  );
  const blockList = blocks.map(blockRow);
  let txList = blocks.flatMap(txRows).slice(0, TXS);

  const bTable = table(blockCols, blockList, { "data-testid": "latest-blocks" }, (b) => ({
    "data-testid": "block-row",
    "data-height": b.height,
  }));
  const bBody = bTable.querySelector("tbody");
  blocksBox.append(bTable);
  const tBody = h("tbody");
  const tTable = table(txCols, [], { "data-testid": "latest-txs" });
  tTable.querySelector("tbody").replaceWith(tBody);
  const noTxs = empty(`No txs in the latest ${BLOCKS} blocks yet.`, {
    "data-testid": "latest-txs-empty",
  });
  txsBox.append(tTable, noTxs);
  function drawTxs() {
    tBody.replaceChildren(
      ...txList.map((t) =>
        tableRow(txCols, t, {
          "data-testid": "tx-row",
          "data-id": t.id,
          class: t.fresh ? "new" : undefined,
        }),
      ),
    );
    noTxs.hidden = txList.length > 0;
    tTable.hidden = txList.length === 0;
  }
  drawTxs();

  // ---- live -----------------------------------------------------------
  // Blocks whose txs are shown with ids only (from their event): fetched,
  // newest first, one at a time, for the txs' types and results.
  let fetching = false;
  const pending = new Set();
  async function fetchTxs() {
    if (fetching) return;
    fetching = true;
    try {
      while (pending.size && !signal.aborted) {
        const x = Math.max(...pending);
        pending.delete(x);
        if (!txList.some((t) => t.height === x && t.type === undefined)) continue;
        const b = await get(`/v1/blocks/${x}`, { signal });
        const got = new Map(txRows(b).map((t) => [t.id, t]));
        txList = txList.map((t) => (got.has(t.id) ? { ...got.get(t.id), fresh: false } : t));
        drawTxs();
      }
    } catch (e) {
      if (e.name !== "AbortError") showError(e, "loading the txs of a new block");
    } finally {
      fetching = false;
    }
  }

  // A block row in its place (newest first), at most BLOCKS rows.
  function insertBlock(a, fresh) {
    if (bBody.querySelector(`tr[data-height="${a.height}"]`)) return false;
    const row = tableRow(
      blockCols,
      {
        height: a.height,
        time: a.time,
        tx_count: a.tx_count,
        proposer: a.proposer,
        hash: a.hash,
      },
      {
        "data-testid": "block-row",
        "data-height": a.height,
        class: fresh ? "new" : undefined,
      },
    );
    const after = [...bBody.children].find(
      (tr) => Number(tr.dataset.height) < a.height,
    );
    bBody.insertBefore(row, after || null);
    while (bBody.children.length > BLOCKS) bBody.lastElementChild.remove();
    height = Math.max(height, a.height);
    lastTime = Math.max(lastTime || 0, a.time || 0);
    if (a.tx_count) chart.add(a.time, a.tx_count);
    return true;
  }

  // Blocks committed between the first requests and the stream's start (or
  // while it reconnected) arrive as no event: fetch them.
  async function fillGap(from, to) {
    for (let x = Math.max(from, to - BLOCKS + 1); x <= to; x++) {
      try {
        const b = await get(`/v1/blocks/${x}`, { signal });
        insertBlock(blockRow(b), true);
        const fresh = txRows(b).map((t) => ({ ...t, fresh: true }));
        if (fresh.length) {
          const known = new Set(fresh.map((t) => t.id));
          txList = [...fresh, ...txList.filter((t) => !known.has(t.id))]
            .sort((p, q) => q.height - p.height)
            .slice(0, TXS);
          drawTxs();
        }
      } catch (e) {
        if (e.name !== "AbortError") showError(e, `loading block ${x}`);
        return;
      }
    }
    showHead();
  }

  function onBlock(ev) {
    let data;
    try {
      data = JSON.parse(ev.data);
    } catch (e) {
      showError(e, "reading a block event");
      return;
    }
    const a = data.attrs || {};
    if (typeof a.height !== "number" || a.height <= height - BLOCKS) return;
    if (a.height > height + 1) fillGap(height + 1, a.height - 1);
    if (!insertBlock(a, true)) return;
    if (a.tx_count) {
      // Placeholders at once (ids from the event), types when fetched.
      const ids = (a.txs || []).slice().reverse();
      const known = new Set(txList.map((t) => t.id));
      const add = ids
        .filter((id) => !known.has(id))
        .map((id) => ({ id, height: a.height, fresh: true }));
      txList = [...add, ...txList.map((t) => ({ ...t, fresh: false }))].slice(0, TXS);
      drawTxs();
      pending.add(a.height);
      fetchTxs();
    }
    showHead();
  }

  const es = new EventSource("/v1/events?types=block");
  es.addEventListener("block", onBlock);
  es.onopen = () => {
    live.dataset.state = "live";
    live.replaceChildren(
      h("span", { class: "dot", "aria-hidden": "true" }),
      "live: new blocks appear as they are committed",
    );
  };
  es.onerror = () => {
    // The browser reconnects by itself; say so, visibly.
    live.dataset.state = "down";
    live.replaceChildren(
      h("span", { class: "dot", "aria-hidden": "true" }),
      es.readyState === EventSource.CLOSED
        ? "the event stream closed; reload the page for live updates"
        : "the event stream is interrupted; reconnecting…",
    );
    if (es.readyState === EventSource.CLOSED)
      showError(
        new Error("the event stream /v1/events closed"),
        "live updates",
      );
  };

  const clock = setInterval(() => {
    chart.tick();
    showHead();
  }, 1000);
  const refresh = setInterval(async () => {
    try {
      const s = await get("/v1/explorer/stats", { signal });
      await addValidatorsOnline(s, signal);
      chart.load(s.tps);
      showStats(s);
      if (s.height > height) {
        height = s.height;
        lastTime = s.last_block_time_ms;
      }
      showHead();
    } catch (e) {
      if (e.name !== "AbortError") showError(e, "refreshing the statistics");
    }
  }, 10000);

  return () => {
    es.close();
    clearInterval(clock);
    clearInterval(refresh);
  };
}
