/* The case list: the per-state ECharts bar chart (clicking a bar filters the table). */
(function () {
  "use strict";
  function drawChart() {
    const el = document.getElementById("state-chart");
    const dataEl = document.getElementById("state-chart-data");
    if (!el || !dataEl || !window.echarts) return;
    const rows = JSON.parse(dataEl.textContent);
    const chart = echarts.init(el, null, { renderer: "canvas" });
    const narrow = el.clientWidth < 640;
    chart.setOption({
      animationDuration: 500,
      grid: { left: 44, right: 16, top: 20, bottom: narrow ? 64 : 36 },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, formatter: (p) => p[0].name + "：" + p[0].value + " 件" },
      xAxis: {
        type: "category",
        data: rows.map((r) => r.label),
        axisTick: { alignWithLabel: true },
        axisLabel: { color: "#334155", interval: 0, fontSize: 12, rotate: narrow ? 45 : 0 },
        axisLine: { lineStyle: { color: "#cbd5e1" } },
      },
      yAxis: { type: "value", minInterval: 1, axisLabel: { color: "#64748b" }, splitLine: { lineStyle: { color: "#eef2f7" } } },
      series: [{
        type: "bar",
        barMaxWidth: 38,
        data: rows.map((r) => ({ value: r.count, itemStyle: { color: r.colour, borderRadius: [4, 4, 0, 0] } })),
        label: { show: true, position: "top", color: "#0f172a", fontSize: 12 },
      }],
    });
    chart.on("click", (params) => {
      const row = rows[params.dataIndex];
      const form = document.getElementById("filters");
      if (!row || !form) return;
      form.querySelectorAll('input[name="state"]').forEach((box) => { box.checked = box.value === row.state; });
      form.requestSubmit();
    });
    window.addEventListener("resize", () => chart.resize());
  }
  document.addEventListener("DOMContentLoaded", drawChart);
})();
