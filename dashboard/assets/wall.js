/* The wall's own rendering, on the shared live module (live.js).
 *
 * From a snapshot and then from each pushed message: the counters, the unit
 * table (ranked by the server, each rate with its Wilson interval), the
 * attention banner (open alerts nobody has acknowledged yet), the ticker and the
 * ticket-flow chart, the warnings, the connection state and the clock. A breach
 * flashes the breach counter and its unit's row once; a new alert flashes its
 * banner line; with ?sound=1 both sound once per frame. Its words, the bureau's time zone and its rules (which
 * counters alarm, the rate bands, which units are always listed, how many
 * ticker rows) come in the config layouts/wall.py renders into the live marker.
 *
 * What changes many times a second is written straight into the DOM, once per
 * animation frame (live.js flushes a burst in one frame), and only where a value
 * changed: a counter's text, a unit table cell, a new ticker row. Going through
 * Dash (set_props) re-rendered whole components per update and kept the main
 * thread nearly always busy at 10 tickets a second (docs/PERFORMANCE.md). The
 * layout leaves these elements empty, so React never renders over what this
 * script wrote. The chart is drawn with Plotly.react at most once per
 * FLOW_DRAW_MS (its bars are minutes), never per event.
 */
(function () {
  "use strict";
  var MINUTE_MS = 60000;
  var FLOW_DRAW_MS = 1000;
  // A branch wall reloads its subtree's snapshot on a scoped frame, at most this often.
  var BRANCH_RELOAD_MS = 1000;
  var L = window.MinshengLive;

  L.screen("wall", function (config) {
    var text = config.text;
    var tz = config.timezone;
    var state = {
      labels: null, channels: [], firstMinute: null, windowSize: 120, ticker: [],
      flowX: null, flowY: null, flowRepairs: 0, flowDraws: 0, flowDirty: false, flowDrawnAt: 0,
      flowFull: false, flowChanged: {}, flowPatches: 0,
      counters: {}, units: null, touched: null,
      alerts: {}, flashes: 0, sounds: 0 // alert id -> its view; for the browser tests: what attention was asked
    };
    var shown = {}; // element id -> the text and class last written
    var live;

    function minuteOf(iso) { return Math.floor(Date.parse(iso) / MINUTE_MS); }
    function hhmm(minute) { return L.time(new Date(minute * MINUTE_MS), tz, "minute"); }

    // Write an element's text and class only when they differ from what was written
    // (content undefined: the class only, the element keeps its children).
    function put(el, key, content, className) {
      var last = shown[key] || (shown[key] = {});
      if (content !== undefined && last.text !== content) { el.textContent = content; last.text = content; }
      if (className !== undefined && last.cls !== className) { el.className = className; last.cls = className; }
    }
    function putId(id, content, className) {
      var el = document.getElementById(id);
      if (el) { put(el, id, content, className); }
    }

    /* -------------------------------------------------------- counters */
    function showCounters(c) {
      config.counters.forEach(function (key) {
        if (c[key] === undefined) { return; }
        var alarm = config.alert_counters.indexOf(key) >= 0 && c[key] > 0;
        putId("wall-count-" + key, String(c[key]), "counter-value" + (alarm ? " counter-alert" : ""));
      });
    }

    /* ------------------------------------------------------ unit table */
    // Whole percents, rounded down (99.6% is not yet 100%): the interval beside it is wider than a decimal.
    function pct(rate) { return rate === null || rate === undefined ? "—" : Math.floor(rate * 100 + 1e-9) + "%"; }
    // The Wilson 95% interval in whole percents, for the small type beside the rate.
    function span(bounds) {
      return bounds ? Math.floor(bounds[0] * 100) + "–" + Math.ceil(bounds[1] * 100) : "";
    }
    function band(rate) {
      if (rate === null || rate === undefined) { return config.bands.none; }
      for (var i = 0; i < config.bands.floors.length; i++) {
        if (rate >= config.bands.floors[i][0]) { return config.bands.floors[i][1]; }
      }
      return config.bands.below;
    }
    var unitRows = {}; // unit code -> its <tr>
    // [class, text, interval or undefined] per column of config.columns.
    function rateCell(u, column, rate) {
      var value = u[rate];
      return [column + " " + band(value), pct(value), span(u.intervals && u.intervals[rate])];
    }
    function unitCells(u) {
      var score = u.composite_score;
      return [
        ["col_rank", u.rank === null ? "—" : String(u.rank)],
        ["col_unit", u.unit_name],
        ["col_received", String(u.received)],
        ["col_score", score === null || score === undefined ? "—" : (score * 100).toFixed(1)],
        rateCell(u, "col_response", "response_rate"),
        rateCell(u, "col_on_time", "on_time_rate"),
        rateCell(u, "col_satisfaction", "satisfaction_rate"),
        ["col_breaches" + (u.breaches_now > 0 ? " " + config.bands.below : ""), String(u.breaches_now)]
      ];
    }
    function newUnitRow(u) {
      var tr = document.createElement("tr");
      tr.setAttribute("data-unit", u.unit_code);
      unitCells(u).forEach(function (cell) {
        var td = document.createElement("td");
        if (cell[2] !== undefined) { // the rate, then its interval in small type
          td.appendChild(document.createElement("span"));
          td.appendChild(document.createElement("small"));
        }
        tr.appendChild(td);
      });
      return tr;
    }
    // The table with a frame's changed rows (by unit code) put in, in `order` when given.
    function patchUnits(units, rows, order) {
      var byCode = {};
      var codes = (units || []).map(function (u) { byCode[u.unit_code] = u; return u.unit_code; });
      (rows || []).forEach(function (u) {
        if (!byCode[u.unit_code]) { codes.push(u.unit_code); }
        byCode[u.unit_code] = u;
      });
      return (order || codes).map(function (code) { return byCode[code]; }).filter(Boolean);
    }
    function showUnits(units) {
      var body = document.getElementById("wall-units");
      if (!units || !body) { return; }
      var rows = units.filter(function (u) {
        return config.all_units || config.unit_kinds_always.indexOf(u.kind) >= 0 || u.received > 0;
      });
      var keep = {};
      rows.forEach(function (u, i) {
        var tr = unitRows[u.unit_code] || (unitRows[u.unit_code] = newUnitRow(u));
        // Under the minimum volume: listed, greyed, unranked (the server ranks, tickets.figures.rank).
        put(tr, u.unit_code, undefined, "unit-row" + (u.rank === null ? " unit-unranked" : ""));
        if (body.children[i] !== tr) { body.insertBefore(tr, body.children[i] || null); }
        unitCells(u).forEach(function (cell, k) {
          var td = tr.children[k];
          if (cell[2] === undefined) { put(td, u.unit_code + ":" + k, cell[1], cell[0]); return; }
          put(td, u.unit_code + ":" + k, undefined, cell[0]);
          put(td.children[0], u.unit_code + ":" + k + "v", cell[1]);
          put(td.children[1], u.unit_code + ":" + k + "i", cell[2]);
        });
        keep[u.unit_code] = true;
      });
      Object.keys(unitRows).forEach(function (code) {
        if (!keep[code]) { unitRows[code].remove(); delete unitRows[code]; }
      });
    }

    /* ------------------------------------------------------- attention */
    // Once per call, however many arrived together: restart the element's "flash" animation
    // (assets/wall.css). Breaches are rare enough that the forced style recalculation is cheap.
    function flash(el) {
      if (!el) { return; }
      el.classList.remove("flash");
      void el.offsetWidth;
      el.classList.add("flash");
      state.flashes += 1;
    }
    function sound() {
      if (!config.sound) { return; }
      state.sounds += 1;
      var played = new Audio(config.sound).play();
      // A browser that allows no autoplay before a click refuses it: the wall stays silent.
      if (played && played.catch) { played.catch(function () {}); }
    }
    function calls(a) { return a.status === "open" && !a.acknowledged_at; }
    // How many against the baseline, as the alert carries it (a surge on the fixed floor alone has none).
    function evidence(a) {
      if (a.kind === "recurring") {
        return L.format(text.recurring_evidence, {count: a.count, days: a.window_days, baseline: a.baseline.toFixed(1)});
      }
      if (a.baseline === null) { return L.format(text.surge_floor, {count: a.count, threshold: a.threshold}); }
      return L.format(text.surge_baseline, {count: a.count, baseline: a.baseline.toFixed(1)});
    }
    function bannerItem(a, fresh) {
      var div = document.createElement("div");
      div.className = "banner-item banner-" + a.kind + (fresh ? " flash" : "");
      div.setAttribute("data-alert", String(a.id));
      [["b-kind", text[a.kind === "surge" ? "kind_surge" : "kind_recurring"]],
       ["b-what", (state.labels && state.labels.topics[a.topic]) || a.topic_label],
       ["b-where", a.area_name || ""],
       ["b-count", evidence(a)]].forEach(function (cell) {
        var span = document.createElement("span");
        span.className = cell[0];
        span.textContent = cell[1];
        div.appendChild(span);
      });
      return div;
    }
    // The newest first; the whole banner is rebuilt (alerts change a few times a day).
    function showBanner(fresh) {
      var banner = document.getElementById("wall-banner");
      if (!banner) { return; }
      var open = Object.keys(state.alerts).map(function (id) { return state.alerts[id]; });
      open.sort(function (a, b) { return Date.parse(b.first_seen_at) - Date.parse(a.first_seen_at) || b.id - a.id; });
      banner.textContent = "";
      open.slice(0, config.banner_rows).forEach(function (a) { banner.appendChild(bannerItem(a, fresh[a.id])); });
      if (open.length) {
        var tail = document.createElement("div");
        tail.className = "banner-tail";
        tail.textContent = (open.length > config.banner_rows ?
          L.format(text.banner_more, {count: open.length - config.banner_rows}) + " · " : "") + text.banner_hint;
        banner.appendChild(tail);
      }
    }
    function applyAlert(a, t) {
      if (calls(a)) { state.alerts[a.id] = a; } else { delete state.alerts[a.id]; }
      if (calls(a) && !t.alerts[a.id] && !t.known[a.id]) { t.alerts[a.id] = true; }
      t.banner = true;
    }

    /* ---------------------------------------------------------- ticker */
    // The ticket's number leads to it: a link for someone who may open tickets, the number
    // alone on a kiosk (nobody at a wall clicks; the number is what the room reads out).
    function ticketNumber(number) {
      var cell = document.createElement(config.ticket_links && number ? "a" : "span");
      cell.className = "t-number";
      cell.textContent = number;
      if (config.ticket_links && number) {
        cell.href = "/ticket/" + encodeURIComponent(number) + "?lang=" + config.lang;
      }
      return cell;
    }
    // Only the rows the list has room for are in the DOM (state.ticker keeps config.ticker_rows);
    // a row that scrolls off the bottom is reused for the next new one.
    var tickerFit = null; // rows that fit the list: measured once, again after a resize; 0: hidden
    var spareRows = [];
    function tickerRow(item, fresh) {
      var li = spareRows.pop();
      if (!li) {
        li = document.createElement("li");
        ["t-time", "t-channel", "t-topic", "t-unit"].forEach(function () { li.appendChild(document.createElement("span")); });
        li.appendChild(document.createElement("span"));
      }
      // Only rows pushed while the wall watches are highlighted, once (fadeTicker, assets/wall.css).
      li.className = "ticker-item" + (fresh ? " ticker-new" : "");
      li.highlight = null;
      var ch = state.labels.channels_short[item.channel] || item.channel;
      var topic = state.labels.topics_short[item.topic] || item.topic;
      [["t-time", L.time(item.received_at || item.at, tz, "second")],
       ["t-channel ch-" + item.channel, ch],
       ["t-topic", topic],
       // The station that must act says where, too; the district only while there is no unit.
       ["t-unit", item.unit_name || item.district || text.no_place]].forEach(function (cell, k) {
        var span = li.children[k];
        span.className = cell[0];
        span.textContent = cell[1];
      });
      var number = ticketNumber(item.number || "");
      var old = li.children[4];
      if (old.tagName === number.tagName && !number.href) {
        old.className = number.className;
        old.textContent = number.textContent;
      } else {
        li.replaceChild(number, old);
      }
      return li;
    }
    function tickerCap(list) {
      if (tickerFit === null) {
        var first = list.firstElementChild;
        var row = first ? first.offsetHeight : 0;
        tickerFit = row > 0 && list.clientHeight > 0 ? Math.ceil(list.clientHeight / row) + 1 : 0;
      }
      return tickerFit > 0 ? Math.min(tickerFit, config.ticker_rows) : config.ticker_rows;
    }
    function showTicker(items, fresh) {
      var list = document.getElementById("wall-ticker");
      if (!list) { return; }
      if (!fresh) { list.textContent = ""; highlights = []; }
      var rows = document.createDocumentFragment();
      var added = [];
      items.forEach(function (item) { var li = tickerRow(item, fresh); rows.appendChild(li); added.push(li); });
      list.insertBefore(rows, list.firstChild);
      var cap = tickerCap(list);
      while (list.children.length > cap) { spareRows.push(list.lastChild); list.lastChild.remove(); }
      spareRows.length = Math.min(spareRows.length, 10);
      if (fresh && added.length) {
        var h = {rows: added, at: Date.now(), step: 0};
        added.forEach(function (li) { li.highlight = h; });
        highlights.push(h);
        fadeSoon();
      }
    }
    // A new row's highlight fades in steps (ticker-fade1, -fade2, then none: assets/wall.css), each
    // a class change of that frame's rows, not a CSS animation: ten animated rows a second kept
    // Chromium producing frames (style, paint, layerization) all the time.
    var FADE_STEP_MS = 400;
    var FADE_CLASSES = ["ticker-new", "ticker-new ticker-fade1", "ticker-new ticker-fade2"];
    var highlights = [];
    var fadeTimer = null;
    var fadedAt = 0;
    function fadeTicker() {
      var now = fadedAt = Date.now();
      highlights = highlights.filter(function (h) {
        var step = Math.floor((now - h.at) / FADE_STEP_MS);
        if (step === h.step) { return true; }
        h.step = step;
        h.rows.forEach(function (li) {
          if (li.highlight !== h) { return; } // reused since for a newer row
          li.className = "ticker-item" + (step < FADE_CLASSES.length ? " " + FADE_CLASSES[step] : "");
          if (step >= FADE_CLASSES.length) { li.highlight = null; }
        });
        return step < FADE_CLASSES.length;
      });
    }
    function fadeSoon() {
      if (fadeTimer || !highlights.length) { return; }
      // While frames are written anyway (write() fades too), the timer changes nothing itself.
      fadeTimer = setTimeout(function () {
        fadeTimer = null;
        if (Date.now() - fadedAt >= FADE_STEP_MS / 2) { fadeTicker(); }
        fadeSoon();
      }, FADE_STEP_MS / 2);
    }
    // A resize (or a screen switch, wall_screens.js) may change how many rows fit: measure again.
    window.addEventListener("resize", function () {
      if (tickerFit === null) { return; }
      tickerFit = null;
      window.requestAnimationFrame(function () { if (state.labels) { showTicker(state.ticker, false); } });
    });

    /* ------------------------------------------------------------ flow */
    // Move the window so it ends at `minute`; returns whether anything changed.
    function advanceTo(minute) {
      if (state.firstMinute === null) { return false; }
      var last = state.firstMinute + state.windowSize - 1;
      if (minute <= last) { return false; }
      var add = Math.min(minute - last, state.windowSize);
      for (var k = 0; k < add; k++) {
        state.flowX.push(hhmm(minute - add + 1 + k));
        state.flowX.shift();
        state.channels.forEach(function (ch) { state.flowY[ch].push(0); state.flowY[ch].shift(); });
      }
      state.firstMinute = minute - state.windowSize + 1;
      state.flowFull = true; // every bar moves left: Plotly draws the window again
      return true;
    }

    function countReceived(ticket) {
      var minute = minuteOf(ticket.received_at);
      var changed = advanceTo(minute);
      var idx = minute - state.firstMinute;
      if (idx < 0 || state.channels.indexOf(ticket.channel) < 0) { return changed; }
      state.flowY[ticket.channel][idx] += 1;
      state.flowChanged[idx] = true;
      return true;
    }

    function graph() { return document.querySelector("#wall-flow .js-plotly-plot"); }

    // The whole window from the page's own copy, through Dash (on a snapshot, and to repair).
    function assignFlow(patch) {
      state.channels.forEach(function (ch, i) {
        patch.assign(["data", i, "x"], state.flowX.slice());
        patch.assign(["data", i, "y"], state.flowY[ch].slice());
      });
    }

    // Live changes. A new ticket changes one minute's stack: its bars' paths are rewritten in
    // place (the segments of that minute from the ticket's channel up), in the frame the counters
    // change, and the traces' y (and Plotly's calcdata, which a resize redraws from) follow.
    // Plotly draws the whole chart again (Plotly.react, ~100 ms of main thread for 10 traces of
    // 120 bars) only when the window moves on a minute, when a stack outgrows the y axis, or when
    // the traces are not the ones it drew last (a snapshot went through Dash); at most once per
    // FLOW_DRAW_MS. Redrawing the whole figure once a second took a seventh of the main thread at
    // 10 tickets a second (docs/PERFORMANCE.md).
    var drawnData = null; // the traces the last Plotly.react here drew: the ones patched in place
    var bars = null; // [trace][minute index] -> {path, di (its calcdata point)}, from that draw
    var FLOW_HEADROOM = 1.5; // a stack that outgrows the axis: the new top leaves room to grow

    function indexBars(gd) {
      var traces = gd.querySelectorAll(".barlayer .trace.bars");
      if (traces.length !== state.channels.length) { return null; }
      var out = [];
      for (var t = 0; t < traces.length; t++) {
        var cd = traces[t].__data__;
        var index = cd && cd[0] && cd[0].trace ? cd[0].trace.index : t;
        var row = [];
        var points = traces[t].querySelectorAll("g.point");
        for (var k = 0; k < points.length; k++) {
          var di = points[k].__data__;
          var path = points[k].querySelector("path");
          var at = di && typeof di.i === "number" ? di.i : k;
          if (!di || !path) { return null; }
          row[at] = {path: path, di: di};
        }
        out[index] = row;
      }
      return out;
    }

    // Plotly's own rounding of a bar's edge (traces/bar/plot.js, opaque bars without a line):
    // exact, unless the bar is under 2 px, which it widens to a whole pixel so it shows.
    function edge(v, other) { return Math.abs(v - other) >= 2 ? v : (v > other ? Math.ceil(v) : Math.floor(v)); }

    // The changed minutes' stacks, written into the drawn chart; false: Plotly must draw it.
    function patchBars(gd) {
      var ya = gd._fullLayout && gd._fullLayout.yaxis;
      if (!ya || typeof ya.c2p !== "function" || !ya.range) { return false; }
      if (!bars) { bars = indexBars(gd); }
      if (!bars) { return false; }
      var top = Math.max(ya.range[0], ya.range[1]);
      var minutes = Object.keys(state.flowChanged);
      var ok = minutes.every(function (j) {
        var total = 0;
        return state.channels.every(function (ch, i) {
          total += state.flowY[ch][j];
          return bars[i] && bars[i][j] && /^M[-\d.e]+,[-\d.e]+V[-\d.e]+H[-\d.e]+V[-\d.e]+Z$/.test(bars[i][j].path.getAttribute("d") || "");
        }) && total <= top;
      });
      if (!ok) { return false; }
      minutes.forEach(function (j) {
        var base = 0;
        state.channels.forEach(function (ch, i) {
          var v = state.flowY[ch][j];
          var bar = bars[i][j];
          var di = bar.di;
          if (drawnData[i].y[j] !== v || di.b !== base) {
            drawnData[i].y[j] = v;
            di.s = v; di.b = base; di.s0 = base; di.s1 = base + v;
            var d = bar.path.getAttribute("d");
            var x = d.slice(1, d.indexOf(",")), x1 = d.slice(d.indexOf("H") + 1, d.lastIndexOf("V"));
            var y0 = ya.c2p(base, true), y1 = ya.c2p(base + v, true);
            if (v !== 0) { y0 = edge(y0, y1); y1 = edge(y1, y0); }
            bar.path.setAttribute("d", "M" + x + "," + y0 + "V" + y1 + "H" + x1 + "V" + y0 + "Z");
          }
          base += v;
        });
      });
      state.flowPatches += minutes.length;
      return true;
    }

    // inFrame: called while the frame that shows new counters is being made. A whole redraw is
    // then left to a task of its own, after that frame: the counters reach the screen without
    // waiting for Plotly.
    var drawLater = null;
    function drawFlow(inFrame) {
      var gd = graph();
      if (!state.flowDirty || !gd || !window.Plotly || !gd.data || gd.data.length !== state.channels.length) { return; }
      if (!state.flowFull && gd.data === drawnData && patchBars(gd)) {
        state.flowDirty = false;
        state.flowChanged = {};
        return;
      }
      if (Date.now() - state.flowDrawnAt < FLOW_DRAW_MS) { return; }
      if (inFrame) {
        if (!drawLater) { drawLater = setTimeout(function () { drawLater = null; drawFlow(false); }, 0); }
        return;
      }
      var x = state.flowX.slice();
      var data = gd.data.map(function (trace, i) {
        return Object.assign({}, trace, {x: x, y: state.flowY[state.channels[i]].slice()});
      });
      // The axis fits the window (Plotly's autorange) when the window moves or a snapshot drew
      // it; a minute that outgrew it gets room to grow, so it is not redrawn for every ticket.
      var yaxis = {autorange: true};
      if (!state.flowFull && gd.data === drawnData) {
        var highest = 0;
        for (var j = 0; j < x.length; j++) {
          var total = 0;
          for (var i = 0; i < data.length; i++) { total += data[i].y[j]; }
          highest = Math.max(highest, total);
        }
        yaxis = {autorange: false, range: [0, Math.ceil(highest * FLOW_HEADROOM)]};
      }
      var layout = Object.assign({}, gd.layout, {yaxis: Object.assign({}, gd.layout.yaxis, yaxis)});
      window.Plotly.react(gd, data, layout);
      drawnData = data;
      bars = null; // the paths of this draw, indexed at the next patch
      state.flowDirty = false;
      state.flowFull = false;
      state.flowChanged = {};
      state.flowDrawnAt = Date.now();
      state.flowDraws += 1;
    }

    // A patch that reaches dcc.Graph before it has mounted its figure can be lost
    // (about once in ten page loads): check what Plotly drew against the page's
    // copy and re-assign the window when they differ.
    function repairFlow() {
      var gd = graph();
      if (!gd || !state.flowX || state.flowDirty || live.loading || live.epoch === null) { return; }
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
      putId("wall-warnings", lines.length ? "⚠ " + lines.join(text.warning_separator) : "");
    }
    function markUpdated(iso) { putId("wall-updated", L.time(iso, tz, "second")); }
    function showConnection(ok) {
      L.setProps("wall-conn", ok ? {children: text.live, className: "conn conn-ok"}
                                 : {children: text.down, className: "conn conn-down"});
    }
    function tickClock() { putId("wall-clock", L.time(new Date(), tz, "datetime")); }

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
      patch.assign(["layout", "margin"], {l: 48 * scale, r: 16 * scale, t: 8 * scale, b: 40 * scale});
      L.setProps("wall-flow", {figure: patch.build()});
      state.flowDirty = false;
      state.ticker = s.ticker.slice(0, config.ticker_rows);
      state.touched = null; // what was buffered before the snapshot is in it
      state.counters = Object.assign({}, s.counters);
      state.units = s.units;
      state.alerts = {};
      (s.alerts || []).forEach(function (a) { state.alerts[a.id] = a; });
      showBanner({});
      showTicker(state.ticker, false);
      showCounters(state.counters);
      showUnits(state.units);
      showWarnings(s.warnings);
      markUpdated(s.server_time);
    }

    // What one round of messages changed; written once, by write().
    function touched() {
      if (!state.touched) {
        // alerts: ids that newly call for attention; known: those the banner already showed.
        state.touched = {ticker: [], counters: false, units: false, warnings: undefined,
                         breaches: [], banner: false, alerts: {}, known: Object.assign({}, state.alerts)};
      }
      return state.touched;
    }

    function applyMessage(msg, events) {
      var t = touched();
      events.forEach(function (e) {
        if (e.event === "received" && countReceived(e.ticket)) { state.flowDirty = true; }
        if (e.event === "dispatched") {
          t.ticker.unshift(Object.assign({}, e.ticket, {event: e.event, at: e.at}));
        }
        if (e.event === "breach") { t.breaches.push(e.unit_row); }
        if (e.event === "alert" && e.alert) { applyAlert(e.alert, t); }
      });
      if (advanceTo(minuteOf(msg.server_time))) { state.flowDirty = true; }
      // A frame carries the counters that changed since the frame before (always its epoch and
      // seq). One older than what is applied (sent before the snapshot) is in the snapshot.
      if (msg.counters.seq === live.seq) {
        Object.assign(state.counters, msg.counters);
        t.counters = true;
        // The whole table (a keyframe), or its rows that changed and, with a new ranking, the order.
        if (msg.units) { state.units = msg.units; t.units = true; }
        if (msg.unit_rows || msg.unit_order) { state.units = patchUnits(state.units, msg.unit_rows, msg.unit_order); t.units = true; }
      }
      if (msg.warnings !== undefined) { t.warnings = msg.warnings; }
      state.lastServerTime = msg.server_time;
    }

    function write() {
      var t = state.touched;
      state.touched = null;
      if (t) {
        if (t.counters) { showCounters(state.counters); }
        if (t.ticker.length) {
          state.ticker = t.ticker.concat(state.ticker).slice(0, config.ticker_rows);
          showTicker(t.ticker.slice(0, config.ticker_rows), true);
        }
        fadeTicker();
        if (t.units) { showUnits(state.units); }
        if (t.banner) { showBanner(t.alerts); }
        if (t.breaches.length) {
          flash(document.querySelector(".counter-breaches_now"));
          var rows = {};
          t.breaches.forEach(function (code) { if (code && unitRows[code]) { rows[code] = unitRows[code]; } });
          Object.keys(rows).forEach(function (code) { flash(rows[code]); });
        }
        if (t.breaches.length || Object.keys(t.alerts).length) { sound(); }
        showWarnings(t.warnings);
        markUpdated(state.lastServerTime);
      }
      drawFlow(true);
    }

    /* ------------------------------------------- a branch bureau's wall */
    // Its frames name only its subtree's tickets (the scoped room, dashboard/push.py); the
    // numbers are its subtree's snapshot, recomputed by the server (dashboard/live/branch.py).
    var reloadAsked = null;
    function loadBranch() {
      var url = "/api/v1/live/snapshot?lang=" + encodeURIComponent(config.lang) + "&unit=" + encodeURIComponent(config.unit);
      return fetch(url, {credentials: "same-origin"}).then(function (r) {
        if (!r.ok) { throw new Error("snapshot " + r.status); }
        return r.json();
      });
    }
    function branchMessage(msg, events) {
      if (!events.length || reloadAsked) { return; }
      reloadAsked = setTimeout(function () { reloadAsked = null; live.resync(); }, BRANCH_RELOAD_MS);
    }

    // Ready once the counters exist: the chart mounts when plotly.js has loaded, later;
    // repairFlow draws the window into it then.
    var branch = Boolean(config.unit);
    live = L.connect({ready: "wall-count-received_today", lang: config.lang, snapshot: applySnapshot,
                      message: branch ? branchMessage : applyMessage, flush: write, connection: showConnection,
                      scoped: branch, load: branch ? loadBranch : undefined,
                      auth: branch ? {unit: config.unit} : undefined});
    live.wall = state; // for the browser tests and debugging
    setInterval(repairFlow, 1000);
    setInterval(function () { drawFlow(false); }, FLOW_DRAW_MS); // the last change of a burst is drawn too
    setInterval(tickClock, 1000);
  });
})();
