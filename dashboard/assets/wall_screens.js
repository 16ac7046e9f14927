/* The wall's screens (layouts/wall_screens.py): a playlist's rotation, the duty list, and
 * reloading once, at a quiet moment, when a new release is deployed.
 *
 * Rotation changes the class on the page's root (wall-screen-<name>; assets/wall_screens.css
 * says what each screen shows): the page, its socket and its live state stay as they are,
 * and each panel was kept current while hidden. The page and the map's iframe are told the
 * size changed (the flow chart follows its panel's size by itself: a ResizeObserver).
 *
 * The duty list comes with each snapshot and is fetched again (at most every DUTY_RELOAD_MS)
 * when pushed events arrive, since any step may start or stop a clock.
 *
 * A new release: every snapshot names the server's build (dashboard/build.py); the wall
 * fetches one after every reconnect, and a release restarts the server. When the build
 * differs from the one the page was loaded with, the page reloads once nothing has been
 * pushed for QUIET_MS and no animation (a new ticker row's highlight) is running, or after
 * RELOAD_LATEST_MS whatever happens; at most once per RELOAD_GAP_MS (sessionStorage), so two
 * servers of different releases behind one balancer cannot make it reload in a loop.
 */
(function () {
  "use strict";
  var DUTY_RELOAD_MS = 2000;
  var QUIET_MS = 5000;
  var RELOAD_LATEST_MS = 10 * 60000;
  var RELOAD_GAP_MS = 5 * 60000;
  var RELOAD_KEY = "minsheng-build-reload";
  var L = window.MinshengLive;

  L.whenConnected(function (live) {
    var config = L.config();
    if (!config.screens) { return; } // not a wall
    var text = config.screen_text || {};
    var root = document.querySelector(".wall");
    var wall = window.minshengWall = {screen: config.screens[0], switches: 0, build: null, newBuild: null,
                                      lastPush: Date.now(), dutyLoads: 0};

    /* ------------------------------------------------------ rotation */
    function show(name) {
      root.className = root.className.replace(/\bwall-screen-\S+/, "wall-screen-" + name);
      wall.screen = name;
      window.dispatchEvent(new Event("resize")); // the ticker counts the rows that fit again
      var frame = document.getElementById("wall-map");
      if (frame && frame.contentWindow) { frame.contentWindow.dispatchEvent(new Event("resize")); }
    }
    if (config.screens.length > 1) {
      var at = 0;
      setInterval(function () {
        at = (at + 1) % config.screens.length;
        show(config.screens[at]);
        wall.switches += 1;
      }, config.every * 1000);
    }

    /* ----------------------------------------------------- duty list */
    var dutyAsked = null;
    function cell(tr, className, content) {
      var td = document.createElement("td");
      td.className = className;
      td.textContent = content;
      tr.appendChild(td);
    }
    function showDuty(rows) {
      var body = document.getElementById("wall-duty");
      if (!body || !rows) { return; }
      var fresh = document.createDocumentFragment();
      rows.forEach(function (r) {
        var tr = document.createElement("tr");
        tr.className = "duty-row duty-" + r.state;
        cell(tr, "d-state", text[r.state] || r.state);
        cell(tr, "d-clock", text[r.clock] || r.clock);
        cell(tr, "d-number", r.number || "");
        cell(tr, "d-topic", (live.labels && live.labels.topics_short[r.topic]) || r.topic || "");
        cell(tr, "d-unit", r.unit_name || r.district || "");
        cell(tr, "d-due", r.due_at ? L.time(r.due_at, config.timezone, "minute") : "");
        fresh.appendChild(tr);
      });
      body.textContent = "";
      body.appendChild(fresh);
    }
    function reloadDuty() {
      dutyAsked = null;
      var url = "/api/v1/live/duty" + (config.unit ? "?unit=" + encodeURIComponent(config.unit) : "");
      fetch(url, {credentials: "same-origin"})
        .then(function (r) { if (!r.ok) { throw new Error("duty " + r.status); } return r.json(); })
        .then(function (body) { wall.dutyLoads += 1; showDuty(body.rows); })
        .catch(function () {});
    }

    /* --------------------------------------------------- new release */
    function quiet() {
      var animating = document.getAnimations ? document.getAnimations().some(function (a) {
        return a.playState === "running";
      }) : false;
      return Date.now() - wall.lastPush >= QUIET_MS && !animating;
    }
    function reloadForRelease() {
      try {
        var last = Number(window.sessionStorage.getItem(RELOAD_KEY) || 0);
        if (Date.now() - last < RELOAD_GAP_MS) { return; }
        window.sessionStorage.setItem(RELOAD_KEY, String(Date.now()));
      } catch (e) { return; } // no storage: never risk a reload loop
      window.location.reload();
    }
    setInterval(function () {
      if (wall.newBuild && (quiet() || Date.now() - wall.newBuildAt >= RELOAD_LATEST_MS)) { reloadForRelease(); }
    }, 1000);

    live.on("snapshot", function (s) {
      wall.lastPush = Date.now(); // a snapshot changes the screen too: after a reconnect it is catching up
      live.labels = s.labels;
      showDuty(s.duty);
      if (wall.build === null) { wall.build = s.build; }
      else if (s.build !== wall.build && !wall.newBuild) { wall.newBuild = s.build; wall.newBuildAt = Date.now(); }
    });
    live.on("events", function () {
      wall.lastPush = Date.now();
      if (!dutyAsked && config.screens.indexOf("duty") >= 0) { dutyAsked = setTimeout(reloadDuty, DUTY_RELOAD_MS); }
    });
  });
})();
