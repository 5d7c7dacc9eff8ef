/* Report form: click the map (or type lon/lat) and POST the report (staff: /api/v1/cases; citizens:
   /api/v1/my/reports, which answers with the public view); problems are shown in zh-CN. */
(function () {
  "use strict";

  async function init() {
    const form = document.getElementById("report-form");
    const el = document.getElementById("report-map");
    if (!form || !el) return;
    const errorBox = document.getElementById("report-error");
    const lon = form.elements.namedItem("lon");
    const lat = form.elements.namedItem("lat");
    const map = CG.makeMap(el);
    let marker = null;
    const place = (la, lo) => {
      if (!marker) marker = L.marker([la, lo], { keyboard: false }).addTo(map);
      else marker.setLatLng([la, lo]);
    };
    map.on("click", (ev) => {
      lon.value = ev.latlng.lng.toFixed(6);
      lat.value = ev.latlng.lat.toFixed(6);
      place(ev.latlng.lat, ev.latlng.lng);
    });
    const typed = () => {
      const lo = Number(lon.value), la = Number(lat.value);
      if (lon.value && lat.value && Number.isFinite(lo) && Number.isFinite(la) && Math.abs(la) <= 90 && Math.abs(lo) <= 180) place(la, lo);
    };
    lon.addEventListener("change", typed);
    lat.addEventListener("change", typed);

    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      CG.showAlert(errorBox, "");
      document.getElementById("report-ok").hidden = true;
      const data = new FormData(form);
      const text = (k) => String(data.get(k) || "").trim();
      const missing = [];
      if (!text("category_code")) missing.push("问题类别");
      if (!text("description")) missing.push("问题描述");
      if (!text("lon") || !text("lat")) missing.push("位置（点击地图或填写经纬度）");
      if (missing.length) { CG.showAlert(errorBox, "请填写：" + missing.join("、")); return; }
      const lo = Number(text("lon")), la = Number(text("lat"));
      if (!Number.isFinite(lo) || !Number.isFinite(la) || Math.abs(lo) > 180 || Math.abs(la) > 90) {
        CG.showAlert(errorBox, "经纬度格式不正确：经度 -180~180，纬度 -90~90");
        return;
      }
      const payload = { category_code: text("category_code"), description: text("description"), lon: lo, lat: la };
      for (const k of ["address", "reporter_name", "reporter_phone", "contact_phone"]) if (text(k)) payload[k] = text(k);
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      const r = await CG.api("POST", form.dataset.endpoint, payload);
      button.disabled = false;
      if (r.ok && r.body && form.dataset.public && !r.body.case_no) {  // received; a person will decide
        CG.flash("上报成功，跟踪编号 " + r.body.tracking_code + "（" + r.body.status_label + "）");
        window.location.href = "/console/my";
        return;
      }
      if (r.ok && r.body && r.body.case_no) {
        const url = "/console/cases/" + encodeURIComponent(r.body.case_no);
        if (form.dataset.public) {  // a citizen follows the public timeline of their report
          CG.flash("上报成功，跟踪编号 " + r.body.tracking_code);
          window.location.href = url;
          return;
        }
        // Staff reporting outside their own brigade: the case goes to that brigade; they may follow it.
        const seen = await CG.api("GET", "/api/v1/cases/" + encodeURIComponent(r.body.case_no));
        if (seen.ok) {
          CG.flash("上报成功，案件编号 " + r.body.case_no);
          window.location.href = url;
          return;
        }
        form.reset();
        const done = document.getElementById("report-ok");
        done.textContent = "上报成功，案件编号 " + r.body.case_no + "，已按位置转辖区大队办理。";
        done.hidden = false;
        return;
      }
      CG.showAlert(errorBox, CG.problemMessage(r.status, r.body));
    });

    await CG.loadBoundaries(map, { fit: true, labels: false });
  }
  document.addEventListener("DOMContentLoaded", init);
})();
