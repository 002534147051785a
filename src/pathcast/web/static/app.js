/* Pathcast pages: small glue code only. Libraries (htmx, ECharts) come from npm. */
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : null;
  }

  // Every htmx request carries the session's CSRF token (the API checks it on writes).
  document.addEventListener("htmx:configRequest", function (event) {
    var token = csrfToken();
    if (token && !event.detail.headers["X-CSRF-Token"]) {
      event.detail.headers["X-CSRF-Token"] = token;
    }
  });

  function renderPipelineChart() {
    var element = document.getElementById("pipeline-chart");
    var source = document.getElementById("pipeline-chart-data");
    if (!element || !source || typeof window.echarts === "undefined") {
      return;
    }
    var data = JSON.parse(source.textContent);
    var chart = window.echarts.init(element);
    chart.setOption({
      tooltip: { trigger: "axis" },
      legend: { data: [data.labels.count, data.labels.amount] },
      grid: { left: 48, right: 64, bottom: 64, containLabel: true },
      xAxis: { type: "category", data: data.categories, axisLabel: { interval: 0, rotate: 30 } },
      yAxis: [
        { type: "value", name: data.labels.count, minInterval: 1 },
        { type: "value", name: data.labels.amount }
      ],
      series: [
        { name: data.labels.count, type: "bar", data: data.counts },
        { name: data.labels.amount, type: "bar", yAxisIndex: 1, data: data.amounts }
      ]
    });
    window.addEventListener("resize", function () { chart.resize(); });
    element.setAttribute("data-rendered", "true");
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", renderPipelineChart);
  } else {
    renderPipelineChart();
  }
})();
