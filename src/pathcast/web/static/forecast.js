/* The forecast dashboard: one horizontal range bar per scope (P10 to P90) with a P50
   marker, drawn with ECharts from the JSON the page embeds. The same numbers are in the
   table under the chart, so the chart is an enhancement, not the only way to read them. */
(function () {
  "use strict";

  var chart = null;

  function number(value) {
    return Math.round(value).toLocaleString();
  }

  function escapeText(text) {
    return window.echarts.format.encodeHTML(String(text));
  }

  function render() {
    var element = document.getElementById("forecast-chart");
    var source = document.getElementById("forecast-chart-data");
    if (!element || !source || typeof window.echarts === "undefined") {
      return;
    }
    if (element.getAttribute("data-rendered") === "true") {
      return;
    }
    if (chart) {
      chart.dispose();
      chart = null;
    }
    var data = JSON.parse(source.textContent);
    // ECharts draws the first category at the bottom: reverse so the page order reads top-down.
    var rows = data.rows.slice().reverse();
    var labels = rows.map(function (row) { return row.label; });
    chart = window.echarts.init(element, null, { locale: data.locale });
    chart.setOption({
      animation: false,
      grid: { left: 8, right: 32, top: 32, bottom: 8, containLabel: true },
      legend: { data: [data.labels.band, data.labels.p50], top: 0 },
      tooltip: {
        trigger: "axis",
        axisPointer: { type: "shadow" },
        formatter: function (params) {
          var row = rows[params[0].dataIndex];
          return (
            "<strong>" + escapeText(row.label) + "</strong><br>" +
            escapeText(data.labels.p10) + ": " + number(row.p10) + "<br>" +
            escapeText(data.labels.p50) + ": " + number(row.p50) + "<br>" +
            escapeText(data.labels.p90) + ": " + number(row.p90) + "<br>" +
            escapeText(data.labels.won) + ": " + number(row.won)
          );
        }
      },
      xAxis: { type: "value", axisLabel: { hideOverlap: true } },
      yAxis: {
        type: "category",
        data: labels,
        axisLabel: { width: 140, overflow: "truncate" }
      },
      series: [
        {
          // the invisible part of the stack: from 0 up to P10
          name: "base",
          type: "bar",
          stack: "range",
          silent: true,
          itemStyle: { color: "transparent" },
          data: rows.map(function (row) { return row.p10; })
        },
        {
          name: data.labels.band,
          type: "bar",
          stack: "range",
          barWidth: 16,
          itemStyle: { color: "#9db8e3", borderRadius: 3 },
          data: rows.map(function (row) { return Math.max(row.p90 - row.p10, 0); })
        },
        {
          name: data.labels.p50,
          type: "scatter",
          symbol: "diamond",
          symbolSize: 16,
          itemStyle: { color: "#1d4f91" },
          data: rows.map(function (row) { return row.p50; })
        }
      ]
    });
    element.setAttribute("data-rendered", "true");
  }

  window.addEventListener("resize", function () {
    if (chart) {
      chart.resize();
    }
  });
  // After an htmx swap of the period or scope, the new chart element needs drawing.
  document.addEventListener("htmx:afterSettle", render);

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", render);
  } else {
    render();
  }
})();
