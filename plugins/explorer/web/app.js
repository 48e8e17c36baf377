// The explorer: one page, hash routes (plugins/explorer/README.md). Each
// route's module renders into <main> and may return a cleanup function
// (closing an event stream, stopping timers) run when the route changes.
import { get, panelsList } from "./api.js";
import { showError, clearErrors, installGlobalHandlers } from "./errors.js";
import { h, takeNotice } from "./ui.js";
import * as home from "./pages/home.js";
import * as search from "./pages/search.js";
import * as block from "./pages/block.js";
import * as tx from "./pages/tx.js";
import * as account from "./pages/account.js";
import * as validators from "./pages/validators.js";
import * as services from "./pages/services.js";
import * as service from "./pages/service.js";
import * as cid from "./pages/cid.js";
import * as panel from "./pages/panel.js";

const pages = {
  "": home,
  search,
  block,
  tx,
  account,
  validators,
  services,
  service,
  cid,
  panel,
};

// "#/service/abc?x=1" -> {name: "service", args: ["abc"], query}
export function parseHash(hash) {
  let s = hash.replace(/^#\/?/, "");
  let query = new URLSearchParams();
  const q = s.indexOf("?");
  if (q >= 0) {
    query = new URLSearchParams(s.slice(q + 1));
    s = s.slice(0, q);
  }
  const parts = s.split("/").filter((p, i) => p !== "" || i > 0);
  let args;
  try {
    args = parts.slice(1).map(decodeURIComponent);
  } catch {
    args = parts.slice(1);
  }
  return { name: parts[0] || "", args, query };
}

let current = null; // {cleanup, abort}
let routed = false;

function markNav() {
  const cur = parseHash(location.hash);
  for (const a of document.querySelectorAll("#nav a")) {
    const t = parseHash(a.getAttribute("href"));
    const on =
      (t.name === cur.name &&
        (t.name !== "panel" || t.args.join("/") === cur.args.join("/"))) ||
      (cur.name === "service" && t.name === "services");
    if (on) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

async function route() {
  if (current) {
    current.abort.abort();
    try {
      current.cleanup?.();
    } catch (e) {
      showError(e, "leaving the page");
    }
  }
  // Errors belong to the page they happened on (the first page keeps what
  // boot.js may have shown).
  if (routed) clearErrors();
  routed = true;
  const hash = location.hash;
  const r = parseHash(hash);
  const main = document.getElementById("main");
  const page = pages[r.name];
  const abort = new AbortController();
  current = { abort, cleanup: null };
  const mine = current;
  main.replaceChildren();
  main.setAttribute("aria-busy", "true");
  delete main.dataset.ready;
  const notice = takeNotice();
  if (notice)
    main.appendChild(h("div", { class: "notice", role: "status" }, notice));
  markNav();
  const input = document.getElementById("search-input");
  if (r.name !== "search" && document.activeElement !== input) input.value = "";
  const ctx = {
    args: r.args,
    query: r.query,
    signal: abort.signal,
    main,
    title: (t) => {
      document.title = `${t} · Cairn explorer`;
    },
  };
  try {
    if (!page) {
      ctx.title("Not found");
      main.append(
        h("h1", { tabindex: "-1" }, "No such page"),
        h(
          "p",
          {},
          `The explorer has no page “${location.hash}”. `,
          h("a", { href: "#/" }, "Go to the overview"),
          " or search for a height, hash, tx id, address, service id or CID.",
        ),
      );
    } else {
      const cleanup = await page.render(ctx);
      if (mine !== current) {
        cleanup?.();
        return;
      }
      current.cleanup = cleanup || null;
    }
  } catch (e) {
    if (e.name === "AbortError" || mine !== current) return;
    showError(e, `loading ${location.hash || "#/"}`);
    if (!main.querySelector("h1"))
      main.prepend(h("h1", { tabindex: "-1" }, "Could not load this page"));
    main.append(
      h(
        "p",
        { class: "failed", "data-testid": "page-failed" },
        "This page could not be loaded; the error is shown above.",
      ),
    );
  } finally {
    if (mine === current) {
      main.removeAttribute("aria-busy");
      focusHeading(main);
      // For the browser test (and anyone scripting the page): this route
      // has rendered (not set when it moved on to another, e.g. a search).
      if (location.hash === hash) main.dataset.ready = hash || "#/";
    }
  }
}

// Move focus to the new page's heading so keyboard and screen-reader users
// land on the new content (not on the link they followed).
let firstRoute = true;
function focusHeading(main) {
  const h1 = main.querySelector("h1");
  if (!h1) return;
  h1.setAttribute("tabindex", "-1");
  if (firstRoute && !location.hash) {
    firstRoute = false;
    return; // a fresh load keeps the browser's own focus
  }
  firstRoute = false;
  h1.focus({ preventScroll: false });
}

function searchForm() {
  const form = document.getElementById("search");
  const input = document.getElementById("search-input");
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const q = input.value.trim();
    if (!q) {
      input.focus();
      return;
    }
    const target = `#/search/${encodeURIComponent(q)}`;
    if (location.hash === target) route();
    else location.hash = target;
  });
}

// Panels the app plugins registered: a nav entry each.
async function loadPanels() {
  const nav = document.getElementById("nav-list");
  try {
    const r = await panelsList();
    for (const p of r.panels || [])
      nav.appendChild(
        h(
          "li",
          {},
          h(
            "a",
            {
              href: `#/panel/${encodeURIComponent(p.id)}`,
              "data-testid": "nav-panel",
              title: p.description || undefined,
            },
            p.title,
          ),
        ),
      );
    markNav();
  } catch (e) {
    showError(e, "loading the apps' panels");
  }
}

function footer() {
  get("/v1/status")
    .then((st) => {
      document
        .getElementById("footer-node")
        .replaceChildren(
          `Node ${st.node || "?"} · chain ${st.chain_id} · Cairn ${st.version}`,
        );
    })
    .catch((e) => showError(e, "reading the node's status"));
}

function start() {
  window.cairnExplorerStarted = true;
  installGlobalHandlers();
  // The skip link focuses <main> without touching the hash (the router's).
  document.querySelector("[data-skip]").addEventListener("click", (ev) => {
    ev.preventDefault();
    document.getElementById("main").focus();
  });
  searchForm();
  window.addEventListener("hashchange", route);
  loadPanels();
  footer();
  route();
}

start();
