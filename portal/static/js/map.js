/*
 * map.js — the results map of /recherche (vendored Leaflet, no inline script or style:
 * Leaflet positions its panes through the CSSOM, which the CSP allows).
 *
 * Data come from the results' own markup, re-read after every htmx swap:
 *   <section id="resultats" data-lat data-lon data-rayon data-precision>
 *     <ol id="liste-resultats"><li class="result-card" id="carte-<id>" data-id data-lat
 *         data-lon data-nom data-rang>…
 *   <aside id="carte-zone" data-tiles data-attribution hidden><div id="carte"></div>
 *     <button id="carte-relancer" hidden>Relancer la recherche ici</button>
 *
 * Without a tile URL the map still shows the search circle, the numbered markers
 * and a scale on a plain background. Hovering or focusing a card highlights its
 * marker and the reverse; activating a marker (click, Enter) focuses its card.
 * After the user moves the map, "Relancer la recherche ici" searches around its
 * centre (lat, lon, rayon) through the search form, so the URL follows.
 */
(function () {
  "use strict";

  var state = { map: null, layer: null, markers: {}, fitting: false, key: "" };

  function zone() { return document.getElementById("carte-zone"); }
  function results() { return document.getElementById("resultats"); }
  function relaunch() { return document.getElementById("carte-relancer"); }

  function cards() {
    return Array.prototype.slice.call(
      document.querySelectorAll("#liste-resultats > li.result-card[data-lat][data-lon]")
    );
  }

  function createMap() {
    var panel = zone();
    if (!panel || !window.L) return null;
    panel.hidden = false; // Leaflet measures its container: show it first
    var map = L.map("carte", { zoomControl: false, keyboard: true, attributionControl: true });
    L.control.zoom({ zoomInTitle: "Zoomer", zoomOutTitle: "Dézoomer" }).addTo(map);
    L.control.scale({ imperial: false }).addTo(map);
    map.attributionControl.setPrefix("Leaflet");
    var tiles = panel.getAttribute("data-tiles");
    if (tiles) {
      L.tileLayer(tiles, {
        attribution: panel.getAttribute("data-attribution") || "",
        maxZoom: 18,
      }).addTo(map);
    } else {
      map.getContainer().classList.add("no-tiles");
    }
    map.on("moveend", function () {
      if (!state.fitting && relaunch()) relaunch().hidden = false;
    });
    state.layer = L.layerGroup().addTo(map);
    state.map = map;
    return map;
  }

  function setActive(id, on) {
    var marker = state.markers[id];
    var el = marker && marker.getElement();
    if (el) el.classList.toggle("is-active", on);
    if (marker) marker.setZIndexOffset(on ? 1000 : 0);
    var card = document.getElementById("carte-" + id);
    if (card) card.classList.toggle("is-active", on);
  }

  function addMarker(card) {
    var id = card.getAttribute("data-id");
    var rank = card.getAttribute("data-rang") || "";
    var name = card.getAttribute("data-nom") || "";
    var latlng = [parseFloat(card.getAttribute("data-lat")), parseFloat(card.getAttribute("data-lon"))];
    if (isNaN(latlng[0]) || isNaN(latlng[1])) return null;
    var icon = L.divIcon({ className: "map-marker", html: rank, iconSize: [26, 26], iconAnchor: [13, 13] });
    var marker = L.marker(latlng, { icon: icon, keyboard: true, title: name, riseOnHover: true });
    marker.on("add", function () {
      var el = marker.getElement();
      if (!el) return;
      el.setAttribute("aria-label", (rank ? rank + ". " : "") + name + " — aller à la fiche");
      el.setAttribute("data-id", id);
      el.addEventListener("focus", function () { setActive(id, true); });
      el.addEventListener("blur", function () { setActive(id, false); });
      // role="button": Enter and Space activate it (Leaflet only maps Enter to popups)
      el.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") {
          e.preventDefault();
          goToCard();
        }
      });
    });
    marker.on("mouseover", function () { setActive(id, true); });
    marker.on("mouseout", function () { setActive(id, false); });
    function goToCard() {
      var target = document.getElementById("carte-" + id);
      if (target) {
        target.scrollIntoView({ block: "nearest" });
        target.focus();
      }
    }
    marker.on("click", goToCard);
    marker.addTo(state.layer);
    state.markers[id] = marker;
    return marker;
  }

  /** Re-read the results and redraw the circle and markers. */
  function sync() {
    var section = results();
    var panel = zone();
    if (!panel) return;
    var lat = section ? parseFloat(section.getAttribute("data-lat")) : NaN;
    var lon = section ? parseFloat(section.getAttribute("data-lon")) : NaN;
    if (isNaN(lat) || isNaN(lon) || !window.L) {
      panel.hidden = true;
      return;
    }
    var radiusKm = parseFloat(section.getAttribute("data-rayon")) || 10;
    var map = state.map || createMap();
    if (!map) return;
    panel.hidden = false;
    map.invalidateSize(false);
    var list = cards();
    var key = [lat, lon, radiusKm].concat(list.map(function (c) { return c.id; })).join("|");
    if (key === state.key) return; // same results (e.g. a live calendar refresh)
    state.key = key;
    state.layer.clearLayers();
    state.markers = {};
    var centre = L.latLng(lat, lon);
    L.circle(centre, {
      radius: radiusKm * 1000, interactive: false, className: "search-circle",
    }).addTo(state.layer);
    L.circleMarker(centre, { radius: 4, interactive: false, className: "search-centre" }).addTo(state.layer);
    var bounds = centre.toBounds(radiusKm * 2000);
    list.forEach(function (card) {
      var marker = addMarker(card);
      if (marker) bounds.extend(marker.getLatLng());
    });
    state.fitting = true;
    try {
      map.setView(centre, 11, { animate: false });
      map.fitBounds(bounds, { animate: false, padding: [12, 12] });
    } finally {
      state.fitting = false;
    }
    if (relaunch()) relaunch().hidden = true;
  }

  /** Search around the map's centre, with the form's other criteria. */
  function searchHere() {
    var map = state.map;
    var form = document.getElementById("recherche");
    if (!map || !form || !window.htmx) return;
    var centre = map.getCenter();
    var bounds = map.getBounds();
    var half = Math.min(
      map.distance(centre, L.latLng(bounds.getNorth(), centre.lng)),
      map.distance(centre, L.latLng(centre.lat, bounds.getEast()))
    );
    var radiusKm = Math.max(1, Math.min(100, Math.round(half / 100) / 10));
    var where = form.querySelector("#lieu");
    var insee = form.querySelector("#lieu-insee");
    if (where) where.value = "";
    if (insee) insee.value = "";
    setParam(form, "lat", centre.lat.toFixed(5));
    setParam(form, "lon", centre.lng.toFixed(5));
    setParam(form, "rayon", String(radiusKm));
    relaunch().hidden = true;
    htmx.trigger(form, "submit");
  }

  function setParam(form, name, value) {
    var holder = document.getElementById("recherche-etat") || form;
    var input = holder.querySelector('input[type="hidden"][name="' + name + '"]');
    if (!input) {
      input = document.createElement("input");
      input.type = "hidden";
      input.name = name;
      input.setAttribute("data-map-param", "");
      holder.appendChild(input);
    }
    input.value = value;
  }

  // Card ↔ marker highlight (delegated: cards are replaced by htmx).
  function cardEvent(on) {
    return function (e) {
      var card = e.target.closest && e.target.closest("li.result-card[data-id]");
      if (card && !(e.relatedTarget && card.contains(e.relatedTarget))) {
        setActive(card.getAttribute("data-id"), on);
      }
    };
  }
  document.addEventListener("mouseover", cardEvent(true));
  document.addEventListener("mouseout", cardEvent(false));
  document.addEventListener("focusin", cardEvent(true));
  document.addEventListener("focusout", cardEvent(false));

  document.addEventListener("click", function (e) {
    if (e.target.closest && e.target.closest("#carte-relancer")) searchHere();
  });
  document.addEventListener("htmx:afterSettle", sync);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", sync);
  else sync();
})();
