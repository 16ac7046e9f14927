/* 值班台 (/duty): breaches and near-breaches by push, acknowledged and supervised in one click.
 *
 * The page starts with its rows (layouts/duty.py) read after config.position. Pushes come on
 * the scoped stream (MinshengLive.connect({scoped: true})): a frame names the tickets that
 * changed or whose clock turned amber or breached; their rows are fetched again from
 * /api/v1/duty?numbers=… and applied as one AG Grid transaction (a ticket's rows that did not
 * come back have left the watch). Row ids are "<number>:<clock>". A gap or a reconnect
 * reloads everything, so three breaches missed while the network was down show, once each.
 *
 * Attention: a row newly breached and not taken (or whose acknowledgement lapsed) flashes
 * once; such rows sound once per flush, however many, unless this browser muted the console;
 * when one unit has digest_threshold or more at once they come as one digest line. The
 * page's title counts the breached rows nobody has taken. An acknowledgement lapses in the
 * browser at its instant (unless the ticket moved), so every console shows it return together.
 */
(function () {
  "use strict";
  var TICK_MS = 1000, ALERTS_MS = 30000, PREDICTED_MS = 60000, MUTE_KEY = "minsheng.duty.muted";

  var D = window.MinshengDuty = {config: null, api: null, live: null, pending: {}, fetching: false,
                                 seen: {}, taken: {}, sounds: 0, flashes: 0, digests: 0, applied: 0,
                                 lastApply: null, filter: {state: "", clock: "", branch: "", topic: ""}};

  function text(key, params) { return MinshengLive.format(D.config.text[key] || key, params || {}); }
  function message(msg, bad) {
    var el = document.getElementById("duty-message");
    if (el) { el.textContent = msg; el.className = "work-message" + (bad ? " work-message-bad" : ""); }
  }
  function getJson(url) {
    return fetch(url, {credentials: "same-origin"}).then(function (r) {
      if (!r.ok) { throw new Error("HTTP " + r.status); }
      return r.json();
    });
  }
  function rowsUrl(numbers) {
    return "/api/v1/duty?lang=" + encodeURIComponent(D.config.lang) +
      (numbers ? "&numbers=" + encodeURIComponent(numbers.join(",")) : "");
  }

  /* ------------------------------------------------------ acknowledgement */
  // An acknowledgement holds until it lapses, or for good once the ticket moved past it.
  var holds = D.holds = function (row, now) {
    var a = row.acknowledged;
    return !!a && (now < Date.parse(a.lapses_at) || row.version > a.ticket_version);
  };
  function needsAttention(row, now) { return row.state === "breached" && !holds(row, now); }

  /* ------------------------------------------------------ sound, title, digest */
  function muted() { try { return window.localStorage.getItem(MUTE_KEY) === "1"; } catch (e) { return false; } }
  function soundButton() {
    var b = document.getElementById("duty-sound");
    if (!b) { return; }
    b.textContent = text(muted() ? "sound_off" : "sound_on");
    b.className = "sound-switch" + (muted() ? " sound-off" : "");
    if (!b.getAttribute("data-wired")) {
      b.setAttribute("data-wired", "1");
      b.addEventListener("click", function () {
        try { window.localStorage.setItem(MUTE_KEY, muted() ? "0" : "1"); } catch (e) { /* private mode */ }
        soundButton();
      });
    }
  }
  function sound() {
    D.sounds += 1;  // requested (a test counts these; a muted console requests none)
    var audio = new Audio("/assets/duty-alert.wav");
    var played = audio.play();
    if (played && played.catch) { played.catch(function () { /* autoplay refused before a click */ }); }
  }
  function title() {
    var n = 0, now = Date.now();
    if (D.api) { D.api.forEachNode(function (node) { if (needsAttention(node.data, now)) { n += 1; } }); }
    document.title = (n ? "(" + n + ") " : "") + D.config.text.title;
  }
  function attend(nodes) {
    if (!nodes.length) { return; }
    if (!muted()) { sound(); }
    D.flashes += nodes.length;
    // After the grid has laid the rows out (a reloaded grid has not yet).
    requestAnimationFrame(function () { D.api.flashCells({rowNodes: nodes, flashDuration: 1200, fadeDuration: 800}); });
    var byUnit = {};
    nodes.forEach(function (n) { var u = n.data.unit_name || "—"; (byUnit[u] = byUnit[u] || []).push(n); });
    var threshold = Math.max(2, D.config.rules.digest_threshold || 3), lines = [];
    Object.keys(byUnit).forEach(function (u) {
      if (byUnit[u].length >= threshold) { lines.push(text("digest", {unit: u, count: byUnit[u].length})); }
    });
    if (lines.length) {
      D.digests += lines.length;
      var el = document.getElementById("duty-digest");
      if (el) { el.textContent = lines.join("；"); el.className = "duty-digest duty-digest-on"; }
    }
  }

  /* ------------------------------------------------------ counts, filters */
  function counts() {
    if (!D.api) { return; }
    var n = {breached: 0, amber: 0, open: 0, supervised: 0}, now = Date.now();
    D.api.forEachNode(function (node) {
      var r = node.data;
      n[r.state] += 1;
      if (!holds(r, now)) { n.open += 1; }
      if (r.order && (r.order.state === "open" || r.order.state === "overdue")) { n.supervised += 1; }
    });
    Object.keys(n).forEach(function (k) {
      var el = document.getElementById("duty-count-" + k);
      if (el) { el.textContent = String(n[k]); }
    });
    title();
  }
  function passes(row) {
    var f = D.filter;
    return (!f.state || row.state === f.state) && (!f.clock || row.clock === f.clock) &&
      (!f.branch || row.branch_code === f.branch) && (!f.topic || row.topic === f.topic);
  }
  function wireFilters() {
    ["state", "clock"].forEach(function (group) {
      var buttons = document.querySelectorAll("[data-group='" + group + "']");
      Array.prototype.forEach.call(buttons, function (b) {
        b.addEventListener("click", function () {
          D.filter[group] = b.getAttribute("data-value") || "";
          Array.prototype.forEach.call(buttons, function (o) { o.className = "filter" + (o === b ? " filter-on" : ""); });
          D.api.onFilterChanged();
        });
      });
    });
    ["branch", "topic"].forEach(function (k) {
      var select = document.getElementById("duty-" + k);
      if (select) { select.addEventListener("change", function () { D.filter[k] = select.value; D.api.onFilterChanged(); }); }
    });
  }

  /* ------------------------------------------------------ applying pushes */
  function remember(rows) {  // what this browser has already called attention to
    var now = Date.now();
    rows.forEach(function (r) {
      D.seen[r.id + ":" + r.state] = true;
      if (holds(r, now)) { D.taken[r.id] = true; }
    });
  }
  function refresh() {
    var numbers = Object.keys(D.pending);
    if (!numbers.length || D.fetching || !D.api) { return; }
    D.pending = {};
    D.fetching = true;
    getJson(rowsUrl(numbers)).then(function (body) {
      var wanted = {}, update = [], add = [], remove = [], fresh = [], now = Date.now();
      numbers.forEach(function (n) { wanted[n] = true; });
      body.rows.forEach(function (row) {
        var node = D.api.getRowNode(row.id);
        (node ? update : add).push(row);
        // New to this browser in this state, or taken before and lapsed: call attention.
        var lapsed = D.taken[row.id] && !holds(row, now);
        if (needsAttention(row, now) && (!D.seen[row.id + ":" + row.state] || lapsed)) { fresh.push(row.id); }
        if (lapsed) { delete D.taken[row.id]; }
      });
      var back = {};
      body.rows.forEach(function (r) { back[r.id] = true; });
      D.api.forEachNode(function (node) {
        if (wanted[node.data.number] && !back[node.data.id]) { remove.push({id: node.data.id}); }
      });
      var started = performance.now();
      // What calls for attention goes on top (the news), the rest where it was or at the end.
      var top = {};
      fresh.forEach(function (id) { top[id] = true; });
      var first = body.rows.filter(function (r) { return top[r.id]; });
      D.api.applyTransaction({update: update.filter(function (r) { return !top[r.id]; }),
                              add: add.filter(function (r) { return !top[r.id]; }),
                              remove: remove.concat(update.filter(function (r) { return top[r.id]; })
                                                          .map(function (r) { return {id: r.id}; }))});
      if (first.length) { D.api.applyTransaction({add: first, addIndex: 0}); }
      D.applied += update.length + add.length + remove.length;
      remember(body.rows);
      attend(fresh.map(function (id) { return D.api.getRowNode(id); }).filter(Boolean));
      counts();
      requestAnimationFrame(function () {
        D.lastApply = {rows: update.length + add.length + remove.length, ms: performance.now() - started, at: Date.now()};
      });
    }).catch(function () {
      numbers.forEach(function (n) { D.pending[n] = true; });  // again on the next flush
    }).then(function () { D.fetching = false; });
  }
  function tick() {
    if (!D.api) { return; }
    var now = Date.now();
    D.api.forEachNode(function (node) {  // an acknowledgement lapsing now: fetch the row as it is
      var r = node.data;
      if (r.acknowledged && !holds(r, now) && !D.pending[r.number]) { D.pending[r.number] = true; }
    });
    refresh();
    D.api.refreshCells({columns: ["countdown", "acknowledged"], force: true});
    counts();
  }

  /* ------------------------------------------------------ steps */
  function done(row) {
    return function (ok, stale, msg) {
      D.pending[row.number] = true;
      message(msg, !ok);
      refresh();
    };
  }
  D.act = function (step, id) {
    var node = D.api && D.api.getRowNode(id);
    if (!node) { return; }
    var row = node.data, config = D.config;
    if (step === "acknowledge") {
      MinshengSteps.ask("acknowledge", row, config, function (body) {
        body.clock = row.clock;
        MinshengSteps.send("acknowledge", row, body, config, done(row));
      });
    } else if (step === "order") {
      var late = Math.max(0, Math.floor((Date.now() - Date.parse(row.due_at)) / 60000));
      var draft = Object.assign({}, row, {prefill: {note: text("order_prefill", {
        number: row.number, title: row.title, clock: config.text[row.clock], late: late})}});
      MinshengSteps.ask("order", draft, config, function (body) {
        MinshengSteps.post("/api/v1/tickets/" + encodeURIComponent(row.number) + "/supervision?lang=" + config.lang,
                           {note: body.note || ""}, config.lang).then(function (answer) {
          var error = (answer.json && answer.json.error) || {};
          done(row)(answer.ok, false, answer.ok ? text("saved", {step: config.text.steps.order})
                                                : text("failed", {message: error.message || answer.status}));
        });
      });
    } else if (step === "remind") {
      MinshengSteps.ask("remind", row, config, function (body) {
        MinshengSteps.send("remind", row, body, config, done(row));
      });
    }
  };

  /* ------------------------------------------------------ early warnings */
  function alertItem(a) {
    var li = document.createElement("li");
    li.className = "duty-alert duty-alert-" + a.kind + (a.acknowledged_at ? " duty-alert-taken" : "");
    li.setAttribute("data-alert", String(a.id));
    var head = document.createElement("div");
    head.className = "duty-alert-what";
    var topic = (D.config.labels.topics || {})[a.topic] || a.topic_label;
    head.textContent = text(a.kind === "surge" ? "kind_surge" : "kind_recurring") + " · " + topic + " · " +
      (a.area_name || "") + (a.acknowledged_at ? " · " + text("alert_taken") : "");
    var why = document.createElement("div");
    why.className = "duty-alert-why";
    why.textContent = (a.baseline !== null ? text("alert_evidence", {count: a.count, baseline: a.baseline}) + " · " : "") +
      (a.unit_name || "") + " · " + MinshengLive.time(a.last_seen_at, D.config.timezone, "minute");
    li.appendChild(head);
    li.appendChild(why);
    var buttons = document.createElement("div");
    buttons.className = "duty-alert-buttons";
    function button(label, cls, fn) {
      var b = document.createElement("button");
      b.className = "step " + cls;
      b.textContent = label;
      b.onclick = fn;
      buttons.appendChild(b);
    }
    function post(action, body) {
      MinshengSteps.post("/api/v1/alerts/" + a.id + "/" + action + "?lang=" + D.config.lang, body, D.config.lang)
        .then(function (answer) {
          var error = (answer.json && answer.json.error) || {};
          message(answer.ok ? text("saved", {step: text(action === "close" ? "close_alert" : "acknowledge_alert")})
                            : text("failed", {message: error.message || answer.status}), !answer.ok);
          loadAlerts();
        });
    }
    if (!a.acknowledged_at) { button(text("acknowledge_alert"), "step-primary", function () { post("acknowledge", {}); }); }
    button(text("close_alert"), "", function () {
      var why = window.prompt(text("close_why"));
      if (why) { post("close", {note: why}); }
    });
    var map = document.createElement("a");
    map.href = "/map?lang=" + D.config.lang + "&topic=" + encodeURIComponent(a.topic);
    map.className = "duty-alert-map";
    map.textContent = text("on_map");
    buttons.appendChild(map);
    li.appendChild(buttons);
    return li;
  }
  function loadAlerts() {
    getJson("/api/v1/alerts?status=open&limit=100&lang=" + D.config.lang).then(function (body) {
      var ul = document.getElementById("duty-alerts");
      if (!ul) { return; }
      ul.innerHTML = "";
      if (!body.items.length) {
        var none = document.createElement("li");
        none.className = "duty-alert-none";
        none.textContent = text("alerts_none");
        ul.appendChild(none);
      }
      body.items.forEach(function (a) { ul.appendChild(alertItem(a)); });
    }).catch(function () { /* the next round tries again */ });
  }

  /* ------------------------------------------------------ predicted breaches */
  function predictedItem(p) {
    var li = document.createElement("li");
    li.className = "duty-predicted-item";
    li.setAttribute("data-number", p.number);
    var head = document.createElement("div");
    head.className = "duty-predicted-what";
    var link = document.createElement("a");
    link.href = "/ticket/" + encodeURIComponent(p.number) + "?lang=" + D.config.lang;
    link.className = "ticket-link";
    link.textContent = p.number;
    head.appendChild(link);
    head.appendChild(document.createTextNode(" · " + text("chance", {percent: Math.round(p.probability * 100) + "%"})));
    var why = document.createElement("div");
    why.className = "duty-predicted-why";
    var r = p.reason || {};
    var because = r.code === "backlog" ? text("why_backlog", {backlog: r.backlog, usual: r.usual_backlog})
      : r.code === "slow_unit" ? text("why_slow_unit", {late: r.late, history: r.history})
      : text("why_time_short", {left: r.left_hours, allowed: r.allowed_hours});
    why.textContent = (p.unit_name || "") + " · " + p.title + " · " + because;
    li.appendChild(head);
    li.appendChild(why);
    return li;
  }
  function loadPredicted() {
    getJson("/api/v1/duty/predicted?lang=" + D.config.lang).then(function (body) {
      var ul = document.getElementById("duty-predicted");
      if (!ul) { return; }
      ul.innerHTML = "";
      if (!body.items.length) {
        var none = document.createElement("li");
        none.className = "duty-alert-none";
        none.textContent = text("predicted_none");
        ul.appendChild(none);
      }
      body.items.slice(0, 20).forEach(function (p) { ul.appendChild(predictedItem(p)); });
    }).catch(function () { /* the next round tries again */ });
  }

  /* ------------------------------------------------------ calendar */
  // An admin's console only (the element is there for them): a year assumed Monday–Friday, and
  // what to do about it, until the year is loaded.
  function showCalendar(list) {
    var key = JSON.stringify(list || null);
    if (!list || key === D.calendarShown) { return; }  // every frame carries them: write on a change only
    if (MinshengLive.setProps("duty-calendar", {children: list.map(function (w) {
      return MinshengLive.el("P", "", MinshengLive.format(D.config.text.calendar_warnings[w.code] || w.code, w));
    })})) { D.calendarShown = key; }
  }

  /* ------------------------------------------------------ start */
  function start(config) {
    D.config = config;
    MinshengClock.use(config);
    soundButton();
    var firstLoad = true;
    window.dash_ag_grid.getApiAsync("duty-grid").then(function (api) {
      D.api = api;
      api.setGridOption("isExternalFilterPresent", function () {
        return !!(D.filter.state || D.filter.clock || D.filter.branch || D.filter.topic);
      });
      api.setGridOption("doesExternalFilterPass", function (node) { return passes(node.data); });
      wireFilters();
      var initial = [];
      api.forEachNode(function (node) { initial.push(node.data); });
      remember(initial);  // what was late when the page opened is not news
      counts();
      setInterval(tick, TICK_MS);
      loadAlerts();
      setInterval(loadAlerts, ALERTS_MS);
      loadPredicted();
      setInterval(loadPredicted, PREDICTED_MS);
      D.live = MinshengLive.connect({
        scoped: true, ready: "duty-grid", lang: config.lang,
        load: function () { return getJson(rowsUrl(null)); },
        snapshot: function (s) {
          if (!(firstLoad && s.seq === config.position.seq && s.epoch === config.position.epoch)) {
            // After a reconnect: every row as it is now; breaches missed meanwhile call attention.
            var now = Date.now(), fresh = [];
            s.rows.forEach(function (r) { if (needsAttention(r, now) && !D.seen[r.id + ":" + r.state]) { fresh.push(r.id); } });
            api.setGridOption("rowData", s.rows);
            remember(s.rows);
            attend(fresh.map(function (id) { return api.getRowNode(id); }).filter(Boolean));
          }
          firstLoad = false;
          counts();
        },
        message: function (msg, events) {
          events.forEach(function (e) { if (e.number) { D.pending[e.number] = true; } });
        },
        flush: refresh,
        connection: function (ok) {
          var el = document.getElementById("duty-conn");
          if (el) { el.textContent = config.text[ok ? "live" : "down"]; el.className = "conn " + (ok ? "conn-ok" : "conn-down"); }
        }
      });
      // Early warnings raised, acknowledged or closed elsewhere: the wall's stream carries them,
      // and the calendar warnings with every frame.
      D.live.socket.on("live", function (msg) {
        var frame = typeof msg === "string" ? JSON.parse(msg) : msg;
        if ((frame.events || []).some(function (e) { return e.event === "alert"; })) { loadAlerts(); }
        showCalendar(frame.warnings);
      });
    });
  }

  // Dash loads assets in name order: this file comes before live.js, so register once it is there.
  function register() { MinshengLive.screen("duty", start); }
  if (window.MinshengLive) { register(); } else { document.addEventListener("DOMContentLoaded", register); }
})();
