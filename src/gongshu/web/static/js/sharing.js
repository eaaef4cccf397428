// Sharing pages: the interface test console and the call statistics chart.
(function () {
  "use strict";
  var form = document.getElementById("gw-console");
  if (form) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var data = new FormData(form);
      var kind = form.dataset.kind;
      var url = "/gw/" + form.dataset.code;
      var opts = { method: form.dataset.method, headers: { "Authorization": "Bearer " + data.get("key") } };
      var params = new URLSearchParams();
      if (kind === "batch") {
        var keys = String(data.get("keys") || "").split(/\s+/).filter(Boolean);
        opts.headers["Content-Type"] = "application/json";
        opts.body = JSON.stringify({ keys: keys });
      } else if (kind === "export") {
        ["cursor", "limit"].forEach(function (n) { if (data.get(n)) params.set(n, data.get(n)); });
      } else {
        form.querySelectorAll("input[data-param]").forEach(function (el) { params.set(el.name, el.value); });
        if (kind === "verify" && data.get("claims")) {
          new URLSearchParams(String(data.get("claims"))).forEach(function (v, k) { params.set(k, v); });
        }
      }
      var qs = params.toString();
      var out = document.getElementById("gw-result");
      out.textContent = "调用中…";
      fetch(url + (qs ? "?" + qs : ""), opts).then(function (resp) {
        return resp.text().then(function (text) {
          var body = text;
          try { body = JSON.stringify(JSON.parse(text), null, 2); } catch (e) { /* not JSON */ }
          out.textContent = "HTTP " + resp.status + "\n" + body;
        });
      }).catch(function (err) { out.textContent = "调用失败：" + err; });
    });
  }
  var chartEl = document.getElementById("calls-chart");
  if (chartEl && window.echarts) {
    var d = JSON.parse(chartEl.dataset.chart);
    var chart = window.echarts.init(chartEl);
    chart.setOption({
      tooltip: { trigger: "axis" },
      legend: { data: ["调用量", "成功率 %"] },
      xAxis: { type: "category", data: d.days },
      yAxis: [{ type: "value", name: "调用量" }, { type: "value", name: "%", min: 90, max: 100 }],
      series: [
        { name: "调用量", type: "bar", data: d.calls },
        { name: "成功率 %", type: "line", yAxisIndex: 1, data: d.rate, smooth: true }
      ]
    });
    window.addEventListener("resize", function () { chart.resize(); });
  }
})();
