/* Triage (人工分拣): pick the 小类 and the place, then decide through POST /api/v1/intake/triage/{code}. */
(function () {
  "use strict";

  function mapPicker() {
    const el = document.getElementById("triage-map");
    const form = document.querySelector("form[data-status=accepted]");
    if (!el || !form) return;
    const lon = form.elements.namedItem("lon");
    const lat = form.elements.namedItem("lat");
    const point = JSON.parse(el.dataset.point || "null");
    const map = CG.makeMap(el, point ? { center: [point.lat, point.lon], zoom: 14 } : {});
    CG.loadBoundaries(map, { fillOpacity: 0.04 });
    let marker = null;
    const place = (la, lo) => {
      if (!marker) marker = L.marker([la, lo], { keyboard: false }).addTo(map);
      else marker.setLatLng([la, lo]);
    };
    if (point) place(point.lat, point.lon);
    map.on("click", (ev) => {
      lon.value = ev.latlng.lng.toFixed(6);
      lat.value = ev.latlng.lat.toFixed(6);
      place(ev.latlng.lat, ev.latlng.lng);
    });
  }

  function pickButtons() {
    const select = document.querySelector("form[data-status=accepted] select[name=category_code]");
    document.querySelectorAll("[data-pick-category]").forEach((btn) => {
      btn.addEventListener("click", () => {
        if (!select) return;
        select.value = btn.dataset.pickCategory;
        select.dataset.selected = btn.dataset.pickCategory;
        select.focus();
      });
    });
  }

  /** The request body for one decision, or a zh-CN message saying what is missing. */
  function payloadOf(form) {
    const data = new FormData(form);
    const text = (k) => String(data.get(k) || "").trim();
    const status = form.dataset.status;
    if (status === "accepted") {
      if (!text("category_code")) return "立单必须选择问题类别（小类）";
      const body = { status, category_code: text("category_code") };
      if (text("lon") || text("lat")) {
        const lo = Number(text("lon")), la = Number(text("lat"));
        if (!text("lon") || !text("lat") || !Number.isFinite(lo) || !Number.isFinite(la) || Math.abs(lo) > 180 || Math.abs(la) > 90) {
          return "经纬度格式不正确：经度 -180~180，纬度 -90~90";
        }
        body.lon = lo;
        body.lat = la;
      }
      return body;
    }
    if (status === "forwarded") {
      if (!text("department")) return "转交必须选择职责部门";
      if (!text("note")) return "转交必须填写理由";
      return { status, note: "转交" + text("department") + "：" + text("note") };
    }
    if (status === "merged") {
      if (!text("case_no")) return "并入必须填写案件编号";
      const body = { status, case_no: text("case_no") };
      if (text("note")) body.note = text("note");
      return body;
    }
    if (!text("note")) return "不予受理必须填写理由";
    return { status, note: text("note") };
  }

  function wireForms() {
    const errorBox = document.getElementById("triage-error");
    document.querySelectorAll("form.triage-form").forEach((form) => {
      form.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        CG.showAlert(errorBox, "");
        const payload = payloadOf(form);
        if (typeof payload === "string") { CG.showAlert(errorBox, payload); return; }
        const button = form.querySelector("button[type=submit]");
        button.disabled = true;
        const r = await CG.api("POST", "/api/v1/intake/triage/" + encodeURIComponent(form.dataset.code), payload);
        if (r.ok && r.body) {
          CG.flash("上报 " + r.body.tracking_code + " 已分拣：" + (r.body.status_label || "已处理") +
            (r.body.case_no ? "，案件编号 " + r.body.case_no : ""));
          window.location.href = "/console/triage";
          return;
        }
        button.disabled = false;
        CG.showAlert(errorBox, CG.problemMessage(r.status, r.body));
      });
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    pickButtons();
    wireForms();
    mapPicker();
  });
})();
