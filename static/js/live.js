// Live updates. The htmx ws extension keeps one socket to /ws open (and
// reconnects with backoff); this file subscribes to the topics the page names
// in data-live-topic and turns each JSON event into an htmx "live" trigger on
// the elements listening to that topic, which then re-fetch their partial.
// While the socket is down, window.forgelineLive is false and those elements poll.
(function () {
  window.forgelineLive = false;
  var socket = null;
  var subscribed = new Set(); // topics sent on the current socket

  function topics() {
    var all = new Set();
    document.querySelectorAll("[data-live-topic]").forEach(function (el) {
      el.dataset.liveTopic.split(/\s+/).filter(Boolean).forEach(function (t) { all.add(t); });
    });
    return Array.from(all);
  }

  // only topics this socket has not been told yet: partials re-settle after every event
  function subscribe() {
    if (!socket) return;
    var fresh = topics().filter(function (t) { return !subscribed.has(t); });
    if (!fresh.length) return;
    fresh.forEach(function (t) { subscribed.add(t); });
    socket.send(JSON.stringify({ action: "subscribe", topics: fresh }));
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
    subscribed = new Set(); // a new socket on the server knows no topics
    showStatus(true);
    subscribe();
    // catch up on what happened while the socket was down
    document.querySelectorAll("[data-live-topic]").forEach(function (el) { htmx.trigger(el, "live", {}); });
  });
  function down() {
    socket = null; // while closed, sends would only queue up; wsOpen subscribes afresh
    showStatus(false);
  }
  document.addEventListener("htmx:wsClose", down);
  document.addEventListener("htmx:wsError", down);

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
