/* The hive health panel: the member × week contribution heatmap, drawn with ECharts from
   the JSON the panel embeds. The table above it holds the same numbers, so the chart is an
   enhancement. The panel arrives by htmx, so this file may run several times: it sets up
   once, loads ECharts itself when the page did not, and draws every heatmap not yet drawn. */
(function () {
  "use strict";

  if (window.pathcastHivesHealth) {
    window.pathcastHivesHealth.render();
    return;
  }

  var ECHARTS = "/static/vendor/echarts/echarts.min.js";
  var charts = {};
  var loading = false;

  function escapeText(text) {
    return window.echarts.format.encodeHTML(String(text));
  }

  function draw(element) {
    var source = document.getElementById(element.getAttribute("data-hives-heatmap"));
    if (!source || element.getAttribute("data-rendered") === "true") {
      return;
    }
    var data = JSON.parse(source.textContent);
    if (charts[element.id]) {
      charts[element.id].dispose();
    }
    var chart = window.echarts.init(element, null, { locale: data.locale });
    charts[element.id] = chart;
    chart.setOption({
      animation: false,
      grid: { left: 8, right: 16, top: 8, bottom: 56, containLabel: true },
      tooltip: {
        position: "top",
        formatter: function (params) {
          var cell = params.data;
          var parts = cell[3] || {};
          var lines = Object.keys(data.labels).map(function (key) {
            return escapeText(data.labels[key]) + ": " + (parts[key] || 0);
          });
          return "<strong>" + escapeText(data.members[cell[1]]) + "</strong> · " +
            escapeText(data.weeks[cell[0]]) + "<br>" + lines.join("<br>");
        }
      },
      xAxis: { type: "category", data: data.weeks, splitArea: { show: true }, axisLabel: { rotate: 30 } },
      yAxis: { type: "category", data: data.members, splitArea: { show: true }, inverse: true },
      visualMap: {
        min: 0,
        max: Math.max(1, data.max),
        calculable: false,
        orient: "horizontal",
        left: "center",
        bottom: 0,
        itemHeight: 80,
        inRange: { color: ["#eef4fb", "#1d4f91"] }
      },
      series: [{
        type: "heatmap",
        data: data.cells,
        label: { show: true },
        emphasis: { itemStyle: { borderColor: "#333", borderWidth: 1 } }
      }]
    });
    element.setAttribute("data-rendered", "true");
  }

  function render() {
    var elements = document.querySelectorAll("[data-hives-heatmap]");
    if (!elements.length) {
      return;
    }
    if (typeof window.echarts === "undefined") {
      if (!loading) {
        loading = true;
        var script = document.createElement("script");
        script.src = ECHARTS;
        script.onload = render;
        document.head.appendChild(script);
      }
      return;
    }
    Array.prototype.forEach.call(elements, draw);
  }

  window.pathcastHivesHealth = { render: render };
  window.addEventListener("resize", function () {
    Object.keys(charts).forEach(function (id) { charts[id].resize(); });
  });
  document.addEventListener("htmx:afterSettle", render);
  // A refused knowledge form comes back as 422 with the message beside its field: show it.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    if (event.detail.xhr && event.detail.xhr.status === 422 && target && target.id === "health-panel") {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", render);
  } else {
    render();
  }
})();
