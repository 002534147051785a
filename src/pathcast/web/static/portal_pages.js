/* Portal service levels: tickets opened and in target (bars), attainment % (line). */
(function () {
  "use strict";

  function render() {
    var element = document.getElementById("portal-sla-chart");
    var source = document.getElementById("portal-sla-chart-data");
    if (!element || !source || typeof window.echarts === "undefined") {
      return;
    }
    var data = JSON.parse(source.textContent);
    var chart = window.echarts.init(element);
    chart.setOption({
      tooltip: { trigger: "axis" },
      legend: { data: [data.labels.opened, data.labels.within, data.labels.attainment] },
      grid: { left: 48, right: 64, bottom: 48, containLabel: true },
      xAxis: { type: "category", data: data.categories },
      yAxis: [
        { type: "value", minInterval: 1 },
        { type: "value", min: 0, max: 100, axisLabel: { formatter: "{value}%" } }
      ],
      series: [
        { name: data.labels.opened, type: "bar", data: data.opened },
        { name: data.labels.within, type: "bar", data: data.within },
        { name: data.labels.attainment, type: "line", yAxisIndex: 1, data: data.attainment, connectNulls: false }
      ]
    });
    window.addEventListener("resize", function () { chart.resize(); });
    element.setAttribute("data-rendered", "true");
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", render);
  } else {
    render();
  }
})();
