// Confirmation for plain (non-htmx) POST forms. A form names its question in hx-confirm, the same
// attribute htmx reads for the requests it makes; htmx does not submit a plain form, so this
// delegated handler asks instead. The question is an HTML attribute, never JavaScript source, so
// a user-chosen name in it (a token, a part number) is only ever text.
// A plain form that goes ahead has its buttons disabled while the browser sends it, so a second
// click sends nothing (htmx forms say hx-disabled-elt; the server's one-time form tokens catch
// whatever gets through). They come back when the page is shown again (back button, a download
// that leaves the page where it is).
(function () {
  // forms htmx submits itself (and so confirms itself): their own hx-post/..., or boosted
  var BY_HTMX = "[hx-post], [hx-get], [hx-put], [hx-patch], [hx-delete]";
  var REENABLE_MS = 8000;
  function byHtmx(form) {
    var boost = form.closest("[hx-boost]");
    return form.matches(BY_HTMX) || (boost !== null && boost.getAttribute("hx-boost") === "true");
  }
  function buttonsOf(form) {
    return Array.prototype.slice.call(form.querySelectorAll("button, input[type=submit]"));
  }
  function enable(buttons) {
    buttons.forEach(function (b) { b.disabled = false; b.removeAttribute("data-sending"); });
  }
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!(form instanceof HTMLFormElement) || byHtmx(form)) return;
    if (form.hasAttribute("hx-confirm") && !window.confirm(form.getAttribute("hx-confirm"))) {
      e.preventDefault();
      return;
    }
    if (e.defaultPrevented || (form.method || "").toLowerCase() !== "post") return;
    var buttons = buttonsOf(form);
    // after this task: the submitter's name=value is already in what the browser sends
    setTimeout(function () {
      buttons.forEach(function (b) { b.disabled = true; b.setAttribute("data-sending", ""); });
      setTimeout(function () { enable(buttons); }, REENABLE_MS);
    }, 0);
  });
  window.addEventListener("pageshow", function () {
    enable(Array.prototype.slice.call(document.querySelectorAll("[data-sending]")));
  });
})();
