/* The wall's live heat map: pushed tickets -> the map's heat layer, in place.
 *
 * It follows the page's live connection (live.js, MinshengLive.whenConnected).
 * The map is a folium document in <iframe id="wall-map" srcdoc> (same origin; wall.js puts it
 * there after the first numbers show, so this script waits for the map to be ready;
 * no sandbox), whose own script exposes contentWindow.minshengMap
 * (static/map/minsheng-map.js). On every (re)loaded snapshot the window's points
 * and the open alerts are fetched (from where the page's live config says); pushed "received" tickets are
 * added to the heat layer and "alert" events to the markers. Events arriving
 * while that fetch is under way wait for it; ticket ids make a point that is
 * both fetched and pushed count once. The map is never reloaded, so its pan
 * and zoom stay as they are.
 */
(function () {
  "use strict";
  var FRAME_ID = "wall-map";
  var FLUSH_MS = 1000;
  var st = {
    queue: [], alerts: [], loading: false, loads: 0, applied: 0, latencies: [], registered: false,
    lastLoad: null, watching: false
  };
  window.minshengMapLive = st; // read by the browser tests

  function api() {
    var frame = document.getElementById(FRAME_ID);
    if (!frame) { return null; }
    try {
      var m = frame.contentWindow && frame.contentWindow.minshengMap;
      return m && m.ready ? m : null;
    } catch (e) { return null; } // not same-origin (should not happen): no live map
  }

  // Whether the map is on screen: a wall screen that hides it (wall_screens.css) skips the
  // redraws, and draws what waited once it shows the map again.
  var visible = true;
  function watch() {
    var frame = document.getElementById(FRAME_ID);
    if (!frame || !window.IntersectionObserver || st.watching) { return; }
    st.watching = true;
    new IntersectionObserver(function (entries) {
      visible = entries[entries.length - 1].isIntersecting;
      if (visible) { flush(); }
    }).observe(frame);
  }

  function flush() {
    var m = api();
    watch();
    if (!m || st.loading || !visible) { return; }
    if (st.queue.length) {
      var batch = st.queue;
      st.queue = [];
      m.addPoints(batch);
      var now = Date.now();
      batch.forEach(function (p) { if (p[5]) { st.latencies.push(now - p[5]); } });
      if (st.latencies.length > 500) { st.latencies.splice(0, st.latencies.length - 500); }
      st.applied += batch.length;
    }
    if (st.alerts.length) {
      var alerts = st.alerts;
      st.alerts = [];
      alerts.forEach(m.addAlert);
    }
  }

  function onEvents(events) {
    if (!document.getElementById(FRAME_ID)) { return; }
    var received = Date.now();
    events.forEach(function (e) {
      if (e.event === "received" && e.ticket && e.ticket.lat !== null && e.ticket.lat !== undefined) {
        var t = e.ticket;
        // [lat, lon, weight, t (s), ticket id, when it reached this page (ms)]
        st.queue.push([t.lat, t.lon, 1, Math.floor(Date.parse(t.received_at) / 1000), t.ticket_id, received]);
      } else if (e.event === "alert" && e.alert) {
        st.alerts.push(e.alert);
      }
    });
    // Drawn by the timer below, not per frame: the heat layer recolours its whole canvas
    // on every redraw, and a burst of pushes is one redraw.
  }

  function whenMapReady(fn) {
    var m = api();
    if (m) { fn(m); } else { setTimeout(function () { whenMapReady(fn); }, 100); }
  }

  function getJSON(url) {
    return fetch(url, {credentials: "same-origin"}).then(function (r) {
      if (!r.ok) { throw new Error(url + " " + r.status); }
      return r.json();
    });
  }

  function reload() {
    var sources = window.MinshengLive.config().map; // where, from the page (layouts/map.py: live_sources)
    if (!document.getElementById(FRAME_ID) || !sources) { return; }
    st.loading = true;
    Promise.all([getJSON(sources.points), getJSON(sources.alerts)])
      .then(function (answers) {
        whenMapReady(function (m) {
          m.setPoints(answers[0].points);
          m.setAlerts(answers[1].items);
          st.loads += 1;
          st.lastLoad = {points: answers[0].points.length, total: answers[0].total, aggregated: answers[0].aggregated};
          st.loading = false;
          flush(); // what was pushed meanwhile (already-fetched tickets are skipped by id)
        });
      })
      .catch(function () { setTimeout(reload, 2000); });
  }

  window.MinshengLive.whenConnected(function (live) {
    live.on("events", onEvents);
    live.on("snapshot", reload);
    st.registered = true;
  });
  // At most one redraw a second (leaflet.heat recolours its whole canvas each time: two a
  // second were a visible share of the wall's main thread at 10 tickets/s); the map document
  // may become ready after the first events.
  setInterval(flush, FLUSH_MS);
})();
