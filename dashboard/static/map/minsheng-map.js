/* Minsheng map: runs INSIDE the folium map's document (geo/maps.py).
 *
 * geo/maps.py's register script calls minshengMap.init(map, heat, alerts, districts,
 * names, options) with the Leaflet objects folium created. A page holding the map in a
 * same-origin <iframe srcdoc> (the wall, dashboard/assets/map_live.js) then
 * reaches them as iframe.contentWindow.minshengMap and adds points and alerts
 * without reloading the map, so pan and zoom stay as they are.
 *
 * Heat points are [lat, lon, weight]; beside each the live map keeps
 * [t, id]: received time (epoch seconds) to drop points older than the
 * window, and the ticket id so a point pushed twice (a snapshot reload
 * overlapping a push) is counted once. At most options.cap points are kept,
 * the oldest dropped first.
 *
 * The view: options.bounds (the bureau's districts, or a focus) fitted into the map's
 * box with options.fitPadding pixels (times the screen's scale) around, widened on a
 * side where a district's name would reach past the edge (an English name is wider
 * than its district's corner). Fitted again whenever the box changes size, until
 * somebody moves the map by hand. Alerts' labels are decluttered (placeAlertLabels): close
 * alerts share one label ("+N"), and each label goes where it hides no other label, no
 * district's name and runs past no edge.
 */
(function () {
  "use strict";
  var M = window.minshengMap = window.minshengMap || {};
  M.ready = false;

  // The map's words, in its language (options.labels.text, from the screens' catalogue).
  function word(key) { return (M.o.labels && M.o.labels.text && M.o.labels.text[key]) || ""; }
  // A catalogue message: %(name)s filled from params (values already HTML where they need to be).
  function fill(template, params) {
    return String(template).replace(/%(?:\((\w+)\)s|%)/g, function (all, name) {
      return name === undefined ? "%" : String(params[name]);
    });
  }

  function esc(text) {
    return String(text === null || text === undefined ? "" : text).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;"}[c];
    });
  }

  // Sizes follow the screen, as on the wall (1 at 1920x1080, 2 at 3840x2160): the
  // top page's size when the map is in a same-origin iframe, its own otherwise.
  function screenScale() {
    var w = window.innerWidth, h = window.innerHeight;
    try { if (window.top && window.top !== window) { w = window.top.innerWidth; h = window.top.innerHeight; } } catch (e) { /* own size */ }
    return Math.max(1, Math.min(w / 1920, h / 1080));
  }

  function rescale() {
    var scale = screenScale();
    if (scale === M.scale) { return; }
    M.scale = scale;
    document.documentElement.style.setProperty("--ms-scale", String(scale));
    M.heat.setOptions({radius: M.heatSize.radius * scale, blur: M.heatSize.blur * scale});
  }

  /* ------------------------------------------------------------ the view */
  // The room each side of the map still needs (px): where a district's name reaches past the
  // edge, or a district lies under the map's own boxes (its title, its controls).
  function crowding(margin) {
    var box = M.map.getContainer().getBoundingClientRect(), bounds = L.latLngBounds(M.o.bounds);
    var need = {top: 0, right: 0, bottom: 0, left: 0};
    function more(side, px) { need[side] = Math.max(need[side], px); }
    M.names.eachLayer(function (marker) {
      var el = marker.getElement() && marker.getElement().firstElementChild;
      if (!el || !bounds.contains(marker.getLatLng())) { return; }
      var r = el.getBoundingClientRect();
      more("top", box.top + margin - r.top);
      more("left", box.left + margin - r.left);
      more("bottom", r.bottom - (box.bottom - margin));
      more("right", r.right - (box.right - margin));
    });
    var areas = [];
    M.districts.eachLayer(function (district) {
      var b = district.getBounds();
      if (!bounds.intersects(b)) { return; }
      var nw = M.map.latLngToContainerPoint(b.getNorthWest()), se = M.map.latLngToContainerPoint(b.getSouthEast());
      areas.push({left: box.left + nw.x, top: box.top + nw.y, right: box.left + se.x, bottom: box.top + se.y});
    });
    document.querySelectorAll(".ms-title, .leaflet-control").forEach(function (el) {
      var r = el.getBoundingClientRect();
      if (!r.width || !r.height) { return; }
      var upper = (r.top + r.bottom) / 2 < (box.top + box.bottom) / 2;
      areas.forEach(function (a) {
        if (a.left >= r.right || a.right <= r.left || a.top >= r.bottom || a.bottom <= r.top) { return; }
        if (upper) { more("top", r.bottom + margin - a.top); } else { more("bottom", a.bottom - (r.top - margin)); }
      });
    });
    return need;
  }

  M.fit = function () {
    if (!M.o.bounds) { return; }
    var base = Math.round((M.o.fitPadding || 0) * M.scale), margin = Math.round(4 * M.scale);
    var pad = {top: base, right: base, bottom: base, left: base}, rounds = 0, moved = true;
    // The live legend keeps a strip at the bottom, whatever is under it: it widens as its count grows.
    var legend = document.getElementById("ms-legend");
    if (legend && legend.offsetHeight) {
      pad.bottom = Math.max(pad.bottom, Math.ceil(M.map.getContainer().getBoundingClientRect().bottom -
                                                  legend.getBoundingClientRect().top + margin));
    }
    // Zooming out brings every name and district inwards: a few rounds settle it.
    while (moved && rounds < 4) {
      rounds += 1;
      M.map.fitBounds(M.o.bounds, {paddingTopLeft: [pad.left, pad.top], paddingBottomRight: [pad.right, pad.bottom],
                                   animate: false});
      var need = crowding(margin);
      moved = false;
      ["top", "right", "bottom", "left"].forEach(function (side) {
        if (need[side] > 0.5) { pad[side] += Math.ceil(need[side]); moved = true; }
      });
    }
    M.fitted = {padding: pad, zoom: M.map.getZoom(), rounds: rounds}; // for the browser tests
    M.placeAlertLabels();
  };

  M.init = function (map, heat, alertLayer, districts, names, options) {
    M.map = map; M.heat = heat; M.alertLayer = alertLayer; M.districts = districts; M.names = names;
    M.o = options || {};
    M.heatSize = {radius: heat.options.radius, blur: heat.options.blur};
    rescale();
    M.meta = (M.o.meta && M.o.meta.length === heat._latlngs.length) ? M.o.meta.slice() : heat._latlngs.map(function () { return [null, null]; });
    M.seen = {};
    M.meta.forEach(function (m) { if (m[1] !== null && m[1] !== undefined) { M.seen[m[1]] = true; } });
    M.added = 0;
    if (map.attributionControl) { map.attributionControl.setPrefix(false); }
    L.control.scale({imperial: false, position: "bottomleft"}).addTo(map);
    var zoomClass = function () {
      var c = map.getContainer();
      if (map.getZoom() >= (M.o.stationLabelZoom || 12)) { c.classList.add("ms-show-stations"); } else { c.classList.remove("ms-show-stations"); }
    };
    map.on("zoomend", zoomClass);
    // Somebody moved the map: their view stays, whatever the box does.
    M.autoFit = true;
    ["mousedown", "wheel", "touchstart", "keydown"].forEach(function (kind) {
      map.getContainer().addEventListener(kind, function () { M.autoFit = false; }, {passive: true});
    });
    map.on("resize", function () {
      rescale();
      if (M.autoFit) { M.fit(); } else { M.placeAlertLabels(); }
    });
    map.on("moveend", function () { M.placeAlertLabels(); });
    M.markers = {};
    M.ready = true;
    M.legend(); // shown before the fit, which keeps its strip clear
    M.fit();
    zoomClass();
    (M.o.alerts || []).forEach(M.addAlert);
    if (M.o.live) { setInterval(function () { M.prune(); }, 60000); }
  };

  /* ------------------------------------------------------------ points */
  M.count = function () { return M.heat ? M.heat._latlngs.length : 0; };
  M.total = function () {
    var n = 0, l = M.heat._latlngs;
    for (var i = 0; i < l.length; i++) { n += l[i][2] || 1; }
    return n;
  };

  // Replace every point: list of [lat, lon, weight, t, id].
  M.setPoints = function (list) {
    var latlngs = [], meta = [];
    M.seen = {};
    list.forEach(function (p) {
      latlngs.push([p[0], p[1], p[2] || 1]);
      meta.push([p[3] === undefined ? null : p[3], p[4] === undefined ? null : p[4]]);
      if (p[4] !== null && p[4] !== undefined) { M.seen[p[4]] = true; }
    });
    M.meta = meta;
    M.heat.setLatLngs(latlngs);
    M.trim();
    M.legend();
  };

  // Add points (same shape); returns how many were new.
  M.addPoints = function (list) {
    var fresh = 0, l = M.heat._latlngs;
    list.forEach(function (p) {
      var id = p[4];
      if (id !== null && id !== undefined) {
        if (M.seen[id]) { return; }
        M.seen[id] = true;
      }
      l.push([p[0], p[1], p[2] || 1]);
      M.meta.push([p[3] === undefined ? null : p[3], id === undefined ? null : id]);
      fresh += 1;
    });
    if (fresh) {
      M.added += fresh;
      M.trim();
      M.heat.redraw(); // leaflet.heat batches redraws into one animation frame
      M.legend();
    }
    return fresh;
  };

  M.trim = function () {
    var cap = M.o.cap || 20000, l = M.heat._latlngs;
    if (l.length <= cap) { return 0; }
    var drop = l.length - cap;
    M.meta.splice(0, drop).forEach(function (m) { if (m[1] !== null) { delete M.seen[m[1]]; } });
    l.splice(0, drop);
    return drop;
  };

  // Drop points older than the window (a rolling window on the wall).
  M.prune = function (nowMs) {
    var cutoff = ((nowMs || Date.now()) / 1000) - (M.o.windowSeconds || 86400);
    var keep = [], meta = [], l = M.heat._latlngs;
    for (var i = 0; i < l.length; i++) {
      var t = M.meta[i][0];
      if (t === null || t >= cutoff) { keep.push(l[i]); meta.push(M.meta[i]); } else if (M.meta[i][1] !== null) { delete M.seen[M.meta[i][1]]; }
    }
    if (keep.length !== l.length) { M.meta = meta; M.heat.setLatLngs(keep); M.legend(); }
    return l.length - keep.length;
  };

  M.legend = function () {
    var el = document.getElementById("ms-legend");
    if (!el || !M.heat) { return; }
    var hours = Math.round((M.o.windowSeconds || 86400) / 3600);
    var open = Object.keys(M.markers).length;
    el.innerHTML = fill(esc(word("legend_live")), {
      count: '<span class="ms-legend-n">' + M.total().toLocaleString("zh-CN") + "</span>", hours: hours}) +
      (open ? '<span class="ms-legend-alerts">' + esc(fill(word("legend_alerts"), {count: open})) + "</span>" : "");
  };

  /* ------------------------------------------------------------ alerts */
  function alertLabel(a) {
    var topic = (M.o.labels && M.o.labels.topics && M.o.labels.topics[a.topic]) || a.topic_label || a.topic;
    var kind = word(a.kind === "surge" ? "kind_surge" : "kind_recurring");
    var label = fill(word("alert_label"), {topic: topic, kind: kind, count: a.count});
    return a.acknowledged_at ? fill(word("alert_acknowledged"), {label: label}) : label;
  }

  M.addAlert = function (a) {
    if (!a || a.id === undefined) { return; }
    var old = M.markers[a.id];
    if (old) { M.alertLayer.removeLayer(old); delete M.markers[a.id]; }
    if (a.status === "closed" || a.lat === null || a.lon === null) { M.legend(); return; }
    var icon = L.divIcon({
      // Acknowledged (已阅): somebody has it; it stops pulsing for attention.
      className: "ms-alert ms-alert-" + a.kind + (a.acknowledged_at ? " ms-alert-acknowledged" : ""),
      iconSize: [0, 0], iconAnchor: [0, 0],
      html: '<span class="ms-alert-pulse"></span><span class="ms-alert-dot"></span>' +
            '<span class="ms-alert-label">' + esc(alertLabel(a)) + "</span>"
    });
    var marker = L.marker([a.lat, a.lon], {icon: icon, keyboard: false, zIndexOffset: 1000});
    marker.bindTooltip(esc((a.area_name ? a.area_name + "：" : "") + a.reason), {direction: "top", className: "ms-tip"});
    marker.alert = a;
    marker.addTo(M.alertLayer);
    M.markers[a.id] = marker;
    M.placeAlertLabels();
    M.legend();
  };

  // Alerts' labels, decluttered: alerts whose dots are close together (a surge and a recurring
  // issue of one street, several surges in one district) show one label, the most pressing
  // one's, with "+N" for the others (their dots stay; each has its tooltip). Each label then
  // takes the first place around its dot (right, left, above or below, each side) that overlaps
  // no other alert's label, no district's name and no edge of the map; failing that, one that
  // overlaps no other alert's label; failing that, right of the dot (left near the right edge).
  // All read, then all written: at most two layouts however many alerts.
  var PLACES = [["", 0], ["ms-alert-left", 0], ["", -1], ["", 1], ["ms-alert-left", -1], ["ms-alert-left", 1]];
  function pressing(a, b) {
    return (a.alert.acknowledged_at ? 1 : 0) - (b.alert.acknowledged_at ? 1 : 0) ||
      (a.alert.kind === "surge" ? 0 : 1) - (b.alert.kind === "surge" ? 0 : 1) || b.alert.count - a.alert.count;
  }
  function overlaps(r, list) {
    return list.some(function (o) { return r.left < o.right && o.left < r.right && r.top < o.bottom && o.top < r.bottom; });
  }
  M.placeAlertLabels = function () {
    if (!M.map || !M.markers) { return; }
    var gap = 10 * M.scale; // .ms-alert-label's left in minsheng-map.css
    var items = Object.keys(M.markers).map(function (id) {
      var marker = M.markers[id], icon = marker.getElement();
      var label = icon && icon.querySelector(".ms-alert-label");
      // Every label shown, to be measured (one grouped last time has no size while hidden).
      if (label) { icon.classList.remove("ms-alert-grouped"); }
      return label ? {icon: icon, label: label, alert: marker.alert, more: label.querySelector(".ms-alert-more")} : null;
    }).filter(Boolean).sort(pressing);
    if (!items.length) { return; }
    var box = M.map.getContainer().getBoundingClientRect();
    // What a label must not hide: the districts' names, the legend and the map's controls.
    var names = Array.prototype.map.call(
      document.querySelectorAll(".ms-label-district, .ms-legend, .leaflet-control"), function (n) {
        return n.getBoundingClientRect();
      }).filter(function (r) { return r.width > 0; });
    items.forEach(function (it) {
      var r = it.icon.getBoundingClientRect();
      it.x = r.left; it.y = r.top;
      it.w = it.label.offsetWidth; it.h = it.label.offsetHeight;
    });
    // Groups: each alert joins the first more pressing one whose dot is within a label's height.
    var leaders = [];
    items.forEach(function (it) {
      var near = it.h * 1.6;
      var leader = leaders.filter(function (l) { return Math.abs(l.x - it.x) < near * 2 && Math.abs(l.y - it.y) < near; })[0];
      if (leader) { leader.members += 1; it.leader = leader; } else { it.members = 0; leaders.push(it); }
    });
    var badge = M.scale * 22; // room for "+N"
    var placed = [], shown = [];
    leaders.forEach(function (l) {
      var w = l.w + (l.members ? badge : 0);
      var spots = PLACES.map(function (p) {
        var left = p[0] ? l.x - gap - w : l.x + gap;
        var top = l.y - l.h / 2 + p[1] * (l.h * 0.5 + gap * 0.6);
        return {cls: p[0], up: p[1], rect: {left: left, right: left + w, top: top, bottom: top + l.h}};
      });
      var inside = function (s) { return s.rect.left >= box.left && s.rect.right <= box.right && s.rect.top >= box.top && s.rect.bottom <= box.bottom; };
      var spot = spots.filter(function (s) { return inside(s) && !overlaps(s.rect, placed) && !overlaps(s.rect, names); })[0] ||
        spots.filter(function (s) { return inside(s) && !overlaps(s.rect, placed); })[0];
      if (!spot && shown.length) { // nowhere free: it joins the nearest shown label's "+N"
        var nearest = shown.slice().sort(function (a, b) {
          return Math.hypot(a.x - l.x, a.y - l.y) - Math.hypot(b.x - l.x, b.y - l.y);
        })[0];
        nearest.members += 1 + l.members;
        l.leader = nearest;
        items.forEach(function (it) { if (it.leader === l) { it.leader = nearest; } });
        return;
      }
      l.spot = spot || (l.x + gap + w > box.right ? spots[1] : spots[0]);
      placed.push(l.spot.rect);
      shown.push(l);
    });
    items.forEach(function (it) {
      var leads = !it.leader, cls = leads ? it.spot.cls : "";
      it.icon.classList.toggle("ms-alert-left", cls === "ms-alert-left");
      it.icon.classList.toggle("ms-alert-up", leads && it.spot.up < 0);
      it.icon.classList.toggle("ms-alert-down", leads && it.spot.up > 0);
      it.icon.classList.toggle("ms-alert-grouped", !leads);
      var more = leads && it.members ? "+" + it.members : "";
      if (!it.more && more) { it.more = document.createElement("span"); it.more.className = "ms-alert-more"; it.label.appendChild(it.more); }
      if (it.more && it.more.textContent !== more) { it.more.textContent = more; }
    });
  };

  M.setAlerts = function (list) {
    M.alertLayer.clearLayers();
    M.markers = {};
    (list || []).forEach(M.addAlert);
    M.legend();
  };
  M.alertCount = function () { return Object.keys(M.markers).length; };
})();
