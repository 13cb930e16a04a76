// Live updates. The htmx ws extension keeps one socket to /ws open (and
// reconnects with backoff); this file subscribes to the topics the page names
// in data-live-topic and turns each JSON event into an htmx "live" trigger on
// the elements listening to that topic, which then re-fetch their partial:
// at once, then at most once per data-live-interval ms (default 300) and
// always once after the last event of a burst, so a page is never left stale.
// While the socket is down, window.forgelineLive is false and those elements poll.
// An event that comes while an element's own request is out refreshes it again after.
(function () {
  window.forgelineLive = false;
  var socket = null;
  var subscribed = new Set(); // topics sent on the current socket
  var cooling = new WeakMap(); // element -> {again: bool} while its interval runs

  // Elements whose own request is out. htmx queues a trigger that comes meanwhile and, once
  // the answer has swapped the element out (outerHTML), drops it with the old element: the
  // page would keep an answer read before the event. So such an element is refreshed again
  // once its answer has landed.
  var inFlight = new WeakSet();
  document.addEventListener("htmx:beforeRequest", function (e) { inFlight.add(e.detail.elt); });
  document.addEventListener("htmx:afterRequest", function (e) { inFlight.delete(e.detail.elt); });
  function busy(el) { return el.isConnected && inFlight.has(el); }

  function refresh(el, topic, event) {
    var state = cooling.get(el);
    if (state) { state.again = true; return; }
    state = { again: busy(el) };
    cooling.set(el, state);
    if (!state.again) {
      htmx.process(el); // a copy swapped in a moment ago is set up by htmx only as it settles
      htmx.trigger(el, "live", event);
    }
    setTimeout(function settle() {
      if (busy(el)) { setTimeout(settle, 50); return; }
      cooling.delete(el);
      if (!state.again) return;
      // the element may have been swapped for a fresh copy meanwhile: refresh whoever listens now
      (el.isConnected ? [el] : listening(topic)).forEach(function (now) { refresh(now, topic, event); });
    }, Number(el.dataset.liveInterval || 300));
  }

  function listening(topic) {
    return Array.from(document.querySelectorAll("[data-live-topic]")).filter(function (el) {
      return el.dataset.liveTopic.split(/\s+/).indexOf(topic) >= 0;
    });
  }

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
    subscribe(); // the server's "subscribed" answer then makes the page catch up
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
    if (event.type === "subscribed") {
      // from now on no event of these topics is missed: re-read what happened before
      document.dispatchEvent(new CustomEvent("forgeline:subscribed", { detail: event.data.topics }));
      event.data.topics.forEach(function (topic) {
        listening(topic).forEach(function (el) { refresh(el, topic, event); });
      });
      return;
    }
    document.dispatchEvent(new CustomEvent("forgeline:event", { detail: event }));
    listening(event.topic).forEach(function (el) { refresh(el, event.topic, event); });
  });

  // partials swapped in may name new topics
  document.addEventListener("htmx:afterSettle", subscribe);
})();
