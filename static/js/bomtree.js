// Multi-level BOM: "+" fetches a row's children with htmx (once); "−" hides
// every row below it, "+" shows them again without asking the server twice.
// A button turns "−" (aria-expanded) only once htmx has settled the rows it
// fetched: htmx sets up the new rows' own buttons at settle time (20 ms after
// the swap), so a click on a child's "+" before then would do nothing.
(function () {
  function below(row) {
    var prefix = row.dataset.node + "/";
    return Array.from(document.querySelectorAll("#bom-tree tr[data-node]"))
      .filter(function (r) { return r.dataset.node.indexOf(prefix) === 0; });
  }
  document.addEventListener("click", function (e) {
    var button = e.target.closest("#bom-tree button.toggle");
    if (!button) return;
    var row = button.closest("tr");
    var busy = button.classList.contains("htmx-request") || row.classList.contains("htmx-settling");
    if (!button.dataset.loaded && !busy) return; // the first click is htmx's
    e.preventDefault();
    e.stopImmediatePropagation();
    if (busy) return; // its rows are on their way: a second fetch would insert them twice
    var open = button.getAttribute("aria-expanded") === "true";
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
  document.addEventListener("htmx:afterSettle", function (e) {
    var row = e.target; // hx-target="closest tr": the row the children were inserted after
    if (!row.matches || !row.matches("#bom-tree tr")) return;
    var button = row.querySelector("button.toggle");
    if (!button || button.dataset.loaded) return;
    button.dataset.loaded = "1";
    button.setAttribute("aria-expanded", "true");
    button.textContent = "−";
  });
})();
