// 质量概览: dimension radar-like bars, score trend and org scores (ECharts served locally).
(function () {
  var dims = document.getElementById("q-dims");
  if (!dims || !window.echarts) return;
  var data = JSON.parse(dims.dataset.chart || "{}");
  var names = Object.keys(data.dimensions || {});
  var bar = window.echarts.init(dims);
  bar.setOption({
    tooltip: { trigger: "axis" },
    grid: { left: 50, right: 20, top: 20, bottom: 30 },
    xAxis: { type: "category", data: names },
    yAxis: { type: "value", min: 0, max: 100 },
    series: [{ type: "bar", name: "得分", data: names.map(function (n) { return data.dimensions[n]; }) }],
  });
  var trendEl = document.getElementById("q-trend");
  var trend = window.echarts.init(trendEl);
  trend.setOption({
    tooltip: { trigger: "axis" },
    grid: { left: 50, right: 20, top: 20, bottom: 30 },
    xAxis: { type: "category", data: (data.trend || []).map(function (p) { return p.day; }) },
    yAxis: { type: "value", min: 0, max: 100 },
    series: [{ type: "line", name: "综合得分", data: (data.trend || []).map(function (p) { return p.score; }) }],
  });
  window.addEventListener("resize", function () { bar.resize(); trend.resize(); });
})();
