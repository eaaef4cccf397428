// Charts of the indicator and alert pages (light theme).
(function () {
  "use strict";
  function init(id) {
    var el = document.getElementById(id);
    return el ? echarts.init(el) : null;
  }
  function markLines(upper, lower) {
    var lines = [];
    if (upper !== null && upper !== undefined) lines.push({ yAxis: upper, name: "上限", lineStyle: { color: "#e02f2f" } });
    if (lower !== null && lower !== undefined) lines.push({ yAxis: lower, name: "下限", lineStyle: { color: "#d9a800" } });
    return lines.length ? { symbol: "none", data: lines, label: { formatter: "{b} {c}" } } : undefined;
  }

  var dataEl = document.getElementById("ck-data");
  if (dataEl) {
    var d = JSON.parse(dataEl.textContent);
    var band = d.upper.map(function (v, k) { return v === null || d.lower[k] === null ? null : v - d.lower[k]; });
    var hist = init("ck-history");
    hist.setOption({
      tooltip: { trigger: "axis" },
      legend: { data: ["实际", "预测", "异常"] },
      grid: { left: 64, right: 24, top: 36, bottom: 64 },
      dataZoom: [{ type: "slider", start: 70, end: 100 }, { type: "inside" }],
      xAxis: { type: "category", data: d.periods, boundaryGap: false },
      yAxis: { type: "value", scale: true },
      series: [
        { name: "区间下界", type: "line", data: d.lower, stack: "band", symbol: "none", lineStyle: { opacity: 0 }, tooltip: { show: false } },
        { name: "预测区间", type: "line", data: band, stack: "band", symbol: "none", lineStyle: { opacity: 0 }, areaStyle: { color: "rgba(255,160,40,.25)" }, tooltip: { show: false } },
        { name: "实际", type: "line", data: d.values, symbol: "none", lineStyle: { color: "#1f6fd1" }, markLine: markLines(d.upper_bound, d.lower_bound) },
        { name: "预测", type: "line", data: d.forecast, symbol: "none", lineStyle: { color: "#ff8a00", type: "dashed" } },
        { name: "异常", type: "scatter", data: d.anomalies, symbolSize: 9, itemStyle: { color: "#e02f2f" } }
      ]
    });
    var bars = [["ck-districts", d.districts], ["ck-orgs", d.orgs]];
    bars.forEach(function (b) {
      var c = init(b[0]);
      if (!c) return;
      if (!b[1].length) {
        c.setOption({ title: { text: "该指标无此维度", left: "center", top: "middle", textStyle: { color: "#999", fontSize: 14 } } });
        return;
      }
      c.setOption({
        tooltip: { trigger: "axis" },
        grid: { left: 64, right: 16, top: 16, bottom: 40 },
        xAxis: { type: "category", data: b[1].map(function (x) { return x.name; }), axisLabel: { interval: 0, rotate: b[1].length > 6 ? 30 : 0 } },
        yAxis: { type: "value" },
        series: [{ type: "bar", data: b[1].map(function (x) { return x.value; }), itemStyle: { color: "#2f80ff" } }]
      });
    });
  }

  var alertEl = document.getElementById("ck-alert-data");
  if (alertEl) {
    var a = JSON.parse(alertEl.textContent);
    var c = init("ck-alert");
    if (c && a.periods) {
      c.setOption({
        tooltip: { trigger: "axis" },
        grid: { left: 64, right: 24, top: 24, bottom: 32 },
        xAxis: { type: "category", data: a.periods },
        yAxis: { type: "value", scale: true },
        series: [{ name: a.forecast ? "预测值" : "实际值", type: "line", data: a.values, symbolSize: 6,
          lineStyle: { color: "#1f6fd1", type: a.forecast ? "dashed" : "solid" }, markLine: markLines(a.upper, a.lower) }]
      });
    }
  }
})();
