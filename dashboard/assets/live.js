/* Minsheng live screens: Socket.IO pushes -> Dash components, without loss.
 *
 * Every pushed message is buffered and flushed into Dash every FLUSH_MS with
 * dash_clientside.set_props (Dash merges rapid prop updates: one per event would lose events).
 * The page starts from a snapshot tagged with the aggregator's (epoch, seq),
 * applies only events with a higher seq, and reloads the snapshot when the
 * epoch changes or a seq is missing. Charts are patched, never redrawn whole.
 */
(function () {
  "use strict";
  var FLUSH_MS = 100;
  var MINUTE_MS = 60000;
  var COUNTERS = ["received_today", "open_now", "closed_today", "breaches_now",
                  "contact_overdue", "resolve_overdue", "amber_now"];
  var TZ = "Asia/Shanghai";

  var state = {
    started: false, lang: "zh-CN", epoch: null, seq: 0, loading: false,
    buffer: [], labels: null, channels: [], firstMinute: null, windowSize: 120,
    ticker: [], tickerLength: 30, applied: 0, resyncs: 0, connected: false,
    flowX: null, flowY: null, flowRepairs: 0,
    lastServerTime: null, socket: null,
    // Other scripts (e.g. the live map) register here: listeners.events gets every
    // applied event once, in seq order; listeners.snapshot gets each (re)loaded snapshot.
    listeners: {events: [], snapshot: []}
  };
  window.minshengLive = state; // read by the browser tests

  function T(zh, en) { return state.lang === "en" ? en : zh; }
  function exists(id) { return document.getElementById(id) !== null; }
  function setProps(id, props) {
    // set_props on a component that has not rendered yet is silently dropped.
    if (!exists(id)) { return false; }
    window.dash_clientside.set_props(id, props);
    return true;
  }
  function minuteOf(iso) { return Math.floor(Date.parse(iso) / MINUTE_MS); }
  function hhmm(minute) {
    return new Date(minute * MINUTE_MS).toLocaleTimeString("zh-CN",
      {timeZone: TZ, hour12: false, hour: "2-digit", minute: "2-digit"});
  }
  function clockText(iso) {
    return new Date(iso).toLocaleTimeString("zh-CN", {timeZone: TZ, hour12: false});
  }
  function el(type, className, children, key) {
    var props = {className: className, children: children};
    if (key !== undefined) { props.key = key; } // lets React keep rows that did not change
    return {type: type, namespace: "dash_html_components", props: props};
  }

  /* ---------------------------------------------------------- counters */
  function showCounters(c) {
    COUNTERS.forEach(function (key) {
      if (c[key] === undefined) { return; }
      var alert = (key === "breaches_now" || key.indexOf("overdue") > 0) && c[key] > 0;
      setProps("wall-count-" + key, {children: String(c[key]),
        className: "counter-value" + (alert ? " counter-alert" : "")});
    });
  }

  /* -------------------------------------------------------- unit table */
  function pct(rate) { return rate === null || rate === undefined ? "—" : (rate * 100).toFixed(1) + "%"; }
  function band(rate) {
    if (rate === null || rate === undefined) { return "band-none"; }
    return rate >= 0.95 ? "band-good" : rate >= 0.85 ? "band-warn" : "band-bad";
  }
  function showUnits(units) {
    if (!units) { return; }
    // Territorial bureaus always; divisions and the office once they have tickets today.
    var rows = units.filter(function (u) {
      return u.kind === "branch" || u.kind === "county_bureau" || u.received > 0;
    });
    setProps("wall-units", {children: rows.map(function (u) {
      function td(cls, text) { return el("Td", cls, text); }
      return el("Tr", "unit-row", [
        td("col_unit", u.unit_name),
        td("col_received", String(u.received)),
        td("col_completion " + band(u.completion_rate), pct(u.completion_rate)),
        td("col_on_time " + band(u.on_time_rate), pct(u.on_time_rate)),
        td("col_satisfaction " + band(u.satisfaction_rate), pct(u.satisfaction_rate)),
        td("col_breaches" + (u.breaches_now > 0 ? " band-bad" : ""), String(u.breaches_now))
      ], u.unit_code);
    })});
  }

  /* ------------------------------------------------------------ ticker */
  function tickerRow(item) {
    var ch = state.labels.channels_short[item.channel] || item.channel;
    var topic = state.labels.topics_short[item.topic] || item.topic;
    // Only rows that arrived in the last few seconds are highlighted.
    var fresh = item.shownAt && Date.now() - item.shownAt < 3000;
    var cls = "ticker-item" + (fresh ? " ticker-new" : "");
    return el("Li", cls, [
      el("Span", "t-time", clockText(item.received_at || item.at)),
      el("Span", "t-channel ch-" + item.channel, ch),
      el("Span", "t-topic", topic),
      // The station that must act says where, too; the district only while there is no unit.
      el("Span", "t-unit", item.unit_name || item.district || T("未定位", "no place")),
      el("Span", "t-number", item.number || "")
    ], item.number + ":" + item.event);
  }
  function showTicker() {
    setProps("wall-ticker", {children: state.ticker.map(tickerRow)});
  }

  /* -------------------------------------------------------------- flow */
  function traceIndex(channel) { return state.channels.indexOf(channel); }

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
    var trace = traceIndex(ticket.channel);
    if (idx < 0 || trace < 0) { return changed; }
    state.flowY[ticket.channel][idx] += 1;
    patch.add(["data", trace, "y", idx], 1);
    return true;
  }

  // The whole window from the page's own copy (used on snapshot and on repair).
  function assignFlow(patch) {
    state.channels.forEach(function (ch, i) {
      patch.assign(["data", i, "x"], state.flowX.slice());
      patch.assign(["data", i, "y"], state.flowY[ch].slice());
    });
  }

  // A patch that reaches dcc.Graph before it has mounted its figure can be lost
  // (seen about once in ten page loads): check what Plotly drew against the
  // page's copy and re-assign the window when they differ.
  function repairFlow() {
    var gd = document.querySelector("#wall-flow .js-plotly-plot");
    if (!gd || !state.flowX || state.loading || state.epoch === null) { return; }
    var drawn = gd.data || [];
    var ok = drawn.length === state.channels.length && drawn.every(function (trace, i) {
      var want = state.flowY[state.channels[i]];
      return trace.x && trace.x.length === state.flowX.length && trace.y &&
        trace.y.length === want.length && trace.y.every(function (v, j) { return v === want[j]; });
    });
    if (!ok) {
      var patch = new window.dash_clientside.Patch();
      assignFlow(patch);
      setProps("wall-flow", {figure: patch.build()});
      state.flowRepairs += 1;
    }
  }

  /* -------------------------------------------------------- snapshot */
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
    setProps("wall-flow", {figure: patch.build()});
    state.ticker = s.ticker.slice(0, state.tickerLength);
    showTicker();
    showCounters(s.counters);
    showUnits(s.units);
    showWarnings(s.warnings);
    state.epoch = s.counters.epoch;
    state.seq = s.counters.seq;
    markUpdated(s.server_time);
    notify("snapshot", s);
  }

  function notify(kind, payload) {
    state.listeners[kind].forEach(function (fn) {
      try { fn(payload); } catch (err) { if (window.console) { console.error(err); } }
    });
  }

  function resync() {
    if (state.loading) { return; }
    state.loading = true;
    state.resyncs += 1;
    fetch("/api/v1/live/snapshot?lang=" + encodeURIComponent(state.lang), {credentials: "same-origin"})
      .then(function (r) {
        if (r.status === 401) { grantLost(); }
        if (!r.ok) { throw new Error("snapshot " + r.status); }
        return r.json();
      })
      .then(function (s) {
        if (!exists("wall-flow")) { throw new Error("screen not rendered yet"); }
        applySnapshot(s);
        state.loading = false;
      })
      .catch(function () {
        state.loading = false;
        setTimeout(resync, 1000);
      });
  }

  /* -------------------------------------------------------- grant lost */
  // The kiosk token was revoked or the login ended: reload, so the server's
  // page says why, rather than a wall frozen on old numbers. At most once a minute.
  function grantLost() {
    try {
      var last = Number(window.sessionStorage.getItem("minsheng-grant-reload") || 0);
      if (Date.now() - last < MINUTE_MS) { return; }
      window.sessionStorage.setItem("minsheng-grant-reload", String(Date.now()));
    } catch (e) { return; } // no storage: never risk a reload loop
    window.location.reload();
  }

  // The server refused or dropped the socket (it does not retry by itself then).
  function recheck(socket) {
    fetch("/api/v1/live/snapshot?lang=" + encodeURIComponent(state.lang), {credentials: "same-origin"})
      .then(function (r) { if (r.status === 401) { grantLost(); } })
      .catch(function () {})
      .then(function () { setTimeout(function () { if (!socket.connected) { socket.connect(); } }, 2000); });
  }

  /* ------------------------------------------------------------ pushes */
  function handle(msg, patch, touched) {
    var c = msg.counters;
    if (c.epoch !== state.epoch) { return false; }
    var events = msg.events.filter(function (e) { return e.seq > state.seq; });
    if (events.length && events[0].seq !== state.seq + 1) { return false; } // a gap
    if (!events.length && c.seq > state.seq) { return false; } // missed a whole batch
    if (events.length) { notify("events", events); }
    events.forEach(function (e) {
      if (e.event === "received" && countReceived(e.ticket, patch)) { touched.flow = true; }
      if (e.event === "dispatched") {
        state.ticker.unshift(Object.assign({}, e.ticket, {event: e.event, at: e.at, shownAt: Date.now()}));
        touched.ticker = true;
      }
      state.seq = e.seq;
      state.applied += 1;
    });
    if (state.ticker.length > state.tickerLength) { state.ticker.length = state.tickerLength; }
    if (advanceTo(minuteOf(msg.server_time), patch)) { touched.flow = true; }
    if (c.seq === state.seq) { touched.counters = c; }
    if (msg.units && c.seq === state.seq) { touched.units = msg.units; }
    showWarnings(msg.warnings);
    markUpdated(msg.server_time);
    return true;
  }

  function flush() {
    if (state.loading || state.epoch === null || !state.buffer.length) { return; }
    if (!exists("wall-flow")) { return; }
    var patch = new window.dash_clientside.Patch();
    var touched = {flow: false, ticker: false, counters: null, units: null};
    while (state.buffer.length) {
      var msg = state.buffer.shift();
      if (!handle(msg, patch, touched)) {
        state.buffer.length = 0; // the snapshot covers everything buffered so far
        resync();
        break;
      }
    }
    if (touched.flow) { setProps("wall-flow", {figure: patch.build()}); }
    if (touched.ticker) { showTicker(); }
    if (touched.counters) { showCounters(touched.counters); }
    if (touched.units) { showUnits(touched.units); }
  }

  function showWarnings(list) {
    // e.g. a year whose official calendar is not loaded: deadlines assume Mon–Fri.
    if (list === undefined) { return; }
    setProps("wall-warnings", {children: list.length ? "⚠ " + list.join("；") : ""});
  }

  function markUpdated(iso) {
    state.lastServerTime = iso;
    setProps("wall-updated", {children: clockText(iso)});
  }

  function showConnection(ok) {
    state.connected = ok;
    setProps("wall-conn", ok
      ? {children: T("实时连接", "Live"), className: "conn conn-ok"}
      : {children: T("连接中断，正在重连", "Disconnected, reconnecting"), className: "conn conn-down"});
  }

  function tickClock() {
    setProps("wall-clock", {children: new Date().toLocaleString("zh-CN", {timeZone: TZ, hour12: false})});
  }

  function start() {
    var screen = document.getElementById("live-screen");
    state.lang = (screen && screen.getAttribute("data-lang")) || "zh-CN";
    if (typeof window.io !== "function") { setTimeout(start, 50); return; }
    var socket = window.io("/live", {transports: ["websocket"], reconnectionDelayMax: 5000});
    state.socket = socket;
    socket.on("connect", function () { showConnection(true); resync(); });
    socket.on("disconnect", function (reason) {
      showConnection(false);
      if (reason === "io server disconnect") { recheck(socket); } // dropped: its grant was revoked?
    });
    socket.on("connect_error", function () { if (!socket.active) { recheck(socket); } }); // refused
    socket.on("live", function (msg) { state.buffer.push(typeof msg === "string" ? JSON.parse(msg) : msg); });
    setInterval(flush, FLUSH_MS);
    setInterval(repairFlow, 2000);
    setInterval(tickClock, 1000);
  }

  window.dash_clientside = window.dash_clientside || {};
  window.dash_clientside.live = {
    start: function () {
      if (!state.started) { state.started = true; setTimeout(start, 0); }
      return "live-screen live-started";
    }
  };
})();
