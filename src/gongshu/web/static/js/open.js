// Open-data portal: a quick ECharts bar chart of the preview page's numeric column.
(function () {
  var chart = null;
  function draw() {
    var el = document.getElementById("quick-chart");
    var data = document.getElementById("preview-data");
    if (!el || !data || typeof echarts === "undefined") return;
    var rows = JSON.parse(data.textContent || "[]");
    var value = document.getElementById("chart-value").value;
    var labelSel = document.getElementById("chart-label");
    var label = labelSel && labelSel.value;
    var names = rows.map(function (r, i) { return label ? String(r[label]) : String(i + 1); });
    var values = rows.map(function (r) { return r[value]; });
    if (!chart) chart = echarts.init(el);
    chart.setOption({
      tooltip: { trigger: "axis" },
      grid: { left: 48, right: 16, top: 16, bottom: 60 },
      xAxis: { type: "category", data: names, axisLabel: { rotate: 45 } },
      yAxis: { type: "value" },
      series: [{ type: "bar", data: values, itemStyle: { color: "#1f5fbf" } }]
    }, true);
  }
  document.body.addEventListener("htmx:afterSwap", draw);
  ["chart-value", "chart-label"].forEach(function (id) {
    var el = document.getElementById(id);
    if (el) el.addEventListener("change", draw);
  });
  window.addEventListener("resize", function () { if (chart) chart.resize(); });
})();
