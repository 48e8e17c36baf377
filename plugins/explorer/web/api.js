// The node's HTTP API, same origin. Every answer that is not 2xx becomes an
// ApiError (message, method, url, status, code) unless the caller listed the
// status as expected, in which case it gets {ok: false, status, code,
// message} to show in the page itself.

export class ApiError extends Error {
  constructor(message, { method, url, status, code }) {
    super(message);
    this.name = "ApiError";
    this.method = method;
    this.url = url;
    this.status = status;
    this.code = code;
  }
}

// opts: {body (a string), expect: [statuses], signal}
// Resolves to the parsed JSON of a 2xx answer, or to {ok: false, status,
// code, message} for an expected status.
export async function request(method, url, opts = {}) {
  const init = { method, cache: "no-store", signal: opts.signal };
  if (opts.body !== undefined) {
    init.body = opts.body;
    init.headers = { "Content-Type": "application/json" };
  }
  let res;
  try {
    res = await fetch(url, init);
  } catch (e) {
    if (e.name === "AbortError") throw e;
    throw new ApiError(`cannot reach the node (${e.message})`, {
      method,
      url,
      status: 0,
    });
  }
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch (e) {
    if (res.ok)
      throw new ApiError(`the answer is not JSON (${e.message})`, {
        method,
        url,
        status: res.status,
      });
  }
  if (res.ok) return json;
  const err = json && json.error ? json.error : {};
  const message = err.message || text.trim() || res.statusText || "failed";
  const code = err.code || "";
  if (opts.expect && opts.expect.includes(res.status))
    return { ok: false, status: res.status, code, message };
  throw new ApiError(message, { method, url, status: res.status, code });
}

export const get = (url, opts) => request("GET", url, opts);
export const post = (url, body, opts = {}) =>
  request("POST", url, { ...opts, body });

// Path segments are escaped; ids come from the URL bar.
export const seg = encodeURIComponent;

// /v1/status, once per page load: the loaded plugins decide which optional
// requests a page makes (no pos routes on a solo chain).
let statusPromise = null;
export function nodeStatus() {
  if (!statusPromise)
    statusPromise = get("/v1/status").catch((e) => {
      statusPromise = null;
      throw e;
    });
  return statusPromise;
}

export async function hasPlugin(id) {
  const st = await nodeStatus();
  return (st.plugins || []).some((p) => p.id === id);
}

// /v1/explorer/panels, once per page load (the nav and the panel page).
let panelsPromise = null;
export function panelsList() {
  if (!panelsPromise)
    panelsPromise = get("/v1/explorer/panels").catch((e) => {
      panelsPromise = null;
      throw e;
    });
  return panelsPromise;
}
