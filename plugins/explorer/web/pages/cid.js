// #/cid/{cid} — a file in this node's blob store (IPFS CID): its size, the
// services whose video it is, a download link.
// Data: GET /v1/blobs/{cid}/stat; GET /v1/services/ (services loaded).
import { get, hasPlugin, seg } from "../api.js";
import { h, link, full, fmtInt, fields, section, empty } from "../ui.js";

export async function render(ctx) {
  const { main, signal } = ctx;
  const cid = (ctx.args[0] || "").trim();
  ctx.title(`CID ${cid.slice(0, 14)}`);
  const [st, svcs] = await Promise.all([
    get(`/v1/blobs/${seg(cid)}/stat`, { signal }),
    (await hasPlugin("services")) ? get("/v1/services/", { signal }) : null,
  ]);
  const uses = (svcs?.services || []).filter((s) => s.video?.cid === st.cid);
  main.append(
    h("h1", {}, "Stored file"),
    fields(
      [
        ["CID", full(st.cid), "cid-cid"],
        ["Size", `${fmtInt(st.size)} bytes`, "cid-size"],
        ["Download", h("a", { href: `/v1/blobs/${seg(st.cid)}`, download: "" }, `/v1/blobs/${st.cid}`)],
      ],
      { "data-testid": "cid-fields" },
    ),
    h(
      "p",
      { class: "muted" },
      "A content id as IPFS computes it: the same bytes have the same id on every node. " +
        "A service's video is stored encrypted; play it from the service's page.",
    ),
  );
  if (svcs)
    main.append(
      section(
        "Services with this video",
        uses.length
          ? h(
              "ul",
              { "data-testid": "cid-services" },
              uses.map((s) => h("li", {}, link("service", s.id, `${s.type} — ${s.place}`))),
            )
          : empty("No published service uses this file.", { "data-testid": "cid-services-empty" }),
      ),
    );
}
