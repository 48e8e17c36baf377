// The explorer in headless Chromium, driven by playwright-core (its plain
// API, not the @playwright/test runner), against the testnet that
// explorer-browser.sh set up. Every page is loaded and its content compared
// with the node's API; the search box, live blocks and txs, the video with
// and without entitlement, the error banner (failed requests, exceptions, a
// module that does not load), a strict CSP, 360 px phones, focus handling and
// axe-core's WCAG 2.1 A/AA rules in light and dark schemes are checked. Screenshots of every page go to
// $EXPLORER_SCREENSHOTS. Prints "PASS: …"/"FAIL: …" per check and
// "N passed, N failed"; exits 1 on any failure.
import { execFileSync } from "node:child_process";
import { readFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const E = process.env;
for (const k of [
  "EXPLORER_URL", "EXPLORER_API", "EXPLORER_SERVICE", "EXPLORER_SERVICE2",
  "EXPLORER_CID", "EXPLORER_USER", "EXPLORER_USER2", "EXPLORER_USER_PEM",
  "EXPLORER_USER2_PEM", "EXPLORER_FAILED_TX", "EXPLORER_SCREENSHOTS",
  "EXPLORER_PLAYWRIGHT", "EXPLORER_AXE", "CHROMIUM", "CAIRN_BIN", "EXPLORER_HOME0",
]) {
  if (!E[k]) {
    console.log(`FAIL: ${k} is not set (run explorer-browser.sh)`);
    process.exit(1);
  }
}
const { chromium } = await import(
  pathToFileURL(join(E.EXPLORER_PLAYWRIGHT, "index.mjs")).href
);
const BASE = E.EXPLORER_URL; // http://127.0.0.1:PORT/explorer/
const API = E.EXPLORER_API;
const ORIGIN = new URL(BASE).origin;
const SHOTS = E.EXPLORER_SCREENSHOTS;
mkdirSync(SHOTS, { recursive: true });

let passed = 0;
let failed = 0;
let shotNo = 0;
const pageErrors = []; // uncaught exceptions in the page
let expectPageErrors = false;
const foreign = new Set(); // requests to anything but the node

async function api(path) {
  const r = await fetch(API + path);
  if (!r.ok) throw new Error(`GET ${path}: ${r.status} ${await r.text()}`);
  return r.json();
}
function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}
function eq(got, want, what) {
  if (got !== want)
    throw new Error(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
}

// ---- the browser ----------------------------------------------------------
const browser = await chromium.launch({
  executablePath: E.CHROMIUM,
  headless: true,
  args: [
    ...(process.getuid && process.getuid() === 0 ? ["--no-sandbox"] : []),
    "--autoplay-policy=no-user-gesture-required",
  ],
});
// Chromium dies with this process (playwright-core's own exit handler);
// explorer-browser.sh also kills this process group at the end.

async function newPage(viewport = { width: 1280, height: 900 }) {
  const ctx = await browser.newContext({ viewport });
  const page = await ctx.newPage();
  page.setDefaultTimeout(15000);
  page.on("pageerror", (e) => {
    if (!expectPageErrors) pageErrors.push(e.message);
  });
  page.on("request", (r) => {
    const u = r.url();
    if (!u.startsWith(ORIGIN + "/") && !u.startsWith("data:") && !u.startsWith("blob:"))
      foreign.add(u);
  });
  return page;
}
let page = await newPage();

async function shot(name, p = page) {
  const path = join(SHOTS, `${String(++shotNo).padStart(2, "0")}-${name}.png`);
  await p.screenshot({ path, fullPage: true });
  console.log(`screenshot: ${path}`);
}

// Wait until the route whose hash matches re has rendered.
async function ready(re, p = page) {
  await p.waitForFunction(
    (src) => {
      const m = document.getElementById("main");
      return m && m.dataset.ready && new RegExp(src).test(location.hash) &&
        m.dataset.ready === location.hash && !m.hasAttribute("aria-busy");
    },
    re.source,
  );
}
async function go(hash, re, p = page) {
  // The same URL again is no navigation at all: load the page anew.
  if (p.url() === BASE + hash) await p.reload();
  else await p.goto(BASE + hash);
  await ready(re || new RegExp("^" + hash.replace(/[.*+?^${}()|[\]\\]/g, "\\$&") + "$"), p);
}
const text = (sel, p = page) => p.locator(sel).first().innerText();
const tid = (id) => `[data-testid="${id}"]`;

// No error banner, one h1, focus on it after a route change.
async function pageSane(p = page) {
  const banners = await p.locator(tid("error-banner")).allInnerTexts();
  assert(banners.length === 0, `error banner shown: ${banners.join(" | ")}`);
  eq(await p.locator("main h1").count(), 1, "h1 elements in main");
  eq(await p.locator("h1").count(), 1, "h1 elements on the page");
}

async function check(name, fn) {
  const before = pageErrors.length;
  try {
    await fn();
    if (pageErrors.length > before)
      throw new Error(`uncaught in the page: ${pageErrors.slice(before).join("; ")}`);
    passed++;
    console.log(`PASS: ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL: ${name}: ${e.message.split("\n").slice(0, 6).join("\n  ")}`);
    try {
      await shot(`FAILED-${name.replace(/[^a-z0-9]+/gi, "-").slice(0, 40)}`);
    } catch {
      /* the page may be gone */
    }
  }
}

function cli(...args) {
  return execFileSync(E.CAIRN_BIN, args, { encoding: "utf8", timeout: 60000 });
}

// ---- data the checks compare with ---------------------------------------
const failedTx = await api(`/v1/txs/${E.EXPLORER_FAILED_TX}`);
const txBlockH = failedTx.height;
const txBlock = await api(`/v1/blocks/${txBlockH}`);
const svc = await api(`/v1/services/${E.EXPLORER_SERVICE}`);

let liveTx = null; // a bank.transfer the live check sends

// ---- home ----------------------------------------------------------------
await check("home: chain id, height, last block, validators online, latest blocks", async () => {
  const st = await api("/v1/status");
  // What the page itself got (the chain moves on between two reads).
  const statsP = page.waitForResponse((r) => new URL(r.url()).pathname === "/v1/explorer/stats");
  const t0 = Date.now();
  await go("#/", /^$|^#\/$/);
  const stats = await (await statsP).json();
  const ms = Date.now() - t0;
  console.log(`home: loaded and rendered in ${ms} ms (10 blocks, stats, panels, status)`);
  assert(ms < 5000, `the home page took ${ms} ms`);
  eq(await text(tid("home-chain-id")), st.chain_id, "chain id");
  const shown = Number((await text(tid("home-height"))).replace(/\D/g, ""));
  assert(shown >= st.height && shown <= st.height + 100, `height ${shown}, API ${st.height}`);
  assert(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/.test(await text(tid("home-last-block"))), "last block time");
  eq(stats.chain_id, st.chain_id, "chain id in the stats");
  const rows = page.locator(`${tid("latest-blocks")} ${tid("block-row")}`);
  eq(await rows.count(), 10, "latest blocks rows");
  // Height and text of one row in one read: new blocks arrive live and
  // push a new first row in between two reads.
  const [top, topText] = await rows.first().evaluate((e) => [Number(e.getAttribute("data-height")), e.innerText]);
  assert(top >= st.height, `newest block row ${top} < API height ${st.height}`);
  const b = await api(`/v1/blocks/${top}`);
  assert(topText.includes(b.hash.slice(0, 8)), `newest row (height ${top}) shows its hash`);
  await pageSane();
  await shot("home");
  // Validators online = the signers of the latest commit (README).
  const shownOnline = Number((await text(tid("home-validators-online"))).split("\n")[0]);
  const commit = await api("/v1/pos/commits/latest");
  const signers = commit.validators.filter((v) => v.signed).length;
  // 4 validators run; a commit needs more than 2/3 of them.
  assert(shownOnline >= 3 && shownOnline <= 4 && Math.abs(shownOnline - signers) <= 1,
    `validators online shown ${shownOnline}, latest commit signers ${signers}`);
});

await check("home: a new block and a new tx appear live, without reload", async () => {
  await go("#/", /^$|^#\/$/);
  await page.waitForFunction(() => document.querySelector('[data-testid="live-status"]')?.dataset.state === "live");
  await page.evaluate(() => (window.__sameDocument = 1));
  const rows = page.locator(`${tid("latest-blocks")} ${tid("block-row")}`);
  const top = Number(await rows.first().getAttribute("data-height"));
  await page.waitForFunction(
    (t) => Number(document.querySelector('[data-testid="block-row"]').dataset.height) > t,
    top, { timeout: 20000 });
  const out = cli("tx", "send", "--home", E.EXPLORER_HOME0, "--from", "admin", "--json",
    "bank.transfer", JSON.stringify({ amount: 3, denom: "cairn", to: E.EXPLORER_USER2 }));
  const id = JSON.parse(out).id;
  liveTx = id;
  assert(/^[0-9a-f]{64}$/.test(id || ""), `no tx id from the CLI: ${out}`);
  const row = page.locator(`${tid("tx-row")}[data-id="${id}"]`);
  await row.waitFor({ timeout: 20000 });
  await page.waitForFunction(
    (i) => document.querySelector(`[data-testid="tx-row"][data-id="${i}"]`)?.innerText.includes("bank.transfer"),
    id, { timeout: 20000 });
  // No block missing between the first load and the live ones.
  await page.waitForFunction(() => {
    const h = [...document.querySelectorAll('[data-testid="block-row"]')].map((r) => Number(r.dataset.height));
    return h.length === 10 && h.every((x, i) => i === 0 || h[i - 1] === x + 1);
  }, null, { timeout: 10000 }).catch(async () => {
    throw new Error(`latest blocks not consecutive: ${await page.locator(tid("block-row")).evaluateAll((rs) => rs.map((r) => r.dataset.height).join(","))}`);
  });
  const total = Number(await page.locator(tid("tps-chart")).getAttribute("data-total"));
  assert(total >= 1, `tx/s chart counts ${total} txs in the last minute`);
  eq(await page.evaluate(() => window.__sameDocument), 1, "the page was not reloaded");
  await pageSane();
  await shot("home-live");
});

// ---- search --------------------------------------------------------------
const searches = [
  ["height", String(txBlockH), new RegExp(`^#/block/${txBlockH}$`)],
  ["block hash", txBlock.hash, new RegExp(`^#/block/${txBlockH}$`)],
  ["tx id", E.EXPLORER_FAILED_TX, new RegExp(`^#/tx/${E.EXPLORER_FAILED_TX}$`)],
  ["address", E.EXPLORER_USER, new RegExp(`^#/account/${E.EXPLORER_USER}$`)],
  ["service id", E.EXPLORER_SERVICE, new RegExp(`^#/service/${E.EXPLORER_SERVICE}$`)],
  ["CID", E.EXPLORER_CID, new RegExp(`^#/cid/${E.EXPLORER_CID}$`)],
];
for (const [what, q, re] of searches)
  await check(`search box: a ${what} leads to its page`, async () => {
    await go("#/validators");
    await page.fill("#search-input", q);
    await page.press("#search-input", "Enter");
    await ready(re);
    await pageSane();
    if (what === "service id") {
      // A service id is also its publish tx's id: the page says so.
      const n = await text(".notice");
      assert(n.includes("also matches") && n.includes("transaction"), `notice: ${n}`);
      eq(await page.locator(`.notice a[href="#/tx/${E.EXPLORER_SERVICE}"]`).count(), 1, "link to the tx");
    }
    if (what === "CID") {
      assert((await text(tid("cid-cid"))).includes(E.EXPLORER_CID), "CID shown");
      const stat = await api(`/v1/blobs/${E.EXPLORER_CID}/stat`);
      assert((await text(tid("cid-size"))).replace(/\D/g, "") === String(stat.size), "CID size");
      assert((await text(tid("cid-services"))).includes("boat tour"), "the service using the CID");
      await shot("cid");
    }
  });
await check("search box: junk says nothing found", async () => {
  await go("#/");
  await page.fill("#search-input", "no-such-thing-42");
  await page.click(tid("search-submit"));
  await ready(/^#\/search\//);
  assert((await text(tid("search-nothing"))).includes("Nothing found"), "nothing found text");
  eq(await page.evaluate(() => document.activeElement?.tagName), "H1", "focus after the route change");
  await pageSane();
  await shot("search-nothing");
});

// ---- block ---------------------------------------------------------------
await check("block page: header fields, commit signatures with stake, txs", async () => {
  await go(`#/block/${txBlockH}`);
  eq(await text(tid("block-hash")), txBlock.hash, "hash");
  eq((await text(tid("block-tx-count"))).replace(/\D/g, ""), String(txBlock.header.tx_count), "tx count");
  eq(await text(tid("block-proposer")), txBlock.header.proposer, "proposer");
  eq(await page.locator(tid("block-tx")).count(), txBlock.txs.length, "txs shown");
  const ids = await page.locator(tid("block-tx")).evaluateAll((els) => els.map((e) => e.dataset.id));
  eq(JSON.stringify(ids), JSON.stringify(txBlock.results.map((r) => r.id)), "tx ids in order");
  const failedCard = page.locator(`${tid("block-tx")}[data-id="${E.EXPLORER_FAILED_TX}"]`);
  assert((await failedCard.innerText()).includes("wrong price"), "the failed tx's error in the block");
  const commit = await api(`/v1/pos/commits/${txBlockH}`);
  const vals = await api("/v1/pos/validators");
  const rows = page.locator(tid("commit-row"));
  eq(await rows.count(), commit.validators.length, "commit rows");
  for (const v of commit.validators) {
    const r = page.locator(`${tid("commit-row")}[data-address="${v.address}"]`);
    eq(await r.getAttribute("data-signed"), v.signed ? "1" : "0", `signed flag of ${v.address}`);
    const val = vals.validators.find((x) => x.address === v.address);
    assert((await r.innerText()).includes(String(val.self_stake + val.delegated)), `stake of ${v.address}`);
  }
  assert((await text(tid("commit-summary"))).includes(String(commit.signed_power)), "signed power");
  await pageSane();
  await shot("block");
});

// ---- tx ------------------------------------------------------------------
await check("tx page: envelope, decoded body, error result, block link", async () => {
  await go(`#/tx/${E.EXPLORER_FAILED_TX}`);
  eq(await text(tid("tx-type")), failedTx.tx.type, "type");
  eq(await text(tid("tx-status")), "committed", "status");
  eq(await text(tid("tx-from")), failedTx.tx.from, "from");
  const res = await text(tid("tx-result"));
  assert(res.includes(failedTx.result.code) && res.includes("wrong price"), `result: ${res}`);
  const body = await text(tid("tx-body"));
  assert(body.includes(String(failedTx.tx.body.amount)) && body.includes(E.EXPLORER_SERVICE), `body: ${body}`);
  eq(await page.locator(`${tid("tx-body")} a[href="#/service/${E.EXPLORER_SERVICE}"]`).count(), 1, "service link in the body");
  await page.click(`${tid("tx-block")} a`);
  await ready(new RegExp(`^#/block/${txBlockH}$`));
  await go(`#/tx/${E.EXPLORER_FAILED_TX}`);
  await shot("tx-failed");
});

await check("tx page: a successful transfer, its events and links", async () => {
  assert(liveTx, "the live check sent no tx");
  let r;
  for (let i = 0; i < 100 && (r = await api(`/v1/txs/${liveTx}`)).status !== "committed"; i++)
    await new Promise((res) => setTimeout(res, 100));
  eq(r.status, "committed", "the transfer is committed");
  await go(`#/tx/${liveTx}`);
  eq(await text(tid("tx-type")), "bank.transfer", "type");
  eq(await text(tid("tx-result")), "ok", "result");
  eq(await text(tid("tx-nonce")), String(r.tx.nonce), "nonce");
  eq(await page.locator(`${tid("tx-body")} a[href="#/account/${E.EXPLORER_USER2}"]`).count(), 1, "recipient link");
  assert((await text(tid("tx-body"))).includes(String(r.tx.body.amount)), "amount");
  eq(await page.locator(`${tid("tx-events")} tbody tr`).count(), r.result.events.length, "events");
  await pageSane();
  await shot("tx-transfer");
});

// ---- account -------------------------------------------------------------
await check("account page: balances, nonce, roles, recent txs, entitlements", async () => {
  const acct = await api(`/v1/accounts/${E.EXPLORER_USER}`);
  const bal = await api(`/v1/bank/balances/${E.EXPLORER_USER}`);
  const txs = await api(`/v1/explorer/accounts/${E.EXPLORER_USER}/txs?limit=25`);
  await go(`#/account/${E.EXPLORER_USER}`);
  eq(await text(tid("account-address")), E.EXPLORER_USER, "address");
  eq(await text(tid("account-nonce")), String(acct.nonce), "nonce");
  eq(await page.locator(`${tid("balance-row")}[data-denom="cairn"]`).getAttribute("data-amount"),
    String(bal.balances.cairn), "cairn balance");
  assert((await text(`${tid("balance-row")}[data-denom="cairn"]`)).includes(bal.balances.cairn.toLocaleString("en-US")), "balance text");
  eq(await text(tid("account-roles")), acct.roles.length ? acct.roles.join(", ") : "none", "roles");
  assert(txs.txs.length > 0, "the API lists txs of the user");
  eq(await page.locator(tid("account-tx")).count(), txs.txs.length, "recent txs shown");
  eq(await page.locator(tid("account-tx")).first().getAttribute("data-id"), txs.txs[0].id, "newest tx first");
  assert((await text(tid("account-entitlements"))).includes(E.EXPLORER_SERVICE.slice(0, 8)), "entitlement");
  await pageSane();
  await shot("account");
});

// ---- validators ----------------------------------------------------------
await check("validators page: stake, power share, proposed/missed, state", async () => {
  const vals = (await api("/v1/pos/validators")).validators;
  const before = await api("/v1/pos/signing?last=1000");
  await go("#/validators");
  const after = await api("/v1/pos/signing?last=1000");
  const moved = after.to - before.to; // blocks committed meanwhile
  const rows = page.locator(tid("validator-row"));
  eq(await rows.count(), vals.length, "validator rows");
  eq(vals.length, 4, "validators in the API");
  for (const v of vals) {
    const r = page.locator(`${tid("validator-row")}[data-address="${v.address}"]`);
    eq(await r.getAttribute("data-stake"), String(v.self_stake + v.delegated), `stake of ${v.address}`);
    const t = await r.innerText();
    assert(t.includes("25.00%"), `power share of ${v.address}: ${t}`);
    assert(t.includes(v.jailed ? "jailed" : "active"), `state of ${v.address}`);
    // Blocks keep coming: each one moves a count by at most 1, so what the
    // page shows is within that many of both API reads around it.
    for (const k of ["proposed", "signed", "missed"]) {
      const shown = Number(await r.getAttribute(`data-${k}`));
      const lo = before.validators[v.address]?.[k] ?? 0;
      const hi = after.validators[v.address]?.[k] ?? 0;
      assert(Math.abs(shown - lo) <= moved && Math.abs(shown - hi) <= moved,
        `${k} of ${v.address}: ${shown}, API ${lo} then ${hi}, ${moved} blocks apart`);
      assert((await r.innerText()).includes(String(shown)), `${k} shown as text`);
    }
  }
  const proposed = Object.values(after.validators).reduce((a, s) => a + s.proposed, 0);
  assert(proposed > 0, "the API counts proposed blocks");
  await pageSane();
  await shot("validators");
});

// ---- services ------------------------------------------------------------
await check("services page: the list, filtered by place and by type", async () => {
  const list = (await api("/v1/services/")).services;
  await go("#/services");
  eq(await page.locator(tid("service-row")).count(), list.length, "services listed");
  await shot("services");
  await page.fill(tid("filter-place"), "harbour");
  await page.click(tid("filter-submit"));
  await ready(/^#\/services\?place=harbour$/);
  eq(await page.locator(tid("service-row")).count(), 1, "services in the harbour");
  eq(await page.locator(tid("service-row")).getAttribute("data-id"), E.EXPLORER_SERVICE, "the harbour service");
  await go("#/services?type=guided");
  eq(await page.locator(tid("service-row")).count(), 1, "guided visits");
  eq(await page.locator(tid("service-row")).getAttribute("data-id"), E.EXPLORER_SERVICE2, "the guided visit");
  await go("#/services?place=harbour&type=guided");
  eq(await page.locator(tid("service-row")).count(), 0, "harbour guided visits");
  await page.locator(tid("services-empty")).waitFor();
  await pageSane();
  await shot("services-filtered");
});

await check("service page: digest, feedback, published opinion", async () => {
  await go(`#/service/${E.EXPLORER_SERVICE}`);
  eq(await text(tid("service-id")), svc.id, "id");
  eq(await text(tid("service-sha256")), svc.video.sha256, "sha256");
  eq(await text(tid("service-cid")), svc.video.cid, "cid");
  eq(await text(tid("service-place")), svc.place, "place");
  assert((await text(tid("service-price"))).startsWith(`${svc.price.amount} ${svc.price.denom}`), "price");
  const published = svc.cases.filter((c) => c.status === "published");
  eq(await page.locator(tid("opinion")).count(), published.length, "opinions");
  assert(published.length > 0, "the API has a published opinion");
  assert((await text(tid("opinion"))).includes(published[0].opinion.text), "opinion text");
  assert((await text(tid("service-feedback-summary"))).startsWith(`${svc.feedback.count} feedback`), "feedback count");
  eq(await page.locator(tid("signer-status")).getAttribute("data-flow"), "webcrypto", "in-browser signing available");
  // A feedback's text (off chain, a blob), checked against its on-chain hash.
  const fbRow = page.locator(`${tid("service-feedback")} tbody tr`).filter({ hasText: "experience" });
  await fbRow.locator("button").click();
  await fbRow.locator(".ok").waitFor();
  assert((await fbRow.innerText()).includes("nice views"), "feedback text shown");
  await pageSane();
  await shot("service");
});

// ---- the video -------------------------------------------------------------
async function waitPlayable(p = page) {
  await p.waitForFunction(() => {
    const v = document.querySelector('[data-testid="service-video"]');
    return v && v.readyState >= 2;
  }, null, { timeout: 30000 });
  const t = await p.evaluate(() => {
    const v = document.querySelector('[data-testid="service-video"]');
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no seeked event")), 15000);
      v.addEventListener("seeked", () => { clearTimeout(timer); resolve(v.currentTime); }, { once: true });
      v.currentTime = 1;
    });
  });
  assert(Math.abs(t - 1) < 0.2, `currentTime after the seek: ${t}`);
}

await check("video: an entitled user's key (in-browser Ed25519) plays it, and it seeks", async () => {
  await go(`#/service/${E.EXPLORER_SERVICE}`);
  await page.fill(tid("key-pem"), readFileSync(E.EXPLORER_USER_PEM, "utf8"));
  await page.click(tid("key-submit"));
  await waitPlayable();
  eq(await page.inputValue(tid("key-pem")), "", "the PEM is cleared from the page");
  eq(await text(tid("key-account")), E.EXPLORER_USER, "the key's account");
  const src = await page.getAttribute(tid("service-video"), "src");
  assert(src.startsWith(`/v1/services/${E.EXPLORER_SERVICE}/video?key=`), `video src ${src}`);
  assert(await page.locator(tid("entitlement-message")).isHidden(), "no entitlement message");
  await pageSane();
  await shot("video-playing");
});

await check("video: without entitlement the page says what to do", async () => {
  await go(`#/service/${E.EXPLORER_SERVICE}`);
  await page.fill(tid("key-pem"), readFileSync(E.EXPLORER_USER2_PEM, "utf8"));
  await page.click(tid("key-submit"));
  const msg = page.locator(tid("entitlement-message"));
  await msg.waitFor({ state: "visible" });
  const t = await msg.innerText();
  assert(t.includes("entitlement") && t.includes(E.EXPLORER_USER2), `message: ${t}`);
  eq(await text(tid("entitle-command")), `cairn services entitle ${E.EXPLORER_SERVICE} --from KEY`, "the command");
  assert(await page.locator(tid("service-video")).isHidden(), "no video shown");
  await pageSane();
  await shot("video-refused");
});

await check("video: the copy-paste flow (a token from `cairn services key`) plays it", async () => {
  const out = JSON.parse(cli("services", "--home", E.EXPLORER_HOME0, "key", E.EXPLORER_SERVICE,
    "--from", E.EXPLORER_USER_PEM, "--json"));
  await go(`#/service/${E.EXPLORER_SERVICE}`);
  await page.fill(tid("token-input"), out.token);
  await page.click(tid("token-submit"));
  await waitPlayable();
  await pageSane();
  // A forged token: the gateway's refusal is shown, not swallowed.
  await go(`#/service/${E.EXPLORER_SERVICE}`);
  const [a, b] = out.token.split(".");
  const forged = `${a}.${b[0] === "A" ? "B" : "A"}${b.slice(1)}`;
  await page.fill(tid("token-input"), forged);
  await page.click(tid("token-submit"));
  const banner = page.locator(tid("error-banner"));
  await banner.waitFor();
  const bt = await banner.innerText();
  assert(bt.includes("403") && bt.includes("key_forged"), `banner: ${bt}`);
});

// ---- panels --------------------------------------------------------------
await check("panels: a nav entry per registered panel; each renders its route", async () => {
  const { panels } = await api("/v1/explorer/panels");
  await go("#/");
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid="nav-panel"]').length === n, panels.length);
  assert(panels.length > 0, "no panel registered (market, im, groups, metering register one each)");
  for (const p of panels) {
    await page.click(`[data-testid="nav-panel"][href="#/panel/${p.id}"]`);
    await ready(new RegExp(`^#/panel/${p.id}$`));
    eq(await text(tid("panel-title")), p.title, "panel title");
    const ans = await api(p.route);
    const rows = Array.isArray(ans) ? ans : Object.values(ans).find(Array.isArray);
    assert(Array.isArray(rows), `${p.route} answers no list`);
    eq(await page.locator(tid("panel-row")).count(), rows.length, `${p.id} rows`);
    eq(await page.locator('[data-testid="nav-panel"][aria-current="page"]').getAttribute("href"), `#/panel/${p.id}`, "current nav entry");
    await pageSane();
    await shot(`panel-${p.id}`);
  }
});

// ---- errors are shown, not swallowed ---------------------------------------
await check("error banner: a block that does not exist", async () => {
  await go("#/block/99999999");
  const banner = page.locator(tid("error-banner"));
  await banner.waitFor();
  const t = await banner.innerText();
  assert(t.includes("GET /v1/blocks/99999999 → 404 not_found") && /not found/.test(t), `banner: ${t}`);
  eq(await page.locator("#errors").getAttribute("role"), "alert", "banner role");
  await page.locator(tid("page-failed")).waitFor();
  await shot("error-block");
});

await check("error banner: a failing API request and an exception", async () => {
  await page.route("**/v1/explorer/stats", (r) =>
    r.fulfill({ status: 500, contentType: "application/json",
      body: JSON.stringify({ error: { code: "injected", message: "injected failure" } }) }));
  await go("#/");
  const banner = page.locator(tid("error-banner"));
  await banner.waitFor();
  const t = await banner.innerText();
  assert(t.includes("injected failure") && t.includes("GET /v1/explorer/stats → 500 injected"), `banner: ${t}`);
  await page.unroute("**/v1/explorer/stats");
  await page.route("**/v1/services/", (r) => r.abort("connectionrefused"));
  await go("#/services");
  await page.waitForFunction(() => document.querySelector('[data-testid="error-banner"]')?.innerText.includes("cannot reach the node"));
  await page.unroute("**/v1/services/");
  expectPageErrors = true;
  await page.evaluate(() => setTimeout(() => { throw new Error("an injected exception"); }, 0));
  await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="error-banner"]')].some((b) => b.innerText.includes("an injected exception")));
  await page.evaluate(() => {
    Promise.reject(new Error("an unhandled rejection"));
  });
  await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="error-banner"]')].some((b) => b.innerText.includes("an unhandled rejection")));
  expectPageErrors = false;
  await shot("error-injected");
});

await check("error banner: a module that does not load is reported, not a blank page", async () => {
  const p = await newPage();
  await p.route("**/explorer/pages/tx.js", (r) => r.fulfill({ status: 404, body: "gone" }));
  await p.goto(BASE + "#/");
  await p.waitForFunction(() => document.getElementById("errors").innerText.includes("could not start"),
    null, { timeout: 15000 });
  const t = await p.locator("#errors").innerText();
  assert(t.includes("/explorer/app.js did not load"), `boot message: ${t}`);
  await shot("error-module", p);
  await p.context().close();
});

await check("a strict Content-Security-Policy breaks nothing (no inline code, no eval)", async () => {
  const p = await newPage();
  const csp = "default-src 'self'; img-src 'self' data:; media-src 'self'; object-src 'none'; " +
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
  await p.route(/\/explorer\/(index\.html)?$/, async (r) => {
    const res = await r.fetch();
    r.fulfill({ response: res, headers: { ...res.headers(), "content-security-policy": csp } });
  });
  await p.addInitScript(() => {
    window.__csp = [];
    document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  for (const hash of ["#/", `#/service/${E.EXPLORER_SERVICE}`, `#/block/${txBlockH}`]) {
    await go(hash, hash === "#/" ? /^$|^#\/$/ : undefined, p);
    await pageSane(p);
  }
  eq((await p.evaluate(() => window.__csp)).join("; "), "", "CSP violations");
  await p.context().close();
});

await check("dark colour scheme renders (screenshot)", async () => {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme: "dark" });
  const p = await ctx.newPage();
  await go(`#/service/${E.EXPLORER_SERVICE}`, undefined, p);
  const [fg, bg] = await p.evaluate(() => {
    const cs = getComputedStyle(document.body);
    return [cs.color, cs.backgroundColor];
  });
  assert(fg !== bg && bg !== "rgb(255, 255, 255)", `dark scheme colours: ${fg} on ${bg}`);
  await shot("dark-service", p);
  await ctx.close();
});

// ---- the canonical JSON the signer uses: byte for byte Jansson's ----------
await check("signer: canonical JSON as the node's (Jansson, sorted UTF-8 keys)", async () => {
  await go("#/");
  const got = await page.evaluate(async () => {
    const s = await import("./sign.js");
    const out = [s.canonicalJSON({ b: "a\u0001\u001f\"\\/\u007fé😀\n", "｡": 1, "😀": 3, a: 2 }),
      s.canonicalJSON([true, false, null, -5, { z: [], y: {} }])];
    for (const bad of [1.5, 2 ** 60, undefined, "\ud800"])
      try {
        s.canonicalJSON(bad);
        out.push("accepted");
      } catch {
        out.push("refused");
      }
    return out;
  });
  eq(got[0], '{"a":2,"b":"a\\u0001\\u001F\\"\\\\/\u007fé😀\\n","｡":1,"😀":3}', "canonical text");
  eq(got[1], '[true,false,null,-5,{"y":{},"z":[]}]', "canonical array");
  eq(got.slice(2).join(","), "refused,refused,refused,refused", "floats, unsafe integers, undefined, lone surrogates");
});

// ---- phone width -----------------------------------------------------------
await check("360 px wide: no horizontal scroll on any page", async () => {
  const phone = await newPage({ width: 360, height: 740 });
  const hashes = [
    ["#/", /^#\/$/], ["#/validators"], ["#/services"], [`#/service/${E.EXPLORER_SERVICE}`],
    [`#/block/${txBlockH}`], [`#/tx/${E.EXPLORER_FAILED_TX}`], [`#/account/${E.EXPLORER_USER}`],
    [`#/cid/${E.EXPLORER_CID}`], ["#/search/nothing-here", /^#\/search\//],
  ];
  const { panels } = await api("/v1/explorer/panels");
  for (const p of panels) hashes.push([`#/panel/${p.id}`]);
  const wide = [];
  for (const [hash, re] of hashes) {
    await go(hash, re, phone);
    const w = await phone.evaluate(() => document.documentElement.scrollWidth);
    if (w > 360) wide.push(`${hash}: ${w}px`);
    const name = hash.replace(/^#\/?/, "").split("/");
    await shot(`phone-${name[0] || "home"}${name[0] === "panel" ? "-" + name[1] : ""}`, phone);
  }
  await phone.context().close();
  assert(wide.length === 0, `wider than 360 px: ${wide.join(", ")}`);
});

// ---- accessibility basics and no outside requests --------------------------
await check("accessibility: landmarks, labelled inputs, focus on the new page's h1", async () => {
  await go(`#/service/${E.EXPLORER_SERVICE}`);
  for (const sel of ["header", "nav", "main", "footer", "form[role=search]"])
    eq(await page.locator(sel).count() >= 1, true, `landmark ${sel}`);
  const unlabelled = await page.evaluate(() =>
    [...document.querySelectorAll("input, textarea, select")]
      .filter((e) => e.type !== "hidden" && e.labels.length === 0 && !e.getAttribute("aria-label"))
      .map((e) => e.id || e.name || e.outerHTML.slice(0, 60)));
  eq(unlabelled.join(","), "", "inputs without a label");
  await page.click('nav a[href="#/validators"]');
  await ready(/^#\/validators$/);
  eq(await page.evaluate(() => document.activeElement?.tagName), "H1", "focus after following a link");
  const reduced = await page.evaluate(() => [...document.styleSheets].some((s) =>
    [...s.cssRules].some((r) => r.conditionText && r.conditionText.includes("prefers-reduced-motion"))));
  assert(reduced, "style.css honours prefers-reduced-motion");
});

await check("accessibility: axe-core finds no WCAG 2.1 A/AA or best-practice violation, light and dark", async () => {
  const { panels } = await api("/v1/explorer/panels");
  const hashes = [
    "#/", "#/validators", "#/services", `#/service/${E.EXPLORER_SERVICE}`,
    `#/block/${txBlockH}`, `#/tx/${E.EXPLORER_FAILED_TX}`, `#/account/${E.EXPLORER_USER}`,
    `#/cid/${E.EXPLORER_CID}`, "#/search/nothing-here", "#/block/99999999",
    ...panels.map((p) => `#/panel/${p.id}`),
  ];
  const found = [];
  for (const colorScheme of ["light", "dark"]) {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme });
    const p = await ctx.newPage();
    for (const hash of hashes) {
      await go(hash, hash === "#/" ? /^$|^#\/$/ : undefined, p);
      await p.addScriptTag({ path: E.EXPLORER_AXE });
      const v = await p.evaluate(async () =>
        (await window.axe.run(document, {
          runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] },
        })).violations.map((x) => `${x.id} (${x.impact}, ${x.nodes.length}×, e.g. ${x.nodes[0].target.join(" ")})`));
      for (const x of v) found.push(`${colorScheme} ${hash}: ${x}`);
    }
    await ctx.close();
  }
  assert(found.length === 0, found.join("\n"));
});

await check("nothing requested outside the node (no CDN, no fonts)", async () => {
  assert(foreign.size === 0, `requests elsewhere: ${[...foreign].join(", ")}`);
});

await browser.close();
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
