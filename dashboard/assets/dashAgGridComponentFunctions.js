/* Cell renderers of the work queues' grids (dash-ag-grid reads this global by name).
 * They render from the row and the page's words (window.MinshengQueue.config); the
 * countdown is refreshed every second by assets/queue.js. */
(function () {
  "use strict";
  var dagcomponentfuncs = (window.dashAgGridComponentFunctions = window.dashAgGridComponentFunctions || {});
  var h = function () { return window.React.createElement.apply(null, arguments); };
  function Q() { return window.MinshengQueue; }
  function label(table, code) {
    var c = Q() && Q().config, t = c ? (c.labels[table] || {}) : {};
    return t[code] || code || "";
  }

  dagcomponentfuncs.Countdown = function (props) {
    var q = Q(), row = props.data;
    if (!q || !q.config || !row) { return null; }
    var c = q.clockOf(row, Date.now());
    var which = row.clock ? q.config.text[row.clock] : "";
    return h("span", {className: "countdown countdown-" + c.state, "data-ms": String(c.ms)},
             h("span", {className: "countdown-clock"}, which), " ", h("span", {className: "countdown-time"}, c.text),
             c.paused ? h("span", {className: "countdown-paused", title: q.config.text.paused_why}, q.config.text.paused)
                      : null);
  };

  dagcomponentfuncs.TicketLink = function (props) {
    var lang = Q() && Q().config ? Q().config.lang : "zh-CN";
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
})();
