// The ECO page: emit_event notices for this ECO, shown as they arrive (the panel re-reads itself on
// every event). The list names the ECO's topic in data-topic.
(function () {
  // a done or canceled ECO takes no new activities: the form outside the live panel goes when it closes
  document.addEventListener("htmx:afterSwap", function () {
    var panel = document.getElementById("eco-panel"), card = document.getElementById("add-activity-card");
    if (panel && card) card.hidden = panel.dataset.closed === "true";
  });

  var list = document.getElementById("eco-notices");
  if (!list) return;
  var topic = list.dataset.topic;
  document.addEventListener("forgeline:event", function (e) {
    var event = e.detail;
    if (event.topic !== topic || event.type === "eco_event" || event.type === "rule_run") return;
    var empty = document.getElementById("no-notices");
    if (empty) empty.remove();
    var item = document.createElement("li");
    item.dataset.type = event.type;
    item.textContent = event.type + ": " + (event.data.message || "") + " (" + event.data.rule + ", " +
      event.data.from + " → " + event.data.to + ")";
    list.prepend(item);
  });
})();
