/* The ticket page (/ticket/<number>): a push that names this ticket re-renders the page's
 * body (the Dash callback behind ticket-refresh reads it again), the step buttons go to the
 * API through MinshengSteps, and the reveal asks the API for the citizen in full (audited). */
(function () {
  "use strict";

  function start(config) {
    var refreshes = 0, loaded = false;
    var row = config.row;
    function message(text, bad) {
      var el = document.getElementById("ticket-message");
      if (el) { el.textContent = text; el.className = "work-message" + (bad ? " work-message-bad" : ""); }
    }
    function refresh() {
      refreshes += 1;
      MinshengLive.setProps("ticket-refresh", {data: refreshes}, "ticket-page");  // a Store: no element
    }
    function version() {  // the body's, once a push re-rendered it
      var body = document.getElementById("ticket-body");
      return body ? Number(body.getAttribute("data-version")) || row.version : row.version;
    }
    document.addEventListener("click", function (ev) {
      var button = ev.target.closest ? ev.target.closest("#ticket-actions button[data-step]") : null;
      if (button && row) {
        var current = {number: row.number, version: version(), title: row.title, unit_code: row.unit_code};
        var step = button.getAttribute("data-step");
        if (step === "order") {  // 督办单: its text prefilled, to the supervision endpoint
          current.prefill = {note: MinshengLive.format(config.text.order_prefill_ticket || "",
                                                       {number: row.number, title: row.title})};
          MinshengSteps.ask("order", current, config, function (body) {
            MinshengSteps.post("/api/v1/tickets/" + encodeURIComponent(row.number) + "/supervision?lang=" + config.lang,
                               {note: body.note || ""}, config.lang).then(function (answer) {
              var error = (answer.json && answer.json.error) || {};
              message(answer.ok ? MinshengLive.format(config.text.saved, {step: config.text.steps.order})
                                : MinshengLive.format(config.text.failed, {message: error.message || answer.status}), !answer.ok);
              refresh();
            });
          });
          return;
        }
        MinshengSteps.ask(step, current, config, function (body) {
          MinshengSteps.send(step, current, body, config, function (ok, stale, text) {
            message(text, !ok);
            refresh();
          });
        });
      }
      if (ev.target.id === "ticket-reveal" && row) {
        MinshengSteps.post("/api/v1/tickets/" + encodeURIComponent(row.number) + "/reveal?lang=" + config.lang, {},
                           config.lang).then(function (answer) {
          var el = document.getElementById("ticket-citizen");
          if (answer.ok && el) { el.textContent = answer.json.name + " " + answer.json.phone; ev.target.remove(); }
          else if (!answer.ok) { message(answer.json.error ? answer.json.error.message : String(answer.status), true); }
        });
      }
    });
    if (!config.number) { return; }
    MinshengLive.connect({
      scoped: true, ready: "ticket-body", lang: config.lang,
      load: function () {
        return fetch("/api/v1/live/position", {credentials: "same-origin"}).then(function (r) { return r.json(); });
      },
      snapshot: function () { if (loaded) { refresh(); } loaded = true; },  // a resync: read it again
      message: function (msg, events) {
        if (events.some(function (e) { return e.number === config.number; })) { refresh(); }
      },
      flush: function () {},
      connection: function (ok) {
        var el = document.getElementById("ticket-conn");
        if (el) { el.textContent = config.text[ok ? "live" : "down"]; el.className = "conn " + (ok ? "conn-ok" : "conn-down"); }
      }
    });
  }

  MinshengLive.screen("ticket", start);
})();
