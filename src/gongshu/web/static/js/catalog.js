// 资源目录: ECharts from data attributes, and the items editor (add / remove rows).
(function () {
  document.querySelectorAll("[data-chart]").forEach(function (el) {
    if (!window.echarts) return;
    var spec = JSON.parse(el.getAttribute("data-chart"));
    var chart = echarts.init(el);
    var names = Object.keys(spec.data), values = names.map(function (k) { return spec.data[k]; });
    var option = spec.kind === "pie"
      ? { tooltip: { trigger: "item" }, series: [{ type: "pie", radius: ["35%", "65%"],
          data: names.map(function (n, i) { return { name: n, value: values[i] }; }) }] }
      : { tooltip: {}, grid: { left: 150, right: 20, top: 10, bottom: 20 },
          xAxis: { type: "value" }, yAxis: { type: "category", data: names.slice().reverse() },
          series: [{ type: "bar", data: values.slice().reverse(), itemStyle: { color: "#1f5fbf" } }] };
    chart.setOption(option);
    window.addEventListener("resize", function () { chart.resize(); });
  });
  // Once the form is being submitted, no more inline checks (the page is leaving).
  var form = document.querySelector("#resource-form");
  if (form) {
    var leaving = false;
    form.addEventListener("submit", function () { leaving = true; });
    form.addEventListener("htmx:beforeRequest", function (evt) { if (leaving) evt.preventDefault(); });
  }
  var body = document.querySelector("#items-body");
  var tpl = document.querySelector("#item-row-template");
  var add = document.querySelector("#add-item");
  if (body && tpl && add) {
    var next = body.querySelectorAll("tr").length;
    add.addEventListener("click", function () {
      var html = tpl.innerHTML.replace(/__N__/g, String(next++));
      body.insertAdjacentHTML("beforeend", html);
    });
    body.addEventListener("click", function (evt) {
      if (evt.target.classList.contains("remove-item")) evt.target.closest("tr").remove();
    });
  }
})();
