// 驾驶舱大屏: render the embedded data, then refresh it in place every minute.
(function () {
  "use strict";
  var root = document.getElementById("bs");
  var topic = root.dataset.topic;
  var canHandle = root.dataset.canHandle === "1";
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var LEVEL = { blue: "#2f80ff", yellow: "#f5c400", orange: "#ff8a00", red: "#ff3b3b" };
  var AXIS = { axisLine: { lineStyle: { color: "#2a5a9a" } }, axisLabel: { color: "#9cc4f2" },
    splitLine: { lineStyle: { color: "rgba(42,90,154,.35)" } } };
  var charts = {};
  var mapReady = false;

  function chart(id) {
    if (!charts[id]) charts[id] = echarts.init(document.getElementById(id), null, { renderer: "canvas" });
    return charts[id];
  }
  function esc(s) {
    return String(s == null ? "" : s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  function title(id, text, href) {
    var el = document.getElementById(id);
    el.innerHTML = href ? '<a href="' + esc(href) + '">' + esc(text) + "</a>" : esc(text);
  }
  function empty(id) {
    chart(id).setOption({ title: { text: "暂无数据", left: "center", top: "middle",
      textStyle: { color: "#5f86b8", fontSize: 14 } } }, true);
  }

  function cards(list) {
    var html = list.map(function (c) {
      var arrow = c.arrow === "up" ? "▲" : c.arrow === "down" ? "▼" : "■";
      var cls = c.good === null ? "flat" : c.good ? "good" : "bad";
      var change = c.change === null ? "—" : Math.abs(c.change).toFixed(1) + "%";
      return '<a class="bs-card" data-testid="kpi-card" href="' + esc(c.href) + '">' +
        (c.alert ? '<span class="dot lv-' + c.alert + '" title="有未关闭预警"></span>' : "") +
        '<div class="n">' + esc(c.name) + "</div>" +
        '<div class="v">' + esc(c.text) + "<small>" + esc(c.unit) + "</small></div>" +
        '<div class="c ' + cls + '">' + arrow + " " + change + ' <span style="color:#7fa6d6">较上期 · ' + esc(c.period) + "</span></div></a>";
    }).join("");
    document.getElementById("bs-cards").innerHTML = html;
  }

  function line(i, d) {
    var id = "c-line" + i;
    if (!d) { title("t-line" + i, ""); empty(id); return; }
    title("t-line" + i, d.title + " · 近60天与预测", d.href);
    var base = d.lower.map(function (v) { return v; });
    var band = d.upper.map(function (v, k) { return v === null || d.lower[k] === null ? null : v - d.lower[k]; });
    chart(id).setOption({
      grid: { left: 56, right: 16, top: 28, bottom: 24 },
      tooltip: { trigger: "axis" },
      legend: { data: ["实际", "预测"], textStyle: { color: "#9cc4f2" }, right: 0, top: 0 },
      xAxis: Object.assign({ type: "category", data: d.periods, boundaryGap: false }, AXIS),
      yAxis: Object.assign({ type: "value", scale: true }, AXIS),
      series: [
        { name: "区间下界", type: "line", data: base, stack: "band", lineStyle: { opacity: 0 }, symbol: "none", tooltip: { show: false } },
        { name: "预测区间", type: "line", data: band, stack: "band", lineStyle: { opacity: 0 }, symbol: "none",
          areaStyle: { color: "rgba(255,184,77,.22)" }, tooltip: { show: false } },
        { name: "实际", type: "line", data: d.values, symbol: "none", smooth: true,
          lineStyle: { color: "#38b6ff", width: 2 }, areaStyle: { color: "rgba(56,182,255,.15)" } },
        { name: "预测", type: "line", data: d.forecast, symbol: "none", lineStyle: { color: "#ffb84d", type: "dashed" } }
      ]
    }, true);
  }

  function bar(d) {
    if (!d.items.length) { title("t-bar", d.title || ""); empty("c-bar"); return; }
    title("t-bar", d.title + " · " + d.period, d.href);
    chart("c-bar").setOption({
      grid: { left: 60, right: 16, top: 16, bottom: 28 },
      tooltip: { trigger: "axis" },
      xAxis: Object.assign({ type: "category", data: d.items.map(function (x) { return x.name; }) }, AXIS),
      yAxis: Object.assign({ type: "value" }, AXIS),
      series: [{ type: "bar", data: d.items.map(function (x) { return x.value; }), barWidth: "45%",
        itemStyle: { color: new echarts.graphic.LinearGradient(0, 0, 0, 1, [{ offset: 0, color: "#3fd0ff" }, { offset: 1, color: "#1456b8" }]) } }]
    }, true);
  }

  function pie(d) {
    if (!d.items.length) { title("t-pie", d.title || ""); empty("c-pie"); return; }
    title("t-pie", d.title + " · " + d.period, d.href);
    chart("c-pie").setOption({
      tooltip: { trigger: "item", formatter: "{b}: {c} ({d}%)" },
      legend: { type: "scroll", orient: "vertical", right: 4, top: "middle", textStyle: { color: "#9cc4f2" } },
      series: [{ type: "pie", radius: ["38%", "68%"], center: ["38%", "52%"], data: d.items,
        label: { color: "#cfe3ff", formatter: "{d}%" }, itemStyle: { borderColor: "#041028", borderWidth: 2 } }]
    }, true);
  }

  function map(d) {
    if (!d.items.length || !mapReady) { title("t-map", d.title || ""); empty("c-map"); return; }
    title("t-map", d.title + " · " + d.period, d.href);
    var values = d.items.map(function (x) { return x.value; });
    chart("c-map").setOption({
      tooltip: { trigger: "item", formatter: function (p) { return p.name + "：" + (p.value == null || isNaN(p.value) ? "—" : p.value); } },
      visualMap: { min: Math.min.apply(null, values), max: Math.max.apply(null, values), left: 8, bottom: 8,
        text: ["高", "低"], calculable: true, textStyle: { color: "#9cc4f2" },
        inRange: { color: ["#0d3b7a", "#1f7ae0", "#3fd0ff", "#ffe066"] } },
      series: [{ type: "map", map: "shiyi", roam: false, data: d.items, aspectScale: 1,
        label: { show: true, color: "#fff", fontSize: 13 },
        itemStyle: { borderColor: "#7fd0ff", borderWidth: 1 },
        emphasis: { label: { color: "#041028" }, itemStyle: { areaColor: "#ffb84d" } } }]
    }, true);
  }

  function alerts(a) {
    document.getElementById("bs-levels").innerHTML = a.by_level.map(function (l) {
      return '<span style="background:' + LEVEL[l.level] + '">' + esc(l.label) + " " + l.count + "</span>";
    }).join("");
    var ul = document.getElementById("bs-alerts");
    if (!a.items.length) { ul.innerHTML = '<li class="bs-empty">当前没有未关闭的预警</li>'; return; }
    ul.innerHTML = a.items.map(function (x) {
      var ack = canHandle && x.status === "open"
        ? '<button type="button" data-ack="' + x.id + '">确认</button>' : (x.status === "acknowledged" ? '<span class="when">已确认</span>' : "");
      return '<li class="' + (x.status === "acknowledged" ? "acked" : "") + '" data-alert="' + x.id + '">' +
        '<span class="tag" style="background:' + LEVEL[x.level] + '">' + esc(x.level_label) + "</span>" +
        '<a href="' + esc(x.href) + '" title="' + esc(x.message) + '">' + esc(x.message) + "</a>" +
        '<span class="when">' + esc(x.period) + "</span>" + ack + "</li>";
    }).join("");
  }

  function render(d) {
    document.getElementById("bs-updated").textContent = d.updated;
    cards(d.cards);
    line(0, d.lines[0]);
    line(1, d.lines[1]);
    map(d.map);
    bar(d.bar);
    pie(d.pie);
    alerts(d.alerts);
  }

  function refresh() {
    fetch("/api/v1/cockpit/screen?topic=" + encodeURIComponent(topic), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(render)
      .catch(function () { /* keep the last picture on a failed refresh */ });
  }

  document.getElementById("bs-alerts").addEventListener("click", function (ev) {
    var id = ev.target && ev.target.getAttribute("data-ack");
    if (!id) return;
    ev.target.disabled = true;
    fetch("/api/v1/cockpit/alerts/" + id + "/ack", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf }, body: "{}"
    }).then(function () { refresh(); });
  });

  function tick() {
    var now = new Date();
    document.getElementById("bs-clock").textContent = now.toLocaleString("zh-CN", { hour12: false });
  }

  var data = JSON.parse(document.getElementById("bs-data").textContent);
  fetch(root.dataset.geo, { credentials: "same-origin" })
    .then(function (r) { return r.json(); })
    .then(function (geo) { echarts.registerMap("shiyi", geo); mapReady = true; })
    .catch(function () { mapReady = false; })
    .then(function () { render(data); });
  tick();
  setInterval(tick, 1000);
  setInterval(refresh, 60000);
  window.addEventListener("resize", function () { Object.keys(charts).forEach(function (k) { charts[k].resize(); }); });
  window.gongshuScreen = { refresh: refresh, charts: charts };
})();
