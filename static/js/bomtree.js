// Multi-level BOM: "+" fetches a row's children with htmx (once); "−" hides
// every row below it, "+" shows them again without asking the server twice.
(function () {
  function below(row) {
    var prefix = row.dataset.node + "/";
    return Array.from(document.querySelectorAll("#bom-tree tr[data-node]"))
      .filter(function (r) { return r.dataset.node.indexOf(prefix) === 0; });
  }
  document.addEventListener("click", function (e) {
    var button = e.target.closest("#bom-tree button.toggle");
    if (!button || !button.dataset.loaded) return; // the first click is htmx's
    e.preventDefault();
    e.stopImmediatePropagation();
    var row = button.closest("tr"), open = button.getAttribute("aria-expanded") === "true";
    below(row).forEach(function (r) {
      r.hidden = open;
      var inner = r.querySelector("button.toggle");
      if (inner && inner.dataset.loaded && !open) {
        inner.setAttribute("aria-expanded", "true");
        inner.textContent = "−";
      }
    });
    button.setAttribute("aria-expanded", String(!open));
    button.textContent = open ? "+" : "−";
  }, true);
  document.addEventListener("htmx:afterRequest", function (e) {
    var button = e.detail.elt;
    if (!button.matches || !button.matches("#bom-tree button.toggle") || !e.detail.successful) return;
    button.dataset.loaded = "1";
    button.setAttribute("aria-expanded", "true");
    button.textContent = "−";
  });
})();
