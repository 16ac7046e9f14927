/* The wall's own rendering, on the shared live module (live.js).
 *
 * From a snapshot and then from each pushed message: the counters, the unit
 * table, the ticker and the ticket-flow chart (patched, never redrawn whole),
 * the warnings, the connection state and the clock. Its words, the bureau's
 * time zone and its rules (which counters alarm, the rate bands, which units
 * are always listed, how many ticker rows) come in the config layouts/wall.py
 * renders into the live marker.
 */
(function () {
  "use strict";
  var MINUTE_MS = 60000;
  var L = window.MinshengLive;

  L.screen("wall", function (config) {
    var text = config.text;
    var tz = config.timezone;
    var state = {
      labels: null, channels: [], firstMinute: null, windowSize: 120, ticker: [],
      flowX: null, flowY: null, flowRepairs: 0, touched: null
    };
    var live;

    function minuteOf(iso) { return Math.floor(Date.parse(iso) / MINUTE_MS); }
    function hhmm(minute) { return L.time(new Date(minute * MINUTE_MS), tz, "minute"); }

    /* -------------------------------------------------------- counters */
    function showCounters(c) {
      config.counters.forEach(function (key) {
        if (c[key] === undefined) { return; }
        var alarm = config.alert_counters.indexOf(key) >= 0 && c[key] > 0;
        L.setProps("wall-count-" + key, {children: String(c[key]),
          className: "counter-value" + (alarm ? " counter-alert" : "")});
      });
    }

    /* ------------------------------------------------------ unit table */
    function pct(rate) { return rate === null || rate === undefined ? "—" : (rate * 100).toFixed(1) + "%"; }
    function band(rate) {
      if (rate === null || rate === undefined) { return config.bands.none; }
      for (var i = 0; i < config.bands.floors.length; i++) {
        if (rate >= config.bands.floors[i][0]) { return config.bands.floors[i][1]; }
      }
      return config.bands.below;
    }
    function showUnits(units) {
      if (!units) { return; }
      var rows = units.filter(function (u) {
        return config.unit_kinds_always.indexOf(u.kind) >= 0 || u.received > 0;
      });
      L.setProps("wall-units", {children: rows.map(function (u) {
        function td(cls, content) { return L.el("Td", cls, content); }
        return L.el("Tr", "unit-row", [
          td("col_unit", u.unit_name),
          td("col_received", String(u.received)),
          td("col_completion " + band(u.completion_rate), pct(u.completion_rate)),
          td("col_on_time " + band(u.on_time_rate), pct(u.on_time_rate)),
          td("col_satisfaction " + band(u.satisfaction_rate), pct(u.satisfaction_rate)),
          td("col_breaches" + (u.breaches_now > 0 ? " " + config.bands.below : ""), String(u.breaches_now))
        ], u.unit_code);
      })});
    }

    /* ---------------------------------------------------------- ticker */
    // The ticket's number leads to it: a link for someone who may open tickets, the number
    // alone on a kiosk (nobody at a wall clicks; the number is what the room reads out).
    function ticketNumber(number) {
      if (!config.ticket_links || !number) { return L.el("Span", "t-number", number); }
      return L.el("A", "t-number", number, undefined,
                  {href: "/ticket/" + encodeURIComponent(number) + "?lang=" + config.lang});
    }
    function tickerRow(item) {
      var ch = state.labels.channels_short[item.channel] || item.channel;
      var topic = state.labels.topics_short[item.topic] || item.topic;
      // Only rows that arrived in the last few seconds are highlighted.
      var fresh = item.shownAt && Date.now() - item.shownAt < 3000;
      return L.el("Li", "ticker-item" + (fresh ? " ticker-new" : ""), [
        L.el("Span", "t-time", L.time(item.received_at || item.at, tz, "second")),
        L.el("Span", "t-channel ch-" + item.channel, ch),
        L.el("Span", "t-topic", topic),
        // The station that must act says where, too; the district only while there is no unit.
        L.el("Span", "t-unit", item.unit_name || item.district || text.no_place),
        ticketNumber(item.number || "")
      ], item.number + ":" + item.event);
    }
    function showTicker() { L.setProps("wall-ticker", {children: state.ticker.map(tickerRow)}); }

    /* ------------------------------------------------------------ flow */
    // Move the window so it ends at `minute`; returns whether anything changed.
    function advanceTo(minute, patch) {
      if (state.firstMinute === null) { return false; }
      var last = state.firstMinute + state.windowSize - 1;
      if (minute <= last) { return false; }
      var add = Math.min(minute - last, state.windowSize);
      for (var k0 = 0; k0 < add; k0++) {
        state.flowX.push(hhmm(minute - add + 1 + k0));
        state.flowX.shift();
        state.channels.forEach(function (ch) { state.flowY[ch].push(0); state.flowY[ch].shift(); });
      }
      for (var i = 0; i < state.channels.length; i++) {
        for (var k = 0; k < add; k++) {
          patch.append(["data", i, "x"], hhmm(minute - add + 1 + k));
          patch.append(["data", i, "y"], 0);
        }
        for (var d = 0; d < add; d++) {
          patch.delete(["data", i, "x"], 0);
          patch.delete(["data", i, "y"], 0);
        }
      }
      state.firstMinute = minute - state.windowSize + 1;
      return true;
    }

    function countReceived(ticket, patch) {
      var minute = minuteOf(ticket.received_at);
      var changed = advanceTo(minute, patch);
      var idx = minute - state.firstMinute;
      var trace = state.channels.indexOf(ticket.channel);
      if (idx < 0 || trace < 0) { return changed; }
      state.flowY[ticket.channel][idx] += 1;
      patch.add(["data", trace, "y", idx], 1);
      return true;
    }

    // The whole window from the page's own copy (on a snapshot, and to repair).
    function assignFlow(patch) {
      state.channels.forEach(function (ch, i) {
        patch.assign(["data", i, "x"], state.flowX.slice());
        patch.assign(["data", i, "y"], state.flowY[ch].slice());
      });
    }

    // A patch that reaches dcc.Graph before it has mounted its figure can be lost
    // (about once in ten page loads): check what Plotly drew against the page's
    // copy and re-assign the window when they differ.
    function repairFlow() {
      var gd = document.querySelector("#wall-flow .js-plotly-plot");
      if (!gd || !state.flowX || live.loading || live.epoch === null) { return; }
      var drawn = gd.data || [];
      var ok = drawn.length === state.channels.length && drawn.every(function (trace, i) {
        var want = state.flowY[state.channels[i]];
        return trace.x && trace.x.length === state.flowX.length && trace.y &&
          trace.y.length === want.length && trace.y.every(function (v, j) { return v === want[j]; });
      });
      if (!ok) {
        var patch = new window.dash_clientside.Patch();
        assignFlow(patch);
        L.setProps("wall-flow", {figure: patch.build()});
        state.flowRepairs += 1;
      }
    }

    /* -------------------------------------------------- header and clock */
    function showWarnings(list) {
      // e.g. a year whose official calendar is not loaded: deadlines assume Mon–Fri. Only once
      // that year has started: before, it is the admins' to act on (the duty console tells them).
      if (list === undefined) { return; }
      var lines = list.filter(function (w) { return w.started; })
        .map(function (w) { return L.format(text.warnings[w.code] || w.code, w); });
      L.setProps("wall-warnings", {children: lines.length ? "⚠ " + lines.join(text.warning_separator) : ""});
    }
    function markUpdated(iso) { L.setProps("wall-updated", {children: L.time(iso, tz, "second")}); }
    function showConnection(ok) {
      L.setProps("wall-conn", ok ? {children: text.live, className: "conn conn-ok"}
                                 : {children: text.down, className: "conn conn-down"});
    }
    function tickClock() { L.setProps("wall-clock", {children: L.time(new Date(), tz, "datetime")}); }

    /* ------------------------------------------- snapshot and pushes */
    function applySnapshot(s) {
      state.labels = s.labels;
      state.channels = s.channels;
      state.windowSize = s.flow.length;
      state.firstMinute = minuteOf(s.flow[0].at);
      var patch = new window.dash_clientside.Patch();
      state.flowX = s.flow.map(function (f) { return f.minute; });
      state.flowY = {};
      state.channels.forEach(function (ch) {
        state.flowY[ch] = s.flow.map(function (f) { return f.counts[ch] || 0; });
      });
      assignFlow(patch);
      // Plotly sizes text in pixels: scale it with the screen (1 at 1920x1080, 2 at 4K).
      var scale = Math.max(1, Math.min(window.innerWidth / 1920, window.innerHeight / 1080));
      patch.assign(["layout", "font", "size"], Math.round(14 * scale));
      patch.assign(["layout", "legend", "font", "size"], Math.round(13 * scale));
      patch.assign(["layout", "margin"], {l: 48 * scale, r: 16 * scale, t: 8 * scale, b: 40 * scale});
      L.setProps("wall-flow", {figure: patch.build()});
      state.ticker = s.ticker.slice(0, config.ticker_rows);
      state.touched = null; // what was buffered before the snapshot is in it
      showTicker();
      showCounters(s.counters);
      showUnits(s.units);
      showWarnings(s.warnings);
      markUpdated(s.server_time);
    }

    // What one round of messages changed; written into Dash once, by write().
    function touched() {
      if (!state.touched) {
        state.touched = {patch: new window.dash_clientside.Patch(), flow: false, ticker: false,
                         counters: null, units: null};
      }
      return state.touched;
    }

    function applyMessage(msg, events) {
      var t = touched();
      events.forEach(function (e) {
        if (e.event === "received" && countReceived(e.ticket, t.patch)) { t.flow = true; }
        if (e.event === "dispatched") {
          state.ticker.unshift(Object.assign({}, e.ticket, {event: e.event, at: e.at, shownAt: Date.now()}));
          t.ticker = true;
        }
      });
      if (state.ticker.length > config.ticker_rows) { state.ticker.length = config.ticker_rows; }
      if (advanceTo(minuteOf(msg.server_time), t.patch)) { t.flow = true; }
      var current = msg.counters.seq === live.seq;
      if (current) { t.counters = msg.counters; }
      if (msg.units && current) { t.units = msg.units; }
      showWarnings(msg.warnings);
      markUpdated(msg.server_time);
    }

    function write() {
      var t = state.touched;
      state.touched = null;
      if (!t) { return; }
      if (t.flow) { L.setProps("wall-flow", {figure: t.patch.build()}); }
      if (t.ticker) { showTicker(); }
      if (t.counters) { showCounters(t.counters); }
      if (t.units) { showUnits(t.units); }
    }

    live = L.connect({ready: "wall-flow", lang: config.lang, snapshot: applySnapshot, message: applyMessage,
                      flush: write, connection: showConnection});
    live.wall = state; // for the browser tests and debugging
    setInterval(repairFlow, 2000);
    setInterval(tickClock, 1000);
  });
})();
