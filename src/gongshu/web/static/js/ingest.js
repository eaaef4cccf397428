// 归集台账: daily totals as a bar chart (ECharts is served locally, no CDN).
(function () {
  var el = document.getElementById("ingest-daily");
  if (!el || !window.echarts) return;
  var data = JSON.parse(el.dataset.chart || "{}");
  var days = Object.keys(data);
  var chart = window.echarts.init(el);
  chart.setOption({
    title: { text: el.dataset.title, textStyle: { fontSize: 14 } },
    tooltip: { trigger: "axis" },
    grid: { left: 60, right: 20, top: 40, bottom: 30 },
    xAxis: { type: "category", data: days },
    yAxis: { type: "value", name: "条" },
    series: [{ type: "bar", name: "归集量", data: days.map(function (d) { return data[d]; }) }],
  });
  window.addEventListener("resize", function () { chart.resize(); });
})();
