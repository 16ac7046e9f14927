/* The work queues (/desk, /dispatch): rows by push, steps through the API.
 *
 * The page starts with its rows (layouts/queue.py) and the live position they were read
 * after. Pushes come on the scoped stream (MinshengLive.connect({scoped: true})): a frame
 * names the tickets that changed in this user's units; their rows are fetched again from
 * /api/v1/queues/<screen>?numbers=… and applied as one AG Grid transaction (update what is
 * there, add what is new, remove what left the queue). A gap or a reconnect reloads the
 * whole queue. Countdowns are refreshed every second from each row's deadline
 * (assets/clock.js), so the server sends changes, never ticks. A step is a POST to
 * /api/v1/tickets/<number>/<step> with the row's version and an Idempotency-Key.
 */
(function () {
  "use strict";
  var TICK_MS = 1000;

  var Q = window.MinshengQueue = {config: null, screen: null, api: null, live: null, applied: 0,
                                  pending: {}, fetching: false, filter: "", lastApply: null};

  function text(key, params) { return MinshengLive.format(Q.config.text[key] || key, params || {}); }
  function label(table, code) { var t = Q.config.labels[table] || {}; return t[code] || code || ""; }

  /* ---------------------------------------------------- time left (assets/clock.js) */
  function clockOf(row, now) { return MinshengClock.of(row, now); }
  Q.clockOf = clockOf;

  /* ---------------------------------------------------- the grid */
  function counts() {
    if (!Q.api) { return; }
    var n = {breached: 0, amber: 0, ok: 0}, now = Date.now();
    Q.api.forEachNode(function (node) {
      var c = clockOf(node.data, now).state;
      n[c === "none" ? "ok" : c] += 1;
    });
    ["breached", "amber", "ok"].forEach(function (k) {
      var el = document.getElementById(Q.screen + "-count-" + k);
      if (el) { el.textContent = String(n[k]); }
    });
  }
  function tick() {
    if (!Q.api) { return; }
    Q.api.refreshCells({columns: ["countdown"], force: true});
    counts();
  }
  function message(msg, bad) {
    var el = document.getElementById(Q.screen + "-message");
    if (!el) { return; }
    el.textContent = msg;
    el.className = "work-message" + (bad ? " work-message-bad" : "");
  }

  function queueUrl(numbers) {
    return "/api/v1/queues/" + Q.screen + "?lang=" + encodeURIComponent(Q.config.lang) +
      (numbers ? "&numbers=" + encodeURIComponent(numbers.join(",")) : "");
  }
  function getJson(url) {
    return fetch(url, {credentials: "same-origin"}).then(function (r) {
      if (!r.ok) { throw new Error("HTTP " + r.status); }
      return r.json();
    });
  }

  // Fetch the rows a push named and apply them as one transaction.
  function refresh() {
    var numbers = Object.keys(Q.pending);
    if (!numbers.length || Q.fetching || !Q.api) { return; }
    Q.pending = {};
    Q.fetching = true;
    getJson(queueUrl(numbers)).then(function (body) {
      var found = {}, update = [], add = [], remove = [];
      body.rows.forEach(function (row) {
        found[row.number] = true;
        (Q.api.getRowNode(row.number) ? update : add).push(row);
      });
      numbers.forEach(function (n) {
        if (!found[n] && Q.api.getRowNode(n)) { remove.push({number: n}); }
      });
      var started = performance.now();
      Q.api.applyTransaction({update: update, add: add, remove: remove});
      Q.applied += update.length + add.length + remove.length;
      counts();
      // How long the change took to reach the screen: until the frame after it is painted.
      requestAnimationFrame(function () { Q.lastApply = {rows: update.length + add.length + remove.length,
                                                          ms: performance.now() - started, at: Date.now()}; });
    }).catch(function () {
      numbers.forEach(function (n) { Q.pending[n] = true; });  // try again on the next flush
    }).then(function () { Q.fetching = false; });
  }

  /* ---------------------------------------------------- steps */
  function send(step, row, body) {
    MinshengSteps.send(step, row, body, Q.config, function (ok, stale, msg) {
      Q.pending[row.number] = true;
      message(msg, !ok);
      refresh();
    });
  }

  Q.act = function (step, number) {
    var node = Q.api && Q.api.getRowNode(number);
    if (!node) { return; }
    var row = node.data;
    MinshengSteps.ask(step, row, Q.config, function (body) { send(step, row, body); });
  };

  /* ---------------------------------------------- duplicate suggestions */
  function suggestionItem(s) {
    var li = document.createElement("li");
    li.className = "suggestion";
    li.setAttribute("data-suggestion", String(s.id));
    var what = document.createElement("div");
    what.className = "suggestion-what";
    what.textContent = s.number + " ≈ " + s.candidate + " · " + Math.round(s.score * 100) + "%";
    var why = document.createElement("div");
    why.className = "suggestion-why";
    why.textContent = s.title + " / " + s.candidate_title + " · " + s.reasons.join("；");
    li.appendChild(what);
    li.appendChild(why);
    [["merge", text("merge_it")], ["reject", text("not_duplicate")]].forEach(function (b) {
      var button = document.createElement("button");
      button.className = "step" + (b[0] === "merge" ? " step-primary" : "");
      button.setAttribute("data-decide", b[0]);
      button.textContent = b[1];
      button.onclick = function () {
        MinshengSteps.post("/api/v1/suggestions/" + s.id + "/" + b[0] + "?lang=" + Q.config.lang, {}, Q.config.lang)
          .then(function (answer) {
          if (answer.ok) { li.remove(); message(text("saved", {step: b[1]})); }
          else { message(text("failed", {message: answer.json.error ? answer.json.error.message : answer.status}), true); }
          Q.pending[s.number] = true;
          refresh();
        });
      };
      li.appendChild(button);
    });
    return li;
  }
  function showSuggestions(list) {
    var ul = document.getElementById(Q.screen + "-suggestions");
    if (!ul || !list) { return; }
    ul.innerHTML = "";
    list.forEach(function (s) { ul.appendChild(suggestionItem(s)); });
  }

  /* ---------------------------------------------------- filters */
  function filterButtons() {
    ["all", "breached", "amber"].forEach(function (k) {
      var button = document.getElementById(Q.screen + "-filter-" + k);
      if (!button || button.getAttribute("data-wired")) { return; }
      button.setAttribute("data-wired", "1");
      button.addEventListener("click", function () {
        Q.filter = button.getAttribute("data-clock") || "";
        ["all", "breached", "amber"].forEach(function (j) {
          var b = document.getElementById(Q.screen + "-filter-" + j);
          if (b) { b.className = "filter" + (b === button ? " filter-on" : ""); }
        });
        if (Q.api) { Q.api.onFilterChanged(); }
      });
    });
  }

  /* ---------------------------------------------------- start */
  function start(config) {
    Q.config = config;
    MinshengClock.use(config);
    Q.screen = config.screen;
    var gridId = Q.screen + "-grid";
    var firstLoad = true;
    window.dash_ag_grid.getApiAsync(gridId).then(function (api) {
      Q.api = api;
      api.setGridOption("isExternalFilterPresent", function () { return !!Q.filter; });
      api.setGridOption("doesExternalFilterPass", function (node) {
        return clockOf(node.data, Date.now()).state === Q.filter;
      });
      filterButtons();
      showSuggestions(config.suggestions);
      counts();
      setInterval(tick, TICK_MS);
      Q.live = MinshengLive.connect({
        scoped: true, ready: gridId, lang: config.lang,
        load: function () { return getJson(queueUrl(null)); },
        snapshot: function (s) {
          // The page's own rows were read at config.position: a first snapshot at the same
          // position has nothing new, and 10,000 rows need not be laid out twice.
          if (!(firstLoad && s.seq === config.position.seq && s.epoch === config.position.epoch)) {
            api.setGridOption("rowData", s.rows);
            if (s.suggestions) { showSuggestions(s.suggestions); }
          }
          firstLoad = false;
          counts();
        },
        message: function (msg, events) {
          events.forEach(function (e) { if (e.number) { Q.pending[e.number] = true; } });
        },
        flush: refresh,
        connection: function (ok) {
          var el = document.getElementById(Q.screen + "-conn");
          if (el) {
            el.textContent = config.text[ok ? "live" : "down"];
            el.className = "conn " + (ok ? "conn-ok" : "conn-down");
          }
        }
      });
    });
  }

  MinshengLive.screen("desk", start);
  MinshengLive.screen("dispatch", start);
})();
