// #/service/{id} — a service: the on-chain digest, feedback, the regulators'
// published opinions, and its video for an account with an entitlement.
// Data: GET /v1/services/{id} (digest, cases with opinions, feedback
// totals), GET /v1/services/{id}/feedback; on demand GET /v1/blobs/{cid}
// (a feedback text), POST /v1/services/{id}/key (a query key, signed in the
// browser: sign.js), GET /v1/services/{id}/video?key= (the <video>).
import { get, post, seg, ApiError } from "../api.js";
import { showError } from "../errors.js";
import { ed25519Supported, loadKey, keyRequest, sha256, hex } from "../sign.js";
import { h, link, full, fmtInt, fmtTime, timeEl, fields, section, empty, table } from "../ui.js";

export async function render(ctx) {
  const { main, signal } = ctx;
  const id = (ctx.args[0] || "").trim().toLowerCase();
  ctx.title(`Service ${id.slice(0, 12)}`);
  const [svc, fb] = await Promise.all([
    get(`/v1/services/${seg(id)}`, { signal }),
    get(`/v1/services/${seg(id)}/feedback`, { signal }),
  ]);
  ctx.title(`${svc.type} — ${svc.place}`);
  const v = svc.video || {};
  main.append(
    h("h1", { "data-testid": "service-title" }, `${svc.type} — ${svc.place}`),
    section(
      "On-chain digest",
      fields(
        [
          ["Service id", full(svc.id), "service-id"],
          ["Provider", [svc.provider_name ? `${svc.provider_name} ` : "", link("account", svc.provider)], "service-provider"],
          ["Place", svc.place, "service-place"],
          ["Type", svc.type, "service-type"],
          ["Delivered", timeEl(svc.time), "service-time"],
          ["Price", `${fmtInt(svc.price?.amount)} ${svc.price?.denom || ""}`, "service-price"],
          ["Published", ["block ", link("block", svc.height), " by tx ", link("tx", svc.id)], "service-published"],
          ["Video CID", link("cid", v.cid, v.cid, { class: "hash full" }), "service-cid"],
          ["Video SHA-256", full(v.sha256 || ""), "service-sha256"],
          ["Video size", `${fmtInt(v.size)} bytes`, "service-size"],
          ["Media type", v.content_type || "—", "service-content-type"],
          ["Encryption", v.enc ? `${v.enc.alg}, ${fmtInt(v.enc.segment_size)}-byte segments` : "—"],
          ["Gateway", svc.gateway || "the provider's node", "service-gateway"],
        ],
        { "data-testid": "service-digest" },
      ),
    ),
  );

  // ---- opinions and cases ----
  const cases = svc.cases || [];
  const published = cases.filter((c) => c.status === "published" && c.opinion);
  const open = cases.filter((c) => c.status !== "published");
  main.append(
    section(
      "Regulators' opinions",
      published.length
        ? h(
            "div",
            { "data-testid": "service-opinions" },
            published.map((c) =>
              h(
                "article",
                { class: "opinion", "data-testid": "opinion", "data-case": c.id },
                h("h3", {}, `Verdict: ${c.opinion.verdict.replace(/_/g, " ")}`),
                c.opinion.text ? h("blockquote", {}, c.opinion.text) : null,
                h(
                  "p",
                  { class: "muted" },
                  c.opinion.by === "auto"
                    ? "Published automatically after the review period"
                    : ["By regulator ", link("account", c.opinion.regulator || c.opinion.by)],
                  ", block ",
                  link("block", c.opinion.height),
                  " · complaint ",
                  link("tx", c.id),
                  " by ",
                  link("account", c.complainant),
                ),
              ),
            ),
          )
        : empty("No published opinion on this service.", { "data-testid": "service-opinions-empty" }),
      open.length
        ? h(
            "p",
            { "data-testid": "service-open-cases" },
            `${open.length} complaint${open.length > 1 ? "s" : ""} under review: `,
            open.flatMap((c, i) => [
              i ? ", " : "",
              link("tx", c.id),
              ` (${c.status}, review period ends at block ${fmtInt(c.deadline)})`,
            ]),
          )
        : null,
    ),
  );

  // ---- feedback ----
  const list = fb.feedback || [];
  const count = svc.feedback?.count || 0;
  const avg = count ? (svc.feedback.rating_sum / count).toFixed(1) : null;
  main.append(
    section(
      "Feedback",
      h(
        "p",
        { "data-testid": "service-feedback-summary" },
        count ? `${count} feedback${count > 1 ? "s" : ""}, average rating ${avg} of 5.` : "No feedback yet.",
      ),
      list.length
        ? table(
            [
              { label: "Kind", cell: (f) => f.kind },
              { label: "Rating", cell: (f) => `${f.rating} / 5`, class: "num" },
              { label: "By", cell: (f) => link("account", f.author) },
              { label: "Block", cell: (f) => link("block", f.height), class: "num" },
              { label: "Tx", cell: (f) => link("tx", f.tx) },
              { label: "Text", cell: (f) => feedbackText(f) },
            ],
            list,
            { "data-testid": "service-feedback" },
          )
        : null,
    ),
  );

  // ---- the video ----
  const video = videoSection(svc);
  main.append(video.el);
  return video.cleanup;
}

// A feedback's text is off chain (a blob, on the node it was sent to); its
// SHA-256 is on chain, so the page checks what it shows.
function feedbackText(f) {
  if (!f.text_cid) return h("span", { class: "muted" }, "not stored");
  const out = h("span");
  const btn = h("button", { type: "button", class: "secondary" }, "Show");
  btn.addEventListener("click", async () => {
    btn.disabled = true;
    try {
      const res = await fetch(`/v1/blobs/${encodeURIComponent(f.text_cid)}`);
      const bytes = new Uint8Array(await res.arrayBuffer());
      if (!res.ok) {
        let msg = new TextDecoder().decode(bytes);
        try {
          msg = JSON.parse(msg).error.message;
        } catch {
          /* keep the raw text */
        }
        throw new ApiError(msg, { method: "GET", url: res.url, status: res.status });
      }
      const ok = hex(await sha256(bytes)) === f.text_sha256;
      out.replaceChildren(
        h("q", {}, new TextDecoder().decode(bytes)),
        " ",
        ok
          ? h("span", { class: "ok", title: "matches the SHA-256 on chain" }, "✓")
          : h("span", { class: "bad" }, "does not match the hash on chain"),
      );
    } catch (e) {
      btn.disabled = false;
      showError(e, "loading a feedback text");
    }
  });
  out.append(btn);
  return out;
}

function videoSection(svc) {
  const id = svc.id;
  let held = null; // {key, pubkey, address}: the user's key, in memory only
  const status = h("p", { role: "status", "data-testid": "video-status", class: "muted" });
  const flowNote = h("p", { "data-testid": "signer-status" }, "Checking what this browser can sign with…");
  const entMsg = h("div", { class: "warn", "data-testid": "entitlement-message", hidden: true });
  const player = h("video", {
    controls: true,
    playsinline: true,
    preload: "auto",
    hidden: true,
    "data-testid": "service-video",
    "aria-label": `Video of the service: ${svc.type} at ${svc.place}`,
  });

  const say = (text, cls = "muted") => {
    status.className = cls;
    status.replaceChildren(text);
  };

  // -- playing --
  let playing = null;
  function play(url, what) {
    entMsg.hidden = true;
    playing = url;
    player.hidden = false;
    player.src = url;
    player.load();
    say(`${what} Loading the video from the gateway…`);
    player.play().catch((e) => {
      if (e.name === "NotAllowedError") say(`${what} Press play to watch.`);
      // other failures arrive as the element's error event
    });
  }
  player.addEventListener("loadeddata", () => {
    if (player.src) say("The video is ready: it streams decrypted from the gateway (you can seek).", "ok");
  });
  player.addEventListener("error", async () => {
    if (!player.getAttribute("src")) return;
    const url = playing;
    const me = player.error;
    // Ask the gateway why (a query key refused, expired…): one byte.
    try {
      const r = await fetch(url, { headers: { Range: "bytes=0-0" } });
      if (!r.ok) {
        let code = "", message = await r.text();
        try {
          const j = JSON.parse(message);
          code = j.error.code;
          message = j.error.message;
        } catch {
          /* not JSON */
        }
        const e = new ApiError(message, { method: "GET", url: url.replace(/key=[^&]+/, "key=…"), status: r.status, code });
        say(`The gateway refused the video: ${message}`, "bad");
        showError(e, "playing the video");
        return;
      }
    } catch (e) {
      showError(e, "playing the video");
      return;
    }
    const why = me ? `${me.message || "media error"} (MediaError code ${me.code})` : "unknown";
    say(`This browser cannot play the video: ${why}`, "bad");
    showError(new Error(`the browser cannot play the video: ${why}`), "playing the video");
  });

  // A refusal: no video of an earlier key stays on the page.
  function stop() {
    playing = null;
    player.pause();
    player.removeAttribute("src");
    player.load();
    player.hidden = true;
  }

  function entitlementNeeded(message) {
    stop();
    entMsg.hidden = false;
    entMsg.replaceChildren(
      h("p", {}, h("strong", {}, "No entitlement. "), message),
      h("p", {}, `With the command line and your key (it pays ${fmtInt(svc.price?.amount)} ${svc.price?.denom || ""} to the provider):`),
      h("pre", {}, h("code", { "data-testid": "entitle-command" }, `cairn services entitle ${id} --from KEY`)),
      h("p", {}, "then ask for the query key again here. (With --stake the price is locked in your account for a while instead of paid.)"),
    );
    say("No query key: provide an entitlement first.", "bad");
  }

  function notGateway(message) {
    stop();
    entMsg.hidden = false;
    const gw = svc.gateway;
    entMsg.replaceChildren(
      h("p", {}, h("strong", {}, "This node is not the service's gateway. "), message),
      gw && /^https?:\/\//.test(gw)
        ? h("p", {}, "Open this service on its gateway: ", h("a", { href: `${gw.replace(/\/$/, "")}/explorer/#/service/${id}` }, gw))
        : null,
    );
    say("No query key from this node.", "bad");
  }

  // -- flow A: the in-browser signer --
  const pem = h("textarea", {
    id: "key-pem",
    rows: "4",
    autocomplete: "off",
    spellcheck: "false",
    "data-testid": "key-pem",
    placeholder: "-----BEGIN PRIVATE KEY-----\n…\n-----END PRIVATE KEY-----",
    "aria-describedby": "key-pem-help",
  });
  const file = h("input", { id: "key-file", type: "file", accept: ".pem,text/plain,application/x-pem-file", "data-testid": "key-file" });
  const scope = h(
    "select",
    { id: "key-scope", "data-testid": "key-scope" },
    h("option", { value: "view" }, "view (an entitled account, or the provider)"),
    h("option", { value: "review" }, "review (a regulator, on an open complaint)"),
  );
  const heldNote = h("p", { "data-testid": "key-held", hidden: true });
  const forget = h("button", { type: "button", class: "secondary", hidden: true, "data-testid": "key-forget" }, "Forget the key");
  forget.addEventListener("click", () => {
    held = null;
    heldNote.hidden = true;
    forget.hidden = true;
    say("The key is forgotten.");
  });
  file.addEventListener("change", async () => {
    const f = file.files && file.files[0];
    if (!f) return;
    if (f.size > 4096) {
      showError(new Error(`${f.name} is ${f.size} bytes: not a key file`), "reading your key");
      return;
    }
    pem.value = await f.text();
    file.value = "";
  });
  const keyBtn = h("button", { type: "submit", "data-testid": "key-submit" }, "Get a query key and play");
  const keyForm = h(
    "form",
    { "data-testid": "key-form", "aria-labelledby": "flow-sign" },
    h("div", { class: "field" }, h("label", { for: "key-pem" }, "Your account's key (the PEM file cairn keys writes)"), pem),
    h("p", { id: "key-pem-help", class: "muted" }, "It stays in this page's memory: it is not stored and never sent; only a signature of the request is."),
    h("div", { class: "field" }, h("label", { for: "key-file" }, "Or load the key file"), file),
    h("div", { class: "field" }, h("label", { for: "key-scope" }, "Scope"), scope),
    h("p", {}, keyBtn, " ", forget),
    heldNote,
  );
  keyForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    keyBtn.disabled = true;
    try {
      if (pem.value.trim()) {
        const text = pem.value;
        pem.value = ""; // not left in the page
        held = await loadKey(text);
        heldNote.hidden = false;
        forget.hidden = false;
        heldNote.replaceChildren("Key loaded for account ", link("account", held.address, held.address, { "data-testid": "key-account" }), " (in memory, this page only).");
      }
      if (!held) {
        pem.focus();
        say("Paste your key first.", "bad");
        return;
      }
      say("Asking the gateway for a query key…");
      const url = `/v1/services/${seg(id)}/key`;
      const body = await keyRequest(held, id, scope.value);
      const r = await post(url, body, { expect: [403, 409] });
      if (r.ok === false) {
        if (r.code === "entitlement_required") return entitlementNeeded(r.message);
        if (r.code === "not_gateway") return notGateway(r.message);
        say(`The gateway refused the key: ${r.message}`, "bad");
        throw new ApiError(r.message, { method: "POST", url, status: r.status, code: r.code });
      }
      play(r.url, `Query key for ${r.holder} (${r.scope}), valid until ${fmtTime(r.exp)}.`);
    } catch (e) {
      if (!(e instanceof ApiError)) say(`Could not sign the request: ${e.message}`, "bad");
      showError(e, "getting a query key");
    } finally {
      keyBtn.disabled = false;
    }
  });

  // -- flow B: a token from the CLI --
  const token = h("input", { id: "key-token", type: "text", autocomplete: "off", spellcheck: "false", "data-testid": "token-input" });
  const tokenForm = h(
    "form",
    { "data-testid": "token-form", "aria-labelledby": "flow-cli" },
    h("p", {}, "Run, with your key:"),
    h("pre", {}, h("code", { "data-testid": "key-command" }, `cairn services key ${id} --from KEY`)),
    h("div", { class: "field" }, h("label", { for: "key-token" }, "Paste the query key (token) or the video URL it prints"), token),
    h("p", {}, h("button", { type: "submit", "data-testid": "token-submit" }, "Play")),
  );
  tokenForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    let t = token.value.trim();
    const m = /[?&]key=([^&\s]+)/.exec(t);
    if (m) t = decodeURIComponent(m[1]);
    if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(t)) {
      say("That is not a query key: it is two base64url parts joined by a dot.", "bad");
      token.focus();
      return;
    }
    let what = "";
    try {
      const p = JSON.parse(atob(t.split(".")[0].replace(/-/g, "+").replace(/_/g, "/")));
      if (p.service && p.service !== id) what = `This key is for another service (${p.service.slice(0, 12)}…); the gateway will refuse it. `;
      else if (p.exp && p.exp < Date.now()) what = `This key expired at ${fmtTime(p.exp)}; the gateway will refuse it. `;
      else if (p.holder) what = `Query key for ${p.holder}${p.exp ? `, valid until ${fmtTime(p.exp)}` : ""}.`;
    } catch {
      /* the gateway decides */
    }
    play(`/v1/services/${seg(id)}/video?key=${encodeURIComponent(t)}`, what);
  });

  const signBox = h("div", {}, h("h3", { id: "flow-sign" }, "Sign in this browser"), keyForm);
  const cliBox = h("div", {}, h("h3", { id: "flow-cli" }, "Or use the command line"), tokenForm);
  ed25519Supported().then((s) => {
    if (s.ok) {
      flowNote.replaceChildren("This browser signs with WebCrypto Ed25519: paste your key below, or use the command line.");
      flowNote.dataset.flow = "webcrypto";
    } else {
      flowNote.replaceChildren(`In-browser signing is not available: ${s.why}. Use the command line below and paste the key it prints.`);
      flowNote.dataset.flow = "cli";
      keyForm.hidden = true;
      signBox.append(h("p", { class: "muted" }, "Not available in this browser."));
    }
  });

  const el = section(
    "Video",
    h(
      "p",
      {},
      "The video is stored encrypted on the provider's node (the gateway). An account that holds an " +
        "entitlement to this service (or the provider; a regulator with an open complaint) gets a " +
        "short-lived query key, and the gateway streams the decrypted video with it.",
    ),
    flowNote,
    h("div", { class: "flows" }, signBox, cliBox),
    entMsg,
    status,
    player,
  );
  el.setAttribute("data-testid", "video-section");
  return {
    el,
    cleanup: () => {
      held = null;
      player.removeAttribute("src");
      player.load();
    },
  };
}
