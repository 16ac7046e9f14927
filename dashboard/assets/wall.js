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
 * script wrote. The ticket-flow chart is an SVG this script draws too: a ticket
 * changes its minute's bars, the window moving on a minute adds a column.
 */
(function () {
  "use strict";
  var MINUTE_MS = 60000;
  // A branch wall reloads its subtree's snapshot on a scoped frame, at most this often.
  var BRANCH_RELOAD_MS = 1000;
  var L = window.MinshengLive;

  L.screen("wall", function (config) {
    var text = config.text;
    var tz = config.timezone;
    var state = {
      labels: null, channels: [], firstMinute: null, windowSize: 120, ticker: [],
      flowY: null, flowMoved: false, flowChanged: {}, flowDraws: 0, flowPatches: 0,
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
    // The ticket flow is an SVG this script draws and keeps current itself (it was a Plotly
    // chart: Plotly drew the whole figure again, ~150 ms of main thread, each time the window
    // moved on a minute, which decided the wall's p99; docs/PERFORMANCE.md). Each minute is a
    // column <g> of rects, one per channel that had tickets, stacked in CHANNELS order, at
    // x = (minute - origin) * step. Rects are in tickets (y = the stack below, height = the
    // count) under one transform that maps tickets to pixels, so:
    //  - a new ticket rewrites its own minute's rects (from its channel up), nothing else;
    //  - the window moving on a minute adds a column, drops the oldest and moves the columns'
    //    group (one transform), with the x labels beside them;
    //  - the y axis growing (a stack outgrew it) or shrinking (when the window moves) changes
    //    the scale's transform and redraws the few gridlines and y labels.
    // Everything is built again only on a snapshot and when the panel's size changes (a
    // ResizeObserver: a resize, or a wall screen showing the panel).
    var SVG = "http://www.w3.org/2000/svg";
    var FLOW_TICKS = [10, 15, 20, 30, 60]; // minutes between x labels: the first that leaves room
    var FLOW_HEADROOM = 1.25; // a new y axis leaves room to grow: it is not rescaled per ticket
    var FLOW_MIN_TOP = 4;
    var flow = {box: null, svg: null, shift: null, bars: null, labels: null, yAxis: null,
                origin: 0, step: 0, plotH: 0, font: 0, tick: 20, top: 0, columns: {}, size: ""};

    function svgEl(type, attrs, parent) {
      var node = document.createElementNS(SVG, type);
      Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
      if (parent) { parent.appendChild(node); }
      return node;
    }

    // Move the window so it ends at `minute`; returns whether anything changed.
    function advanceTo(minute) {
      if (state.firstMinute === null) { return false; }
      var last = state.firstMinute + state.windowSize - 1;
      if (minute <= last) { return false; }
      var add = Math.min(minute - last, state.windowSize);
      for (var k = 0; k < add; k++) {
        state.channels.forEach(function (ch) { state.flowY[ch].push(0); state.flowY[ch].shift(); });
      }
      state.firstMinute = minute - state.windowSize + 1;
      state.flowMoved = true;
      return true;
    }

    function countReceived(ticket) {
      var minute = minuteOf(ticket.received_at);
      var changed = advanceTo(minute);
      var idx = minute - state.firstMinute;
      if (idx < 0 || state.channels.indexOf(ticket.channel) < 0) { return changed; }
      state.flowY[ticket.channel][idx] += 1;
      state.flowChanged[minute] = true;
      return true;
    }

    function stackAt(idx) {
      var total = 0;
      state.channels.forEach(function (ch) { total += state.flowY[ch][idx]; });
      return total;
    }
    function highestStack() {
      var highest = 0;
      for (var j = 0; j < state.windowSize; j++) { highest = Math.max(highest, stackAt(j)); }
      return highest;
    }
    // A round axis step (1, 2 or 5 × 10^n) giving at most five intervals, and the top of the axis.
    function yScale(highest) {
      var want = Math.max(FLOW_MIN_TOP, highest * FLOW_HEADROOM);
      var magnitude = Math.pow(10, Math.floor(Math.log10(want / 5)));
      var step = [1, 2, 5, 10].map(function (m) { return m * magnitude; })
        .filter(function (s) { return s >= 1 && want / s <= 5; })[0] || 1;
      return {step: step, top: Math.ceil(want / step) * step};
    }

    function setScale(scale) {
      flow.top = scale.top;
      flow.bars.setAttribute("transform", "translate(0," + flow.plotH + ") scale(1," + (-flow.plotH / scale.top) + ")");
      flow.yAxis.textContent = "";
      var width = flow.width;
      for (var v = 0; v <= scale.top + 1e-9; v += scale.step) {
        var y = flow.padT + flow.plotH - v * flow.plotH / scale.top;
        svgEl("line", {x1: flow.padL, x2: width - flow.padR, y1: y, y2: y, "class": "flow-grid"}, flow.yAxis);
        var label = svgEl("text", {x: flow.padL - flow.font * 0.4, y: y, "class": "flow-ylabel"}, flow.yAxis);
        label.textContent = String(v);
      }
    }

    function xFor(minute) { return (minute - flow.origin) * flow.step; }

    function addColumn(minute) {
      var col = svgEl("g", {"class": "flow-col", transform: "translate(" + xFor(minute) + ",0)",
                            "data-minute": String(minute), "data-total": "0"}, flow.bars);
      var column = flow.columns[minute] = {g: col, rects: [], total: 0, label: null};
      if (minute % flow.tick === 0) {
        column.label = svgEl("text", {x: xFor(minute) + flow.step / 2, y: flow.font * 0.35, "class": "flow-xlabel"}, flow.labels);
        column.label.textContent = hhmm(minute);
      }
      return column;
    }

    // One minute's stack from the page's copy, writing only the rects that changed.
    function drawColumn(minute) {
      var column = flow.columns[minute];
      var idx = minute - state.firstMinute;
      if (!column || idx < 0 || idx >= state.windowSize) { return; }
      var base = 0;
      var inset = flow.step > 3 ? flow.step * 0.08 : 0;
      state.channels.forEach(function (ch, i) {
        var v = state.flowY[ch][idx];
        var rect = column.rects[i];
        if (!rect && v > 0) {
          rect = column.rects[i] = svgEl("rect", {x: inset, width: Math.max(1, flow.step - 2 * inset),
                                                  fill: config.channel_colours[ch] || "#8a8f98"});
          rect.drawn = "";
          // Stacked in CHANNELS order: before the first rect of a later channel.
          var after = null;
          for (var k = i + 1; k < column.rects.length && !after; k++) { after = column.rects[k] || null; }
          column.g.insertBefore(rect, after);
        }
        if (rect) {
          var drawn = base + "," + v;
          if (rect.drawn !== drawn) { rect.setAttribute("y", base); rect.setAttribute("height", v); rect.drawn = drawn; }
        }
        base += v;
      });
      if (column.total !== base) { column.total = base; column.g.setAttribute("data-total", String(base)); }
    }

    // The columns of the window: new minutes added, old ones dropped, the groups moved.
    function placeWindow() {
      var first = state.firstMinute, last = first + state.windowSize - 1;
      Object.keys(flow.columns).forEach(function (m) {
        if (m < first || m > last) {
          var column = flow.columns[m];
          column.g.remove();
          if (column.label) { column.label.remove(); }
          delete flow.columns[m];
        }
      });
      for (var m = first; m <= last; m++) { if (!flow.columns[m]) { addColumn(m); drawColumn(m); } }
      var shift = "translate(" + (-xFor(first)) + ",0)";
      flow.shift.setAttribute("transform", shift);
      flow.labels.setAttribute("transform", shift);
    }

    // The whole chart, at the panel's current size (nothing while the panel is hidden).
    function buildFlow() {
      var box = flow.box || (flow.box = document.getElementById("wall-flow"));
      if (!box || !state.flowY) { return; }
      var r = box.getBoundingClientRect();
      var width = Math.round(r.width), height = Math.round(r.height);
      flow.size = width + "x" + height;
      if (flow.svg) { flow.svg.remove(); flow.svg = null; }
      flow.columns = {};
      if (width < 50 || height < 50) { return; } // hidden: built when it shows (the observer)
      var svg = svgEl("svg", {"class": "flow-svg", width: width, height: height, role: "img"});
      box.appendChild(svg);
      var font = flow.font = parseFloat(window.getComputedStyle(svg).fontSize) || 14;
      flow.width = width;
      // padR: room for the last x label, centred on a minute near the right edge.
      flow.padL = font * 3.0; flow.padR = font * 1.6; flow.padT = font * 0.75;
      var plotW = width - flow.padL - flow.padR;
      var plotH = flow.plotH = Math.max(10, height - flow.padT - font * 1.8);
      flow.step = plotW / state.windowSize;
      flow.origin = state.firstMinute;
      flow.tick = FLOW_TICKS.filter(function (t) { return t * flow.step >= font * 4.2; })[0] || 60;
      flow.yAxis = svgEl("g", {"class": "flow-yaxis"}, svg);
      // The bars and x labels are clipped to the plot's width: a nested svg clips what overflows.
      var plot = svgEl("svg", {x: flow.padL, y: flow.padT, width: plotW, height: plotH, "class": "flow-plot"}, svg);
      flow.shift = svgEl("g", {}, plot);
      flow.bars = svgEl("g", {"class": "flow-bars", "shape-rendering": "crispEdges"}, flow.shift);
      var under = svgEl("svg", {x: flow.padL - font * 2, y: flow.padT + plotH, width: plotW + font * 2 + flow.padR,
                                height: font * 1.8}, svg);
      var inner = svgEl("g", {transform: "translate(" + font * 2 + ",0)"}, under);
      flow.labels = svgEl("g", {"class": "flow-xlabels"}, inner);
      flow.svg = svg;
      setScale(yScale(highestStack()));
      placeWindow();
      state.flowMoved = false;
      state.flowChanged = {};
      state.flowDraws += 1;
    }

    // What changed since the last frame: at most a new column, a rescale and the changed minutes.
    function drawFlow() {
      if (!flow.svg) { state.flowChanged = {}; state.flowMoved = false; return; }
      var highest = null;
      if (state.flowMoved) {
        placeWindow();
        highest = highestStack();
        var fit = yScale(highest);
        if (fit.top < flow.top) { setScale(fit); } // the tall minute left the window
        state.flowMoved = false;
      }
      var minutes = Object.keys(state.flowChanged);
      state.flowChanged = {};
      var grown = minutes.some(function (m) { return stackAt(m - state.firstMinute) > flow.top; });
      if (grown) { setScale(yScale(highest === null ? highestStack() : highest)); }
      minutes.forEach(function (m) { drawColumn(Number(m)); });
      state.flowPatches += minutes.length;
    }

    // The panel's size changed (a resize, a screen switch showing it): draw it again at that size.
    if (window.ResizeObserver && document.getElementById("wall-flow")) {
      new window.ResizeObserver(function (entries) {
        var r = entries[0].contentRect;
        if (Math.round(r.width) + "x" + Math.round(r.height) !== flow.size) { buildFlow(); }
      }).observe(document.getElementById("wall-flow"));
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
      state.ticker = s.ticker.slice(0, config.ticker_rows);
      state.touched = null; // what was buffered before the snapshot is in it
      state.counters = Object.assign({}, s.counters);
      state.units = s.units;
      state.alerts = {};
      (s.alerts || []).forEach(function (a) { state.alerts[a.id] = a; });
      showCounters(state.counters); // first: the numbers are what a wall opened shows first
      showBanner({});
      showTicker(state.ticker, false);
      showUnits(state.units);
      showWarnings(s.warnings);
      markUpdated(s.server_time);
      state.windowSize = s.flow.length;
      state.firstMinute = minuteOf(s.flow[0].at);
      state.flowY = {};
      state.channels.forEach(function (ch) {
        state.flowY[ch] = s.flow.map(function (f) { return f.counts[ch] || 0; });
      });
      buildFlow();
      window.requestAnimationFrame(function () { setTimeout(loadMap, 0); }); // after this frame
    }

    // The live map's document (layouts/map.py wall_panel) goes into its frame once the first
    // numbers are on screen (or after MAP_LATEST_MS without a snapshot): its ~250 KB of folium
    // script and the city's drawing held the main thread before the numbers could show.
    var MAP_LATEST_MS = 3000;
    function loadMap() {
      var frame = document.getElementById("wall-map");
      var doc = frame && frame.getAttribute("data-document");
      if (!doc) { return; }
      frame.removeAttribute("data-document");
      frame.srcdoc = doc;
    }
    setTimeout(loadMap, MAP_LATEST_MS);

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
        if (e.event === "received") { countReceived(e.ticket); }
        if (e.event === "dispatched") {
          t.ticker.unshift(Object.assign({}, e.ticket, {event: e.event, at: e.at}));
        }
        if (e.event === "breach") { t.breaches.push(e.unit_row); }
        if (e.event === "alert" && e.alert) { applyAlert(e.alert, t); }
      });
      advanceTo(minuteOf(msg.server_time));
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
      drawFlow();
    }

    /* ------------------------------------------- a branch bureau's wall */
    // Its frames name only its subtree's tickets (the scoped room, dashboard/push.py); the
    // numbers are its subtree's snapshot, recomputed by the server (dashboard/live/branch.py).
    var reloadAsked = null;
    function loadBranch() {
      var url = "/api/v1/live/snapshot?lang=" + encodeURIComponent(config.lang) + "&unit=" + encodeURIComponent(config.unit);
      return (L.early(url) || fetch(url, {credentials: "same-origin"})).then(function (r) {
        if (!r.ok) { throw new Error("snapshot " + r.status); }
        return r.json();
      });
    }
    function branchMessage(msg, events) {
      if (!events.length || reloadAsked) { return; }
      reloadAsked = setTimeout(function () { reloadAsked = null; live.resync(); }, BRANCH_RELOAD_MS);
    }

    // Ready once the counters exist (the chart's panel is in the same layout).
    var branch = Boolean(config.unit);
    live = L.connect({ready: "wall-count-received_today", lang: config.lang, snapshot: applySnapshot,
                      message: branch ? branchMessage : applyMessage, flush: write, connection: showConnection,
                      scoped: branch, load: branch ? loadBranch : undefined,
                      auth: branch ? {unit: config.unit} : undefined});
    live.wall = state; // for the browser tests and debugging
    setInterval(tickClock, 1000);
  });
})();
