/* The citizens' H5 page: report a problem (where → photos → what → a few words → send) and follow it by its
   tracking code. Everything goes through /api/v1/public and /api/v1/media; problems are shown in zh-CN. */
(function () {
  "use strict";
  const CG = (window.CG = window.CG || {});
  const STORE = "cg-h5-codes"; // tracking codes this phone sent, newest first (at most 20)

  async function api(method, url, payload, form) {
    const init = { method, headers: { Accept: "application/json, application/problem+json" }, credentials: "same-origin" };
    if (form) init.body = form;
    else if (payload !== undefined) {
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
    return { ok: res.ok, status: res.status, body, retryAfter: res.headers.get("Retry-After") };
  }
  CG.api = CG.api || api; // maps.js draws the district boundaries with it

  const FIELDS = {
    description: "问题描述", category_code: "问题类别", lon: "位置", lat: "位置", address: "地址",
    contact_name: "称呼", contact_phone: "手机号", media: "照片", score: "满意度", comment: "评价内容", file: "文件",
  };
  function message(r) {
    const b = r.body;
    if (b && typeof b === "object" && (b.title || b.detail)) {
      if (b.status === 422 && Array.isArray(b.errors) && b.errors.length) {
        return b.errors.map((e) => {
          const parts = String(e.location || "").replace(/\[\d+\]/g, "").split(".");
          return (FIELDS[parts[parts.length - 1]] || "输入") + "：" + (e.message || "格式不正确");
        }).join("；");
      }
      return b.detail || b.title;
    }
    if (r.status === 413) return "内容过大，请压缩后重试";
    return "请求失败（HTTP " + r.status + "），请稍后重试";
  }
  function show(el, text) {
    if (!el) return;
    el.textContent = text || "";
    el.hidden = !text;
  }
  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function icon(name) {
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("class", "icon");
    svg.setAttribute("aria-hidden", "true");
    const use = document.createElementNS("http://www.w3.org/2000/svg", "use");
    use.setAttribute("href", "/static/app/h5-icons.svg#" + name);
    svg.appendChild(use);
    return svg;
  }
  function when(iso) {
    const d = new Date(iso);
    if (isNaN(d)) return "";
    const p = (n) => String(n).padStart(2, "0");
    return d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate()) + " " + p(d.getHours()) + ":" + p(d.getMinutes());
  }
  function placeText(p) {
    return [p && p.district, p && p.street, p && p.community].filter(Boolean).join(" · ");
  }
  function rememberCode(code) {
    try {
      const list = JSON.parse(localStorage.getItem(STORE) || "[]").filter((c) => c !== code);
      list.unshift(code);
      localStorage.setItem(STORE, JSON.stringify(list.slice(0, 20)));
    } catch (err) { /* private mode: nothing kept */ }
  }
  function thumbs(list, items) {
    list.replaceChildren();
    for (const m of items || []) {
      const li = el("li");
      const a = el("a", { href: m.url, target: "_blank", rel: "noopener" });
      a.appendChild(el("img", { src: m.thumbnail_url, alt: m.kind === "video" ? "视频" : "照片", loading: "lazy" }));
      li.appendChild(a);
      list.appendChild(li);
    }
    return (items || []).length;
  }

  // ---- the report page ------------------------------------------------------------------------------------

  function initReport(form) {
    const state = { lon: null, lat: null, source: "pin", media: [], uploading: 0, category: null, check: null };
    const errorBox = document.getElementById("h5-error");
    const info = document.getElementById("place-info");
    const warn = document.getElementById("place-warn");
    const address = form.elements.namedItem("address");
    const maxMedia = Number(form.dataset.maxMedia || 9);

    // where: a pin on the map, the phone's position, or an address the gazetteer knows
    const mapEl = document.getElementById("h5-map");
    const map = CG.makeMap(mapEl, { zoomControl: true });
    let marker = null;
    CG.loadBoundaries(map, { fit: false, labels: false, fillOpacity: 0.03 });

    let checkSeq = 0;
    async function check() {
      if (state.lon === null) return;
      const seq = ++checkSeq;
      const q = new URLSearchParams({ lon: state.lon.toFixed(6), lat: state.lat.toFixed(6) });
      if (address.value.trim()) q.set("address", address.value.trim().slice(0, 200));
      const r = await api("GET", "/api/v1/public/place?" + q);
      if (seq !== checkSeq) return;
      state.check = r.ok ? r.body : null;
      if (!r.ok) { show(info, ""); show(warn, message(r)); warn.classList.add("bad"); return; }
      if (!r.body.inside) {
        show(info, "");
        show(warn, r.body.reason);
        warn.classList.add("bad");
        return;
      }
      warn.classList.remove("bad");
      show(info, placeText(r.body.place) || "已选定位置");
      show(warn, r.body.disagrees ? r.body.note + "。仍可提交，工作人员会核实。" : "");
    }
    function setPin(lat, lon, source, zoom) {
      state.lat = lat;
      state.lon = lon;
      state.source = source;
      if (!marker) marker = L.marker([lat, lon], { draggable: true, keyboard: false, title: "问题位置" }).addTo(map);
      else marker.setLatLng([lat, lon]);
      marker.off("dragend").on("dragend", () => {
        const p = marker.getLatLng();
        setPin(p.lat, p.lng, "pin");
      });
      if (zoom) map.setView([lat, lon], zoom);
      mapEl.dataset.lon = lon.toFixed(6);
      mapEl.dataset.lat = lat.toFixed(6);
      check();
    }
    map.on("click", (ev) => setPin(ev.latlng.lat, ev.latlng.lng, "pin"));

    const locateBtn = document.getElementById("use-location");
    function locate(quiet) {
      if (!navigator.geolocation) {
        if (!quiet) show(warn, "此浏览器不支持定位，请在地图上点选位置");
        return;
      }
      locateBtn.disabled = true;
      navigator.geolocation.getCurrentPosition(
        (pos) => {
          locateBtn.disabled = false;
          setPin(pos.coords.latitude, pos.coords.longitude, "gps", 16); // W3C geolocation is WGS84
        },
        () => {
          locateBtn.disabled = false;
          if (!quiet) show(warn, "未能获取您的位置（可能未授权定位），请在地图上点选位置");
        },
        { enableHighAccuracy: true, timeout: 10000, maximumAge: 60000 },
      );
    }
    locateBtn.addEventListener("click", () => locate(false));
    // open on the user's surroundings when the browser already may tell where they are (never prompt unasked)
    if (navigator.permissions && navigator.geolocation) {
      navigator.permissions.query({ name: "geolocation" }).then((p) => {
        if (p.state === "granted") locate(true);
        else map.setView([30.27, 120.155], 12);
      }, () => map.setView([30.27, 120.155], 12));
    } else {
      map.setView([30.27, 120.155], 12);
    }
    let typing = null;
    address.addEventListener("input", () => {
      clearTimeout(typing);
      typing = setTimeout(async () => {
        if (state.lon !== null) { check(); return; }
        const text = address.value.trim();
        if (text.length < 2) return;
        const r = await api("GET", "/api/v1/public/places?" + new URLSearchParams({ q: text.slice(0, 200), limit: "1" }));
        if (r.ok && r.body.length && state.lon === null) {
          map.setView([r.body[0].lat, r.body[0].lon], 14); // show the named area; the pin stays the user's
          show(info, "地址在：" + r.body[0].full_name + "（可在地图上点出具体位置）");
        }
      }, 500);
    });

    // photos and videos: each uploaded at once, the report names them by SHA-256
    const input = document.getElementById("h5-media");
    const list = document.getElementById("media-list");
    const mediaError = document.getElementById("media-error");
    input.addEventListener("change", async () => {
      show(mediaError, "");
      const files = Array.from(input.files || []);
      input.value = "";
      for (const file of files) {
        if (state.media.length + state.uploading >= maxMedia) { show(mediaError, "最多 " + maxMedia + " 个照片或视频"); break; }
        const li = el("li");
        const label = el("span", { class: "state" }, "上传中…");
        li.appendChild(el("div", { class: "video" }, file.type.startsWith("video") ? "视频" : "照片"));
        li.appendChild(label);
        list.appendChild(li);
        state.uploading += 1;
        const data = new FormData();
        data.append("file", file, file.name || "photo.jpg");
        const r = await api("POST", "/api/v1/media", undefined, data);
        state.uploading -= 1;
        if (!r.ok) {
          li.remove();
          show(mediaError, (file.name || "文件") + "：" + message(r));
          continue;
        }
        const m = r.body;
        state.media.push(m.sha256);
        li.replaceChildren(el("img", { src: m.thumbnail_url, alt: m.kind === "video" ? "视频" : "照片" }));
        li.dataset.sha256 = m.sha256;
        li.setAttribute("data-testid", "media-item");
        const remove = el("button", { type: "button", class: "remove", "aria-label": "删除" }, "×");
        remove.addEventListener("click", () => {
          state.media = state.media.filter((s) => s !== m.sha256);
          li.remove();
        });
        li.appendChild(remove);
        if (state.lon === null && m.lon != null && m.lat != null) setPin(m.lat, m.lon, "pin", 16); // the photo's GPS
      }
    });

    // what: a 大类 by its picture, then a 小类 in plain words (or leave it to the staff)
    const majors = document.getElementById("majors");
    const minors = document.getElementById("minors");
    const chosen = document.getElementById("category-chosen");
    function choose(code, words) {
      state.category = code;
      minors.querySelectorAll(".chip").forEach((c) => c.setAttribute("aria-pressed", String(c.dataset.code === (code || ""))));
      show(chosen, code ? "已选：" + words : "不确定类别：由工作人员判断");
    }
    (async () => {
      const r = await api("GET", "/api/v1/public/categories");
      majors.replaceChildren();
      if (!r.ok || !Array.isArray(r.body)) { majors.appendChild(el("p", { class: "warn" }, "类别加载失败，可直接描述问题提交")); return; }
      const tiles = [...r.body, { code: "", words: "其他 / 不确定", icon: "other", minors: [] }];
      for (const major of tiles) {
        const b = el("button", { type: "button", class: "tile", "aria-pressed": "false", "data-code": major.code, "data-testid": "major-" + (major.code || "other") });
        b.appendChild(icon(major.icon));
        b.appendChild(el("span", {}, major.words));
        b.addEventListener("click", () => {
          majors.querySelectorAll(".tile").forEach((t) => t.setAttribute("aria-pressed", String(t === b)));
          minors.replaceChildren();
          if (!major.code) { minors.hidden = true; choose(null, ""); return; }
          for (const minor of major.minors) {
            const c = el("button", { type: "button", class: "chip", "aria-pressed": "false", "data-code": minor.code, "data-testid": "minor-" + minor.code, title: minor.name }, minor.words);
            c.addEventListener("click", () => choose(minor.code, major.words + " · " + minor.words));
            minors.appendChild(c);
          }
          minors.hidden = false;
          state.category = null;
          show(chosen, "");
        });
        majors.appendChild(b);
      }
    })();

    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      show(errorBox, "");
      const text = (k) => String(form.elements.namedItem(k).value || "").trim();
      const missing = [];
      if (state.lon === null && !text("address")) missing.push("位置（点地图、使用我的位置或填写地址）");
      if (!text("description")) missing.push("问题描述");
      if (missing.length) { show(errorBox, "请填写：" + missing.join("、")); return; }
      if (state.uploading) { show(errorBox, "照片还在上传，请稍候"); return; }
      if (state.check && state.check.inside === false) { show(errorBox, state.check.reason); return; }
      const payload = { description: text("description"), media: state.media };
      if (state.lon !== null) {
        payload.lon = Number(state.lon.toFixed(6));
        payload.lat = Number(state.lat.toFixed(6));
        payload.crs = "wgs84";
        payload.location_source = state.source;
        if (state.check && state.check.disagrees) payload.place_confirmed = true;
      }
      if (state.category) payload.category_code = state.category;
      for (const k of ["address", "contact_name", "contact_phone"]) if (text(k)) payload[k] = text(k);
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      const r = await api("POST", "/api/v1/public/reports", payload);
      button.disabled = false;
      if (!r.ok) {
        let msg = message(r);
        if (r.status === 429 && r.retryAfter) msg += "（约 " + Math.ceil(Number(r.retryAfter) / 60) + " 分钟后可再提交）";
        show(errorBox, msg);
        return;
      }
      rememberCode(r.body.tracking_code);
      form.hidden = true;
      document.getElementById("done-title").textContent = r.body.repeated ? "您已反映过这个问题" : "提交成功";
      document.getElementById("done-code").textContent = r.body.tracking_code;
      document.getElementById("done-text").textContent = r.body.progress_text + (r.body.location_note ? "（" + r.body.location_note + "）" : "");
      document.getElementById("done-track").href = r.body.track_path;
      document.getElementById("h5-done").hidden = false;
      window.scrollTo(0, 0);
    });
  }

  // ---- the tracking page ----------------------------------------------------------------------------------

  const SCORES = { 1: "很不满意", 2: "不满意", 3: "一般", 4: "满意", 5: "很满意" };

  function renderTrack(t) {
    document.getElementById("track-view").hidden = false;
    document.getElementById("t-code").textContent = t.tracking_code;
    document.getElementById("t-progress").textContent = t.progress;
    document.getElementById("t-text").textContent = t.progress_text;
    document.getElementById("t-desc").textContent = t.description;
    document.getElementById("t-place").textContent = [placeText(t.place), t.address].filter(Boolean).join("；") || "待确认";
    document.getElementById("t-at").textContent = when(t.received_at);
    thumbs(document.getElementById("t-photos"), t.photos);
    const timeline = document.getElementById("t-timeline");
    timeline.replaceChildren();
    const steps = [{ at: t.received_at, title: "收到反映", text: "我们已收到您的反映。" }];
    if (t.case) steps.push(...t.case.timeline);
    else if (t.status !== "received") steps.push({ at: null, title: t.progress, text: t.progress_text });
    for (const s of steps) {
      const li = el("li");
      if (s.at) li.appendChild(el("time", { datetime: s.at }, when(s.at)));
      li.appendChild(el("strong", {}, s.title));
      if (s.text) li.appendChild(el("p", {}, s.text));
      timeline.appendChild(li);
    }
    document.getElementById("timeline-card").hidden = false;
    const results = t.case ? thumbs(document.getElementById("t-results"), t.case.photos) : 0;
    document.getElementById("result-card").hidden = !results;
    document.getElementById("rate-card").hidden = !t.can_rate;
    const rated = document.getElementById("rated-card");
    rated.hidden = t.rating == null;
    if (t.rating != null) {
      document.getElementById("rated-text").textContent = t.rating + " 分（" + SCORES[t.rating] + "）" + (t.rating_comment ? "：" + t.rating_comment : "") + "。感谢您的评价！";
    }
  }

  async function initTrack(box) {
    const form = document.getElementById("track-form");
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const code = String(form.elements.namedItem("code").value || "").trim().toUpperCase();
      if (code) window.location.href = "/h5/track/" + encodeURIComponent(code);
    });
    let codes = [];
    try { codes = JSON.parse(localStorage.getItem(STORE) || "[]"); } catch (err) { codes = []; }
    const mine = document.getElementById("my-codes");
    if (codes.length && !box.dataset.code) {
      mine.appendChild(el("li", { class: "hint" }, "本机提交过的反映："));
      for (const c of codes) {
        const li = el("li");
        li.appendChild(el("a", { href: "/h5/track/" + encodeURIComponent(c) }, c));
        mine.appendChild(li);
      }
      mine.hidden = false;
    }
    const code = box.dataset.code;
    if (!code) return;
    const errorBox = document.getElementById("track-error");
    const r = await api("GET", "/api/v1/public/reports/" + encodeURIComponent(code));
    if (!r.ok) { show(errorBox, message(r)); return; }
    renderTrack(r.body);
    const rate = document.getElementById("rate-form");
    rate.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const rateError = document.getElementById("rate-error");
      const picked = rate.querySelector("input[name=score]:checked");
      if (!picked) { show(rateError, "请选择满意度"); return; }
      const payload = { score: Number(picked.value) };
      const comment = String(rate.elements.namedItem("comment").value || "").trim();
      if (comment) payload.comment = comment;
      const done = await api("POST", "/api/v1/public/reports/" + encodeURIComponent(code) + "/rating", payload);
      if (!done.ok) { show(rateError, message(done)); return; }
      show(rateError, "");
      renderTrack(done.body);
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    const form = document.getElementById("h5-form");
    if (form) initReport(form);
    const box = document.getElementById("track");
    if (box) initTrack(box);
  });
})();
