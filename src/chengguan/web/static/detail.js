/* Case detail: the mini map, the officer list for 派遣, and the transition forms (JSON API). */
(function () {
  "use strict";

  async function miniMap() {
    const el = document.getElementById("case-map");
    if (!el) return;
    const p = JSON.parse(el.dataset.point);
    const map = CG.makeMap(el, { center: [p.lat, p.lon], zoom: 13 });
    await CG.loadBoundaries(map, { fillOpacity: 0.04 });
    L.circleMarker([p.lat, p.lon], { radius: 8, color: "#ffffff", weight: 2, fillColor: "#dc2626", fillOpacity: 1 })
      .bindTooltip(p.case_no)
      .addTo(map);
    map.setView([p.lat, p.lon], 13);
  }

  async function officers() {
    const selects = document.querySelectorAll("select[data-officer-select]");
    if (!selects.length) return;
    const caseNo = selects[0].closest("form").dataset.caseNo;
    const r = await CG.api("GET", "/api/v1/cases/" + encodeURIComponent(caseNo) + "/candidates");
    selects.forEach((select) => {
      select.innerHTML = "";
      if (!r.ok || !Array.isArray(r.body)) {
        select.appendChild(new Option("人员列表加载失败", ""));
        return;
      }
      select.appendChild(new Option("请选择处置人员", ""));
      for (const o of r.body) {
        const where = [o.bureau_name, o.unit_name].filter(Boolean).join(" · ");
        select.appendChild(new Option(o.display_name + (where ? "（" + where + "）" : ""), String(o.id)));
      }
    });
  }

  function wireActions() {
    const errorBox = document.getElementById("action-error");
    document.querySelectorAll("form.action-form").forEach((form) => {
      form.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        CG.showAlert(errorBox, "");
        const data = new FormData(form);
        const label = form.querySelector(".action-title").textContent.trim();
        const payload = { action: form.dataset.action, version: Number(form.dataset.version) };
        const note = String(data.get("note") || "").trim();
        if (note) payload.note = note;
        const reply = String(data.get("public_reply") || "").trim();
        if (reply) payload.public_reply = reply;
        if (form.querySelector("textarea[name=note][required]") && !note) {
          CG.showAlert(errorBox, "「" + label + "」必须填写说明");
          return;
        }
        if (data.has("assignee_id")) {
          if (!data.get("assignee_id")) { CG.showAlert(errorBox, "派遣必须选择处置人员"); return; }
          payload.assignee_id = Number(data.get("assignee_id"));
        }
        if (data.has("extension")) {
          const ext = String(data.get("extension") || "").trim();
          if (!ext) { CG.showAlert(errorBox, "申请延期必须填写延期时长"); return; }
          payload.extension = ext;
        }
        const button = form.querySelector("button[type=submit]");
        button.disabled = true;
        const r = await CG.api("POST", "/api/v1/cases/" + encodeURIComponent(form.dataset.caseNo) + "/transitions", payload);
        if (r.ok) {
          CG.flash("「" + label + "」已办理，案件状态：" + (r.body && r.body.state_label ? r.body.state_label : "已更新"));
          window.location.reload();
          return;
        }
        button.disabled = false;
        CG.showAlert(errorBox, CG.problemMessage(r.status, r.body));
      });
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    wireActions();
    officers();
    miniMap();
  });
})();
