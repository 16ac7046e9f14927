/* Minsheng live screens: the shared browser module (window.MinshengLive).
 *
 * What every live screen needs, kept here once (the wall today; a work desk
 * with live queues and a duty console next):
 *  - one Socket.IO connection to /live per page, and its state;
 *  - pushed messages buffered and handled in the next animation frame, in
 *    order, all that arrived since the last one together: a burst is applied in
 *    one frame, so a screen writes once per frame (Dash merges rapid updates of
 *    one prop, and a callback per pushed event loses events); a timer every
 *    FLUSH_MS is the backstop while no frame runs (a hidden page, a snapshot
 *    still loading);
 *  - the (epoch, seq) bookkeeping: start from a snapshot, apply only events
 *    after its seq, reload the snapshot on a gap, a new epoch or a reconnect;
 *  - writes into Dash with dash_clientside.set_props only once the element
 *    exists (set_props on a component not rendered yet is silently dropped);
 *  - a lost grant (kiosk token revoked, login ended): the page reloads, so
 *    the server's page says why instead of a screen frozen on old numbers.
 * A screen's script copies no server rule: the bureau's time zone, its words
 * and its rules come from the page's live marker (layouts/live.py), JSON in
 * its data-config attribute.
 *
 * API
 *   MinshengLive.screen(name, start)
 *       Registers a screen's script. When the marker with data-screen=name has
 *       rendered (callbacks/live.py fires dash_clientside.live.start), start(config)
 *       runs once, config being the marker's JSON (lang, timezone, text, rules).
 *   MinshengLive.connect(options) -> live
 *       Opens the page's connection (one per page). options:
 *         ready: id of the element that must exist before anything is applied
 *         lang: the snapshot's language
 *         snapshot(s): a (re)loaded snapshot; replace the screen's state
 *         message(msg, events): one pushed message, in order; events: only those
 *           after the applied seq (live.seq is already the last of them)
 *         flush(): after the messages of one round; write what changed into Dash
 *         connection(ok): the socket connected (true) or dropped (false)
 *         scoped: true for a work screen: it takes the "scoped" stream (its user's units
 *           only: frames {events: [{seq, event, number}], prev, epoch}) instead of the wall's, and
 *         auth: sent with the socket's handshake (a branch wall's {unit: code})
 *         load(): its own snapshot, a Promise of {epoch, seq, ...} (read the position
 *           first, then the rows: see /api/v1/queues/<screen>)
 *   live.on("events", fn) / live.on("snapshot", fn)
 *       Other scripts on the page (a panel) follow the same stream: fn(events) gets
 *       every applied event once, in seq order; fn(snapshot) each (re)loaded snapshot.
 *   live.epoch, .seq, .loading, .connected, .resyncs, .applied, .lastServerTime
 *   MinshengLive.whenConnected(fn)   fn(live) once the page's connection exists
 *   MinshengLive.setProps(id, props[, present]) set_props if the element exists (or, for a
 *                                  component that renders none, a dcc.Store: the element
 *                                  ``present`` that shows its page is up); returns whether it did
 *   MinshengLive.exists(id)
 *   MinshengLive.early(url)   the answer (a Promise of a Response) to the fetch of url the page's
 *                             <head> started (a wall's first snapshot), once; else null
 *   MinshengLive.format(template, params)  fills a catalogue message's %(name)s
 *   MinshengLive.time(when, tz, style)     "minute" (HH:MM), "second" (HH:MM:SS) or
 *                                          "datetime", in the bureau's zone
 *   MinshengLive.el(type, className, children, key, props)  an html component for set_props children
 *                                                 (props: more of its props, e.g. {href: …})
 * window.minshengLive is the page's connection (read by the browser tests).
 */
(function () {
  "use strict";
  var FLUSH_MS = 250;
  var MARKER_ID = "live-screen";
  var SNAPSHOT_URL = "/api/v1/live/snapshot";
  var GRANT_RELOAD_MS = 60000;
  // The bureau's way of writing dates and times (year/month/day, 24 hours), in every language.
  var FORMAT_LOCALE = "zh-CN";

  var screens = {};
  var waiting = [];
  var page = null;

  function exists(id) { return document.getElementById(id) !== null; }

  function setProps(id, props, present) {
    if (!exists(present || id) || !window.dash_clientside) { return false; }
    window.dash_clientside.set_props(id, props);
    return true;
  }

  function format(template, params) {
    return String(template).replace(/%(?:\((\w+)\)s|%)/g, function (all, name) {
      if (name === undefined) { return "%"; }
      var value = params ? params[name] : undefined;
      return value === undefined || value === null ? "" : String(value);
    });
  }

  // One Intl.DateTimeFormat per zone and style, kept: toLocaleTimeString(locale, options) builds
  // one per call, a visible share of a wall's script at ten ticker rows a second. The options
  // are what toLocaleString / toLocaleTimeString fill in themselves, so the text is the same.
  var formats = {};
  var STYLES = {
    datetime: {year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric", second: "numeric"},
    minute: {hour: "2-digit", minute: "2-digit"},
    second: {hour: "numeric", minute: "numeric", second: "numeric"}
  };
  function time(when, tz, style) {
    var d = when instanceof Date ? when : new Date(when);
    var key = tz + "|" + style;
    var f = formats[key];
    if (!f) {
      f = formats[key] = new Intl.DateTimeFormat(FORMAT_LOCALE, Object.assign(
        {timeZone: tz, hour12: false}, STYLES[style] || STYLES.second));
    }
    return f.format(d);
  }

  // The answer to a fetch of `url` the page's <head> started before anything loaded (the first
  // snapshot of a wall: layouts/live.py), once; null for any other URL or a second time.
  function early(url) {
    var asked = window.minshengEarly;
    if (!asked || asked.url !== url) { return null; }
    window.minshengEarly = null;
    return asked.answer;
  }

  function el(type, className, children, key, more) {
    var props = Object.assign({}, more, {className: className, children: children});
    if (key !== undefined) { props.key = key; } // lets React keep rows that did not change
    return {type: type, namespace: "dash_html_components", props: props};
  }

  function config() {
    var marker = document.getElementById(MARKER_ID);
    var raw = marker && marker.getAttribute("data-config");
    return raw ? JSON.parse(raw) : {};
  }

  /* ------------------------------------------------------- connection */
  function connect(options) {
    if (page) { return page; }
    var buffer = [];
    var listeners = {events: [], snapshot: []};
    var live = page = window.minshengLive = {
      epoch: null, seq: 0, loading: false, connected: false, resyncs: 0, applied: 0,
      lastServerTime: null, socket: null,
      on: function (kind, fn) { listeners[kind].push(fn); }
    };

    function notify(kind, payload) {
      listeners[kind].forEach(function (fn) {
        try { fn(payload); } catch (err) { if (window.console) { console.error(err); } }
      });
    }

    function snapshotUrl() { return SNAPSHOT_URL + "?lang=" + encodeURIComponent(options.lang || ""); }

    function fetchSnapshot() {
      if (options.load) { return options.load(); }
      return (early(snapshotUrl()) || fetch(snapshotUrl(), {credentials: "same-origin"}))
        .then(function (r) {
          if (r.status === 401) { grantLost(); }
          if (!r.ok) { throw new Error("snapshot " + r.status); }
          return r.json();
        });
    }

    function resync() {
      if (live.loading) { return; }
      live.loading = true;
      live.resyncs += 1;
      fetchSnapshot()
        .then(function (s) {
          if (!exists(options.ready)) { throw new Error("screen not rendered yet"); }
          options.snapshot(s);
          var position = s.counters || s;
          live.epoch = position.epoch;
          live.seq = position.seq;
          live.lastServerTime = s.server_time;
          notify("snapshot", s);
          live.loading = false;
          flush(); // what arrived while it loaded
        })
        .catch(function () {
          live.loading = false;
          setTimeout(resync, 1000);
        });
    }
    live.resync = resync;

    // The kiosk token was revoked or the login ended: reload, so the server's
    // page says why. At most once a minute.
    function grantLost() {
      try {
        var last = Number(window.sessionStorage.getItem("minsheng-grant-reload") || 0);
        if (Date.now() - last < GRANT_RELOAD_MS) { return; }
        window.sessionStorage.setItem("minsheng-grant-reload", String(Date.now()));
      } catch (e) { return; } // no storage: never risk a reload loop
      window.location.reload();
    }

    // The server refused or dropped the socket (it does not retry by itself then).
    function recheck(socket) {
      fetch(snapshotUrl(), {credentials: "same-origin"})
        .then(function (r) { if (r.status === 401) { grantLost(); } })
        .catch(function () {})
        .then(function () { setTimeout(function () { if (!socket.connected) { socket.connect(); } }, 2000); });
    }

    // One pushed message: false when it cannot follow what is applied (reload the snapshot).
    function handle(msg) {
      var events = options.scoped ? followScoped(msg) : follow(msg);
      if (!events) { return false; }
      if (events.length) {
        notify("events", events);
        live.seq = events[events.length - 1].seq;
        live.applied += events.length;
      }
      live.lastServerTime = msg.server_time;
      options.message(msg, events);
      return true;
    }

    // A wall's message: its events after those applied, or null when they do not follow them.
    function follow(msg) {
      var c = msg.counters;
      if (c.epoch !== live.epoch) { return null; }
      var events = msg.events.filter(function (e) { return e.seq > live.seq; });
      if (events.length && events[0].seq !== live.seq + 1) { return null; } // a gap
      if (!events.length && c.seq > live.seq) { return null; } // missed a whole batch
      return events;
    }

    // A work screen's frame: its room's events only, so seqs skip; ``prev`` names the room's
    // frame before this one, and a screen that has not seen it missed a frame (null).
    function followScoped(msg) {
      if (msg.epoch !== live.epoch) { return null; }
      if (msg.prev > live.seq) { return null; }
      return msg.events.filter(function (e) { return e.seq > live.seq; });
    }

    function flush() {
      if (live.loading || live.epoch === null || !buffer.length) { return; }
      if (!exists(options.ready)) { return; }
      while (buffer.length) {
        if (!handle(buffer.shift())) {
          buffer.length = 0; // the snapshot covers everything buffered so far
          resync();
          break;
        }
      }
      options.flush();
    }

    // auth: e.g. a branch wall's {unit: code} (dashboard/push.py joins its subtree's room only).
    var socket = window.io("/live", {transports: ["websocket"], reconnectionDelayMax: 5000, auth: options.auth || {}});
    live.socket = socket;
    // The first snapshot is fetched at once, not after the socket's handshake: the first
    // numbers show sooner. Events sent before the socket joined are not in its frames; the
    // next frame's seq (a frame follows every change, and one every few seconds) shows the gap.
    var first = true;
    socket.on("connect", function () {
      live.connected = true;
      options.connection(true);
      if (!first) { resync(); } // a reconnect: what was missed meanwhile
      first = false;
    });
    socket.on("disconnect", function (reason) {
      live.connected = false;
      options.connection(false);
      if (reason === "io server disconnect") { recheck(socket); } // dropped: its grant was revoked?
    });
    socket.on("connect_error", function () { if (!socket.active) { recheck(socket); } }); // refused
    // One flush per animation frame, whatever number of frames arrived since the last.
    var frameAsked = false;
    function inFrame() { frameAsked = false; flush(); }
    socket.on(options.scoped ? "scoped" : "live", function (msg) {
      buffer.push(typeof msg === "string" ? JSON.parse(msg) : msg);
      if (!frameAsked) { frameAsked = true; window.requestAnimationFrame(inFrame); }
    });
    setInterval(flush, FLUSH_MS);
    resync();
    waiting.splice(0).forEach(function (fn) { fn(live); });
    return live;
  }

  function whenConnected(fn) {
    if (page) { fn(page); } else { waiting.push(fn); }
  }

  /* ------------------------------------------------------------ start */
  var started = false;

  function start() {
    var marker = document.getElementById(MARKER_ID);
    if (!marker) { return; }
    var name = marker.getAttribute("data-screen");
    // The vendored socket.io client and the screen's own script may still be loading.
    if (typeof window.io !== "function" || !screens[name]) { setTimeout(start, 50); return; }
    screens[name](config());
  }

  window.MinshengLive = {
    screen: function (name, fn) { screens[name] = fn; },
    connect: connect,
    whenConnected: whenConnected,
    setProps: setProps,
    exists: exists,
    format: format,
    time: time,
    early: early,
    el: el,
    config: config
  };

  window.dash_clientside = window.dash_clientside || {};
  window.dash_clientside.live = {
    start: function () {
      if (!started) { started = true; setTimeout(start, 0); }
      return "live-screen live-started";
    }
  };
})();
