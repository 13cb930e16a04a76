// The live run page. Events for this run (already coalesced by the worker's
// monitor) are merged into pending state and applied at most once per
// animation frame, so a busy run never means one DOM update per message.
(function () {
  var panel = function () { return document.getElementById("run-panel"); };
  if (!panel()) return;
  var topic = "flow-run:" + panel().dataset.job;
  var pending = { routines: {}, slots: {}, trace: [], status: null, error: null, active: {} };
  var scheduled = false;
  var MAX_TRACE_ROWS = 50;

  function schedule() {
    if (!scheduled) { scheduled = true; window.requestAnimationFrame(apply); }
  }

  document.addEventListener("forgeline:event", function (e) {
    var ev = e.detail;
    if (!ev || ev.topic !== topic) return;
    var d = ev.data || {};
    if (d.stats && d.routine) pending.routines[d.routine] = d.stats;
    if (ev.type === "routine_started") pending.active[d.routine] = true;
    if (ev.type === "routine_completed") pending.active[d.routine] = d.stats ? d.stats.active : false;
    if (ev.type === "slot_queue_update") pending.slots[d.routine + "." + d.slot] = d;
    if (ev.type === "trace_append") pending.trace = pending.trace.concat(d.entries).slice(-MAX_TRACE_ROWS);
    if (ev.type === "job_status_change") pending.status = d["new"];
    if (ev.type === "job_started" || (ev.type.indexOf("routine_") === 0 && !pending.status && shownStatus() === "pending")) {
      pending.status = "running";
    }
    if (ev.type === "job_completed") {
      pending.status = d.status; pending.error = d.error;
      // the final state (persisted trace, counts) comes from the server
      refreshSoon();
    }
    // breakpoints and pauses change what the panel offers: take it from the server
    if (ev.type === "breakpoint_hit" || (ev.type === "job_status_change" && (d["new"] === "paused" || d.old === "paused"))) refreshSoon();
    schedule();
  });

  var refreshTimer = null;
  function refreshSoon() {  // after the worker's next snapshot
    window.clearTimeout(refreshTimer);
    refreshTimer = window.setTimeout(function () { htmx.trigger(panel(), "flowrun:refresh", {}); }, 400);
  }

  function shownStatus() {
    var badge = document.getElementById("run-status");
    return badge ? badge.textContent : "";
  }

  // events sent before this socket subscribed are in the snapshot: catch up once subscribed
  document.addEventListener("forgeline:subscribed", function (e) {
    if (e.detail.indexOf(topic) >= 0) refreshSoon();
  });

  function text(el, value) { if (el && el.textContent !== String(value)) el.textContent = value; }

  function apply() {
    scheduled = false;
    var root = panel();
    if (!root) return;
    Object.keys(pending.routines).forEach(function (rid) {
      var s = pending.routines[rid];
      var node = root.querySelector('[data-routine="' + CSS.escape(rid) + '"]');
      if (node) {
        node.setAttribute("class", "routine status-" + s.status + (s.active ? " active" : ""));
        text(node.querySelector(".r-status"), s.status);
        text(node.querySelector(".r-exec"), s.executions);
        text(node.querySelector(".r-errors"), s.errors);
      }
      var row = root.querySelector('[data-routine-row="' + CSS.escape(rid) + '"]');
      if (row) {
        text(row.querySelector(".r-status"), s.status);
        text(row.querySelector(".r-exec"), s.executions);
        text(row.querySelector(".r-errors"), s.errors);
        text(row.querySelector(".r-items"), s.items_in);
      }
    });
    Object.keys(pending.slots).forEach(function (key) {
      var q = pending.slots[key];
      var bar = root.querySelector('[data-slot="' + CSS.escape(key) + '"]');
      if (!bar) return;
      var full = parseFloat(bar.dataset.full);
      bar.setAttribute("width", (full * Math.min(q.usage_percentage, 1)).toFixed(1));
      bar.setAttribute("class", "bar pressure-" + q.pressure_level);
      text(bar.querySelector("title"), key + ": " + q.unconsumed_count + "/" + q.max_length + " (" + q.pressure_level + ")");
    });
    if (pending.trace.length) {
      var body = root.querySelector("#trace-body");
      var empty = body.querySelector(".empty-row");
      if (empty) empty.remove();
      pending.trace.forEach(function (e) {
        var tr = document.createElement("tr");
        [e.seq, e.routine, e.status, e.items, (e.duration * 1000).toFixed(0) + " ms", e.error || ""].forEach(function (v, i) {
          var td = document.createElement("td");
          td.textContent = v;
          if (i === 0 || i === 3 || i === 4) td.className = "num";
          tr.appendChild(td);
        });
        body.appendChild(tr);
      });
      while (body.children.length > MAX_TRACE_ROWS) body.removeChild(body.firstChild);
    }
    var activeNow = Array.prototype.map.call(root.querySelectorAll(".routine.active"), function (n) { return n.dataset.routine; });
    text(root.querySelector("#run-active"), activeNow.join(", ") || "none");
    if (pending.status) {
      var badge = root.querySelector("#run-status");
      text(badge, pending.status);
      badge.className = "badge badge-" + pending.status;
      showControls(pending.status);
    }
    if (pending.error) {
      var err = root.querySelector("#run-error");
      err.hidden = false;
      text(err, pending.error);
    }
    pending = { routines: {}, slots: {}, trace: [], status: null, error: null, active: {} };
  }

  // the controls the run's status allows (none once it has ended), also after the panel is re-fetched
  function showControls(status) {
    var card = document.getElementById("run-controls");
    if (!card) return;
    var allowed = JSON.parse(card.dataset.controls)[status];
    if (!allowed) return;
    card.hidden = allowed.length === 0;
    card.querySelectorAll("form[data-control]").forEach(function (form) {
      form.hidden = allowed.indexOf(form.dataset.control) < 0;
    });
  }
  document.addEventListener("htmx:afterSwap", function () { showControls(shownStatus()); });

  // the breakpoint form sends the kind of the target chosen
  document.addEventListener("change", function (e) {
    if (e.target.name !== "target" || !e.target.closest("#breakpoint-form")) return;
    e.target.form.kind.value = e.target.selectedOptions[0].dataset.kind;
  });

  // the routine panel shows the routine last clicked in the graph, also after the panel is re-fetched
  var selected = null;
  function showSelected() {
    if (!selected) return;
    document.querySelectorAll("[data-routine-info]").forEach(function (info) {
      info.hidden = info.dataset.routineInfo !== selected;
    });
  }
  document.addEventListener("click", function (e) {
    var node = e.target.closest && e.target.closest("[data-routine]");
    if (!node) return;
    selected = node.dataset.routine;
    showSelected();
  });
  document.addEventListener("htmx:afterSettle", showSelected);
})();
