// The in-browser signer: the user's own key (the PKCS#8 Ed25519 PEM file
// `cairn keys` writes), imported with WebCrypto Ed25519, kept in memory
// only (a non-extractable CryptoKey; the PEM text is not kept, stored or
// sent), signing requests the way the node checks them:
//   Ed25519(domain || 0x00 || canonical JSON of the body without "sig").
// Canonical JSON is Jansson's JSON_COMPACT | JSON_SORT_KEYS (core/cjson.h):
// keys sorted bytewise as UTF-8, no whitespace, UTF-8 as is, integers only.

const enc = new TextEncoder();

export function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function compareUtf8(a, b) {
  const x = enc.encode(a);
  const y = enc.encode(b);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

function quote(s) {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0);
    if (ch === '"') out += '\\"';
    else if (ch === "\\") out += "\\\\";
    else if (c === 0x08) out += "\\b";
    else if (c === 0x0c) out += "\\f";
    else if (c === 0x0a) out += "\\n";
    else if (c === 0x0d) out += "\\r";
    else if (c === 0x09) out += "\\t";
    else if (c < 0x20)
      out += "\\u" + c.toString(16).toUpperCase().padStart(4, "0");
    else if (c >= 0xd800 && c <= 0xdfff)
      throw new Error("canonical JSON: a string holds a lone surrogate");
    else out += ch;
  }
  return out + '"';
}

// The canonical JSON text of v. Throws on what the chain cannot hold:
// non-integers, integers beyond the int64 range JSON numbers keep exactly
// (use a BigInt for those), undefined, functions.
export function canonicalJSON(v) {
  if (v === null) return "null";
  if (v === true) return "true";
  if (v === false) return "false";
  if (typeof v === "bigint") {
    if (v < -(2n ** 63n) || v >= 2n ** 63n)
      throw new Error(`canonical JSON: ${v} is outside int64`);
    return v.toString();
  }
  if (typeof v === "number") {
    if (!Number.isSafeInteger(v))
      throw new Error(
        `canonical JSON: ${v} is not an integer the chain accepts ` +
          "(integers only, no floats)",
      );
    return Object.is(v, -0) ? "0" : String(v);
  }
  if (typeof v === "string") return quote(v);
  if (Array.isArray(v)) return "[" + v.map(canonicalJSON).join(",") + "]";
  if (typeof v === "object") {
    const keys = Object.keys(v).filter((k) => v[k] !== undefined);
    keys.sort(compareUtf8);
    return (
      "{" +
      keys.map((k) => quote(k) + ":" + canonicalJSON(v[k])).join(",") +
      "}"
    );
  }
  throw new Error(`canonical JSON: cannot encode a ${typeof v}`);
}

// DER prefix of an unencrypted PKCS#8 v1 Ed25519 key (RFC 8410): SEQUENCE,
// version 0, AlgorithmIdentifier 1.3.101.112, OCTET STRING { OCTET STRING
// (32-byte seed) }. OpenSSL's PEM_write_bio_PrivateKey writes exactly this.
const PKCS8_ED25519 = [
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70,
  0x04, 0x22, 0x04, 0x20,
];

// The DER bytes of a PEM "PRIVATE KEY", checked to be PKCS#8 Ed25519.
export function pemToPkcs8(text) {
  const m = /-----BEGIN PRIVATE KEY-----([\s\S]*?)-----END PRIVATE KEY-----/.exec(
    String(text),
  );
  if (!m) {
    if (/BEGIN (ENCRYPTED )?PRIVATE KEY|BEGIN [A-Z ]*PRIVATE KEY/.test(text))
      throw new Error(
        "this is not an unencrypted PKCS#8 key (-----BEGIN PRIVATE KEY-----); " +
          "the keys `cairn keys new` writes are",
      );
    throw new Error(
      "no -----BEGIN PRIVATE KEY----- block: paste the whole PEM file " +
        "(keys/NAME.pem in the node home)",
    );
  }
  const b64 = m[1].replace(/\s+/g, "");
  let bin;
  try {
    bin = atob(b64);
  } catch {
    throw new Error("the PEM body is not base64");
  }
  const der = Uint8Array.from(bin, (c) => c.charCodeAt(0));
  const ok =
    der.length === 48 && PKCS8_ED25519.every((b, i) => der[i] === b);
  if (!ok)
    throw new Error(
      "the key is not an Ed25519 key (PKCS#8 with OID 1.3.101.112, 48 bytes); " +
        "Cairn accounts use Ed25519",
    );
  return der;
}

function b64urlDecode(s) {
  const b = s.replace(/-/g, "+").replace(/_/g, "/");
  const bin = atob(b + "=".repeat((4 - (b.length % 4)) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

let supported = null;

// Whether this browser signs with WebCrypto Ed25519 here. It needs a secure
// context (https, or http on localhost/127.0.0.1): crypto.subtle is absent
// otherwise.
export function ed25519Supported() {
  if (supported === null)
    supported = (async () => {
      if (!globalThis.isSecureContext || !globalThis.crypto?.subtle)
        return {
          ok: false,
          why:
            "this page is not a secure context (https, or http on localhost), " +
            "so the browser offers no WebCrypto",
        };
      try {
        await crypto.subtle.generateKey({ name: "Ed25519" }, false, [
          "sign",
          "verify",
        ]);
        return { ok: true };
      } catch (e) {
        return {
          ok: false,
          why: `this browser's WebCrypto has no Ed25519 (${e.name}: ${e.message})`,
        };
      }
    })();
  return supported;
}

export async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

// An account key from its PEM text: {key (non-extractable CryptoKey),
// pubkey (64 hex), address (40 hex)}.
export async function loadKey(pemText) {
  const der = pemToPkcs8(pemText);
  try {
    // Extractable once, to read the public key (JWK "x"); then imported again
    // non-extractable for signing, and the DER bytes wiped.
    const tmp = await crypto.subtle.importKey(
      "pkcs8",
      der,
      { name: "Ed25519" },
      true,
      ["sign"],
    );
    const jwk = await crypto.subtle.exportKey("jwk", tmp);
    const pub = b64urlDecode(jwk.x);
    const key = await crypto.subtle.importKey(
      "pkcs8",
      der,
      { name: "Ed25519" },
      false,
      ["sign"],
    );
    const address = hex((await sha256(pub)).slice(0, 20));
    return { key, pubkey: hex(pub), address };
  } finally {
    der.fill(0);
  }
}

// body (an object without sig) signed under domain: a new object with
// "sig" (128 hex).
export async function signBody(held, domain, body) {
  const msg = canonicalJSON(body);
  const bytes = enc.encode(domain + "\0" + msg);
  const sig = new Uint8Array(
    await crypto.subtle.sign({ name: "Ed25519" }, held.key, bytes),
  );
  return { ...body, sig: hex(sig) };
}

// The query-key request of plugins/services/README.md ("Query keys"): the
// body to POST to /v1/services/{id}/key, canonical JSON text.
export async function keyRequest(held, service, scope = "view") {
  const body = {
    account: held.address,
    pubkey: held.pubkey,
    scope,
    service,
    timestamp: Date.now(),
  };
  return canonicalJSON(
    await signBody(held, "cairn/services/key-request/v1", body),
  );
}
