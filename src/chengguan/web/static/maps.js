/* Leaflet helpers: an offline-first base map (no tiles unless configured) and the district boundaries. */
(function () {
  "use strict";
  const CG = (window.CG = window.CG || {});
  const HANGZHOU = [30.25, 120.16];

  CG.makeMap = function (el, options) {
    const cfg = JSON.parse(el.dataset.map || "{}");
    const map = L.map(el, Object.assign({ center: HANGZHOU, zoom: 9, zoomSnap: 0.25, preferCanvas: false }, options || {}));
    map.attributionControl.setPrefix('<a href="https://leafletjs.com" title="Leaflet">Leaflet</a>');
    if (cfg.tile_url) {
      L.tileLayer(cfg.tile_url, { attribution: cfg.tile_attribution || "", maxZoom: 19 }).addTo(map);
      el.classList.add("has-tiles");
    } else {
      map.attributionControl.addAttribution("区县边界：本平台地理数据（无底图）");
    }
    return map;
  };

  /** Draw the districts (SVG paths) from the boundaries API; resolves the GeoJSON layer or null. */
  CG.loadBoundaries = async function (map, opts) {
    opts = opts || {};
    const r = await CG.api("GET", "/api/v1/geo/boundaries?level=district");
    if (!r.ok || !r.body || !Array.isArray(r.body.features)) return null;
    const layer = L.geoJSON(r.body, {
      style: () => ({ color: "#1e3a8a", weight: 1.4, opacity: 0.85, fillColor: "#3b82f6", fillOpacity: opts.fillOpacity ?? 0.06 }),
      onEachFeature: (feature, lyr) => {
        const name = (feature.properties && feature.properties.name) || "";
        if (opts.labels) {
          lyr.bindTooltip(name, { permanent: true, direction: "center", className: "district-label", interactive: false });
        } else {
          lyr.bindTooltip(name, { sticky: true });
        }
      },
    }).addTo(map);
    if (opts.fit && layer.getLayers().length) map.fitBounds(layer.getBounds(), { padding: [12, 12], animate: false });
    return layer;
  };
})();
