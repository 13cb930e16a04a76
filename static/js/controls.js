// Small controls of every page, delegated so that htmx-swapped content gets them too:
// the top bar's menus (one open at a time, closed by a click elsewhere or Escape), its menu
// button (narrow screens show the navigation only when it is open) and copy buttons
// (`data-copy="<selector>"` copies that element's text, e.g. a new API token).
(function () {
  function closeMenus(except) {
    document.querySelectorAll(".topbar details[open]").forEach(function (menu) {
      if (menu !== except) menu.removeAttribute("open");
    });
  }
  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape") closeMenus(null);
  });
  document.addEventListener("click", function (e) {
    closeMenus(e.target.closest(".topbar details"));
    var toggle = e.target.closest("#menu-toggle");
    if (toggle) {
      var open = toggle.getAttribute("aria-expanded") !== "true";
      toggle.setAttribute("aria-expanded", String(open));
      toggle.closest(".topbar").classList.toggle("open", open);
      return;
    }
    var copy = e.target.closest("[data-copy]");
    if (!copy) return;
    var source = document.querySelector(copy.getAttribute("data-copy"));
    if (!source) return;
    var text = source.textContent.trim();
    var done = function () { copy.textContent = "Copied"; setTimeout(function () { copy.textContent = "Copy"; }, 2000); };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { selectText(source); });
    } else {  // plain http on another host: no Clipboard API; select it and use the old command
      selectText(source);
      if (document.execCommand("copy")) done();
    }
  });
  function selectText(element) {
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }
})();
