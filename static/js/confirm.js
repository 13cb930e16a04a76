// Confirmation for plain (non-htmx) POST forms. A form names its question in hx-confirm, the same
// attribute htmx reads for the requests it makes; htmx does not submit a plain form, so this
// delegated handler asks instead. The question is an HTML attribute, never JavaScript source, so
// a user-chosen name in it (a token, a part number) is only ever text.
(function () {
  // forms htmx submits itself (and so confirms itself): their own hx-post/..., or boosted
  var BY_HTMX = "[hx-post], [hx-get], [hx-put], [hx-patch], [hx-delete]";
  function byHtmx(form) {
    var boost = form.closest("[hx-boost]");
    return form.matches(BY_HTMX) || (boost !== null && boost.getAttribute("hx-boost") === "true");
  }
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("hx-confirm") || byHtmx(form)) return;
    if (!window.confirm(form.getAttribute("hx-confirm"))) e.preventDefault();
  });
})();
