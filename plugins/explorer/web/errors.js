// The error banner: every failed request and every exception ends up here,
// visible, with its message and the request that failed. Nothing is
// swallowed: the console gets it too.
import { ApiError } from "./api.js";

function box() {
  return document.getElementById("errors");
}

// Show err (an ApiError, an Error or anything thrown). context: what the page
// was doing, e.g. "loading block 12".
export function showError(err, context) {
  console.error(context || "explorer", err);
  const item = document.createElement("div");
  item.className = "error";
  item.setAttribute("data-testid", "error-banner");
  const msg = document.createElement("p");
  const what = context ? `${context}: ` : "";
  let text;
  if (err instanceof ApiError) text = err.message;
  else if (err instanceof Error) text = `${err.name}: ${err.message}`;
  else text = String(err);
  msg.textContent = what + text;
  item.appendChild(msg);
  if (err instanceof ApiError) {
    const req = document.createElement("p");
    req.className = "request";
    const status = err.status
      ? `${err.status}${err.code ? " " + err.code : ""}`
      : "no answer";
    req.textContent = `${err.method} ${err.url} → ${status}`;
    item.appendChild(req);
  } else if (err instanceof Error && err.stack) {
    const st = document.createElement("details");
    const sum = document.createElement("summary");
    sum.textContent = "Where";
    const pre = document.createElement("pre");
    pre.textContent = err.stack;
    st.append(sum, pre);
    item.appendChild(st);
  }
  const close = document.createElement("button");
  close.type = "button";
  close.className = "close";
  close.textContent = "Dismiss";
  close.setAttribute("aria-label", "Dismiss this error");
  close.addEventListener("click", () => item.remove());
  item.appendChild(close);
  const b = box();
  // Keep the banner short: the 5 newest.
  while (b.children.length >= 5) b.firstElementChild.remove();
  b.appendChild(item);
}

export function clearErrors() {
  box().replaceChildren();
}

export function installGlobalHandlers() {
  window.addEventListener("error", (ev) => {
    if (ev.error) showError(ev.error, "unexpected error");
    else if (ev.message) showError(new Error(ev.message), "unexpected error");
  });
  window.addEventListener("unhandledrejection", (ev) => {
    showError(ev.reason, "unexpected error");
  });
}
