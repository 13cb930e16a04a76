// Live updates. The htmx ws extension keeps one socket to /ws open (and
// reconnects with backoff); this file subscribes to the topics the page names
// in data-live-topic and turns each JSON event into an htmx "live" trigger on
// the elements listening to that topic, which then re-fetch their partial.
// While the socket is down, window.forgelineLive is false and those elements poll.
(function () {
  window.forgelineLive = false;
  var socket = null;

  function topics() {
    var all = new Set();
    document.querySelectorAll("[data-live-topic]").forEach(function (el) {
      el.dataset.liveTopic.split(/\s+/).filter(Boolean).forEach(function (t) { all.add(t); });
    });
    return Array.from(all);
  }

  function subscribe() {
    var wanted = topics();
    if (socket && wanted.length) socket.send(JSON.stringify({ action: "subscribe", topics: wanted }));
  }

  function showStatus(live) {
    window.forgelineLive = live;
    var badge = document.getElementById("live-status");
    if (badge) {
      badge.textContent = live ? "live" : "polling";
      badge.className = "badge " + (live ? "badge-finished" : "badge-muted");
    }
  }

  document.addEventListener("htmx:wsOpen", function (e) {
    socket = e.detail.socketWrapper;
    showStatus(true);
    subscribe();
    // catch up on what happened while the socket was down
    document.querySelectorAll("[data-live-topic]").forEach(function (el) { htmx.trigger(el, "live", {}); });
  });
  document.addEventListener("htmx:wsClose", function () { showStatus(false); });
  document.addEventListener("htmx:wsError", function () { showStatus(false); });

  document.addEventListener("htmx:wsBeforeMessage", function (e) {
    e.preventDefault(); // events are JSON, not HTML to swap
    var event;
    try { event = JSON.parse(e.detail.message); } catch (err) { return; }
    document.dispatchEvent(new CustomEvent("forgeline:event", { detail: event }));
    document.querySelectorAll("[data-live-topic]").forEach(function (el) {
      if (el.dataset.liveTopic.split(/\s+/).indexOf(event.topic) >= 0) htmx.trigger(el, "live", event);
    });
  });

  // partials swapped in may name new topics
  document.addEventListener("htmx:afterSettle", subscribe);
})();
