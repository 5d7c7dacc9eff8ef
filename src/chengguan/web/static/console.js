/* Shared helpers for the console pages (no third-party code here; libraries come from /static/vendor). */
(function () {
  "use strict";
  const CG = (window.CG = window.CG || {});

  /** A readable zh-CN message from an RFC 9457 problem+json body (or anything else that came back). */
  CG.problemMessage = function (status, body) {
    if (body && typeof body === "object" && (body.title || body.detail)) {
      const title = body.title || "";
      let detail = body.detail || "";
      if (body.status === 422 && Array.isArray(body.errors) && body.errors.length) {
        detail = body.errors.map((e) => CG.fieldLabel(e.location) + "：" + (e.message || "格式不正确")).join("；");
      }
      if (title && detail && title !== detail) return title + "：" + detail;
      return title || detail;
    }
    if (status === 401) return "登录已过期，请重新登录";
    return "请求失败（HTTP " + status + "），请稍后重试";
  };

  const FIELD_LABELS = {
    category_code: "问题类别", description: "问题描述", lon: "经度", lat: "纬度", address: "地址",
    reporter_name: "来电人", reporter_phone: "来电号码", note: "说明", extension: "延期时长",
    assignee_id: "处置人员", version: "案件版本", action: "操作",
  };
  /** The field a problem's errors[].location ("body.lon", "query.limit", "body.roles[0]") names, for people. */
  CG.fieldLabel = function (location) {
    const parts = String(location || "").replace(/\[\d+\]/g, "").split(".");
    const last = parts.length > 1 ? parts[parts.length - 1] : "";
    return FIELD_LABELS[last] || last || "输入";
  };

  /** fetch() a JSON API; resolves {ok, status, body}. */
  CG.api = async function (method, url, payload) {
    const init = { method, headers: { Accept: "application/json, application/problem+json" }, credentials: "same-origin" };
    if (payload !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(payload);
    }
    let res;
    try {
      res = await fetch(url, init);
    } catch (err) {
      return { ok: false, status: 0, body: { title: "网络异常", detail: "无法连接服务器，请检查网络后重试" } };
    }
    let body = null;
    const text = await res.text();
    if (text) {
      try { body = JSON.parse(text); } catch (err) { body = null; }
    }
    if (res.status === 401 && !url.startsWith("/api/v1/auth/")) {
      window.location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search);
    }
    return { ok: res.ok, status: res.status, body };
  };

  CG.showAlert = function (el, message) {
    if (!el) return;
    el.textContent = message;
    el.hidden = !message;
    if (message) el.scrollIntoView({ block: "nearest", behavior: "smooth" });
  };

  /** Fill every <select data-catalog-select> from GET /api/v1/catalog (大类 as groups, 小类 inside). */
  CG.loadCatalog = async function () {
    const selects = document.querySelectorAll("select[data-catalog-select]");
    if (!selects.length) return;
    const r = await CG.api("GET", "/api/v1/catalog");
    if (!r.ok || !Array.isArray(r.body)) {
      selects.forEach((s) => { s.options[0].textContent = "类别加载失败"; });
      return;
    }
    selects.forEach((select) => {
      const minorsOnly = select.hasAttribute("data-minors-only");
      const selected = select.dataset.selected || "";
      for (const major of r.body) {
        const group = document.createElement("optgroup");
        group.label = major.code + " " + major.name;
        if (!minorsOnly) group.appendChild(new Option("全部" + major.name, major.code, false, selected === major.code));
        for (const minor of major.minors || []) {
          group.appendChild(new Option(minor.code + " " + minor.name, minor.code, false, selected === minor.code));
        }
        select.appendChild(group);
      }
      select.dataset.loaded = "1";
    });
  };

  /** One-shot message carried across a reload (after a successful action). */
  CG.flash = function (message) { sessionStorage.setItem("cg-flash", message); };
  CG.showFlash = function () {
    const msg = sessionStorage.getItem("cg-flash");
    const el = document.getElementById("flash");
    if (msg && el) {
      el.textContent = msg;
      el.hidden = false;
    }
    sessionStorage.removeItem("cg-flash");
  };

  document.addEventListener("DOMContentLoaded", () => {
    CG.loadCatalog();
    CG.showFlash();
  });
})();
