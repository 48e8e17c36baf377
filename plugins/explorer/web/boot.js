/* The first script of the page (a classic script, not a module): it shows
 * errors that happen before the app's modules run, e.g. a module that does
 * not load or does not parse, which would otherwise leave a blank page.
 * Once app.js has started it reports errors itself (errors.js). */
(function () {
  "use strict";
  var pending = [];
  function show(text) {
    if (window.cairnExplorerStarted)
      return;
    var box = document.getElementById("errors");
    if (!box) {
      pending.push(text);
      return;
    }
    var p = document.createElement("p");
    p.className = "error";
    p.textContent = "The explorer could not start: " + text;
    box.appendChild(p);
  }
  window.addEventListener(
    "error",
    function (ev) {
      var t = ev.target;
      if (t && t !== window && t.tagName === "SCRIPT")
        show("the script " + (t.src || "(inline)") + " did not load");
      else if (ev.message)
        show(ev.message + (ev.filename ? " (" + ev.filename + ":" + ev.lineno + ")" : ""));
    },
    true);
  window.addEventListener("unhandledrejection", function (ev) {
    show(String(ev.reason && ev.reason.message || ev.reason));
  });
  document.addEventListener("DOMContentLoaded", function () {
    pending.splice(0).forEach(show);
    /* Modules run after the document is parsed; give them a moment. */
    setTimeout(function () {
      if (!window.cairnExplorerStarted)
        show("its JavaScript modules did not run (see the browser's console); "
             + "the node's API is still at /v1/");
    }, 8000);
  });
})();
