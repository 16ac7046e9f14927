/* Cell renderers of the work screens' grids (dash-ag-grid reads this global by name): the
 * queues (assets/queue.js) and the duty console (assets/duty.js). They render from the row
 * and the page's words (its screen's config); the countdowns are refreshed every second. */
(function () {
  "use strict";
  var dagcomponentfuncs = (window.dashAgGridComponentFunctions = window.dashAgGridComponentFunctions || {});
  var h = function () { return window.React.createElement.apply(null, arguments); };
  function Q() { return window.MinshengQueue; }
  function D() { return window.MinshengDuty; }
  function page() {  // the config of whichever work screen this is
    return (Q() && Q().config) || (D() && D().config) || null;
  }
  function label(table, code) {
    var c = page(), t = c ? (c.labels[table] || {}) : {};
    return t[code] || code || "";
  }
  function say(key, params) { var c = page(); return c ? MinshengLive.format(c.text[key] || key, params || {}) : ""; }
  function time(iso) { return MinshengLive.time(iso, page().timezone, "minute"); }

  dagcomponentfuncs.Countdown = function (props) {
    var clock = window.MinshengClock, row = props.data;
    if (!clock || !clock.config || !row) { return null; }
    var c = clock.of(row, Date.now()), words = clock.config.text;
    var which = row.clock ? words[row.clock] : "";
    return h("span", {className: "countdown countdown-" + c.state, "data-ms": String(c.ms)},
             h("span", {className: "countdown-clock"}, which), " ", h("span", {className: "countdown-time"}, c.text),
             c.paused ? h("span", {className: "countdown-paused", title: words.paused_why}, words.paused) : null);
  };

  dagcomponentfuncs.TicketLink = function (props) {
    var lang = page() ? page().lang : "zh-CN";
    return h("a", {href: "/ticket/" + encodeURIComponent(props.value) + "?lang=" + lang, className: "ticket-link"},
             props.value);
  };

  dagcomponentfuncs.Label = function (props) {
    return h("span", null, label(props.table || (props.colDef.cellRendererParams || {}).table, props.value));
  };

  dagcomponentfuncs.Status = function (props) {
    return h("span", {className: "status status-" + props.value}, label("statuses", props.value));
  };

  dagcomponentfuncs.Place = function (props) {
    var row = props.data || {};
    return h("span", {title: row.address || ""}, [row.district, row.address].filter(Boolean).join(" · "));
  };

  dagcomponentfuncs.Citizen = function (props) {
    var row = props.data || {};
    return h("span", {className: "citizen"}, [row.citizen, row.phone].filter(Boolean).join(" "));
  };

  dagcomponentfuncs.Actions = function (props) {
    var q = Q(), row = props.data || {};
    if (!q || !q.config) { return null; }
    return h("span", {className: "actions"}, (row.allowed_steps || []).map(function (step) {
      return h("button", {
        key: step, className: "step step-" + step, "data-step": step, "data-number": row.number,
        onClick: function () { q.act(step, row.number); }
      }, q.config.text.steps[step] || step);
    }));
  };

  /* ---------------------------------------------------- the duty console */
  dagcomponentfuncs.DutyState = function (props) {
    return h("span", {className: "status duty-state duty-state-" + props.value}, say("state_" + props.value));
  };

  dagcomponentfuncs.Supervision = function (props) {
    var o = props.value || {state: "none"}, row = props.data || {}, parts = [];
    parts.push(h("span", {key: "s", className: "order order-" + o.state}, say("order_" + o.state, {number: o.number})));
    if (o.number) {
      if (o.automatic) { parts.push(h("span", {key: "a", className: "order-auto"}, say("automatic"))); }
      parts.push(h("a", {key: "p", className: "order-pdf", target: "_blank", rel: "noopener",
                         href: "/api/v1/supervision/orders/" + encodeURIComponent(o.number) + ".pdf"}, say("pdf")));
    }
    if (row.letter) {
      parts.push(h("span", {key: "l", className: "letter", title: row.letter.number},
                   say("letter") + (row.letter.automatic ? " · " + say("automatic") : "")));
    }
    return h("span", {className: "supervision", title: [o.number, o.answer].filter(Boolean).join(" · ")}, parts);
  };

  dagcomponentfuncs.Acknowledged = function (props) {
    var a = props.value, row = props.data || {};
    if (!D() || !D().holds(row, Date.now())) { return h("span", {className: "ack ack-none"}, say("not_taken")); }
    return h("span", {className: "ack ack-taken", title: a.note || ""},
             h("span", null, say("taken", {name: a.name, at: time(a.at)})),
             row.version > a.ticket_version ? null : h("span", {className: "ack-lapse"}, say("lapses", {at: time(a.lapses_at)})));
  };

  dagcomponentfuncs.DutyActions = function (props) {
    var d = D(), row = props.data || {};
    if (!d || !d.config) { return null; }
    // (A lapsing acknowledgement makes duty.js fetch the row again: its steps come back with it.)
    return h("span", {className: "actions"}, (row.allowed_steps || []).map(function (step) {
      return h("button", {
        key: step, className: "step step-" + step + (step === "acknowledge" ? " step-primary" : ""),
        "data-step": step, "data-row": row.id, "data-number": row.number,
        onClick: function () { d.act(step, row.id); }
      }, d.config.text.steps[step] || step);
    }));
  };
})();
