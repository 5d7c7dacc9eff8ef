/* The case map: district boundaries (SVG) and thousands of case points on one canvas renderer. */
(function () {
  "use strict";
  function esc(s) {
    return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  }

  async function init() {
    const el = document.getElementById("case-map-full");
    if (!el) return;
    const status = document.getElementById("map-status");
    const colours = JSON.parse(el.dataset.colours || "{}");
    const map = CG.makeMap(el);
    const boundaries = await CG.loadBoundaries(map, { fit: true, labels: true });
    el.dataset.districts = boundaries ? String(boundaries.getLayers().length) : "0";

    const r = await CG.api("GET", el.dataset.pointsUrl);
    if (!r.ok || !Array.isArray(r.body)) {
      status.textContent = "案件点位加载失败：" + CG.problemMessage(r.status, r.body);
      el.dataset.points = "0";
      return;
    }
    const canvas = L.canvas({ padding: 0.3 });
    const points = L.layerGroup().addTo(map);
    let overdue = 0;
    for (const p of r.body) {
      if (p.overdue) overdue += 1;
      L.circleMarker([p.lat, p.lon], {
        renderer: canvas,
        radius: 5,
        weight: p.overdue ? 2.5 : 1,
        color: p.overdue ? "#dc2626" : "#ffffff",
        fillColor: colours[p.state] || "#334155",
        fillOpacity: 0.9,
      })
        .bindPopup(
          '<div class="popup"><a class="mono" href="/console/cases/' + encodeURIComponent(p.case_no) + '">' + esc(p.case_no) +
          "</a><div>" + esc(p.category_name) + "</div><div>" + esc(p.state_label) + (p.overdue ? ' · <span class="overdue">超期</span>' : "") +
          "</div></div>"
        )
        .addTo(points);
    }
    if (r.body.length) {
      // frame the cases (the urban core) rather than the whole city with its rural counties
      const bounds = L.latLngBounds(r.body.map((p) => [p.lat, p.lon]));
      map.fitBounds(bounds.pad(0.15), { maxZoom: 13, animate: false });
    }
    el.dataset.points = String(r.body.length);
    status.textContent = "共 " + r.body.length + " 个案件点位" + (overdue ? "，其中超期 " + overdue + " 个" : "") +
      (r.body.length >= 5000 ? "（仅显示最新 5000 个）" : "");
  }

  document.addEventListener("DOMContentLoaded", () => {
    const form = document.getElementById("map-filters");
    if (form) form.addEventListener("change", () => form.requestSubmit());
    init();
  });
})();
