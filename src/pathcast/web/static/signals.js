/* Behaviour sections: the heatmap of visible dwell per asset and day (ECharts).
   Each chart reads its data from the <script type="application/json"> block named by
   the element's data-heatmap attribute; the table beside it says the same in text. */
(function () {
  "use strict";

  var charts = [];

  // Asset names come from the tracked site: never let them reach the tooltip as HTML.
  function escape(text) {
    return window.echarts.format.encodeHTML(String(text));
  }

  function renderHeatmap(element) {
    var source = document.getElementById(element.getAttribute("data-heatmap"));
    if (!source || element.getAttribute("data-rendered") === "true") {
      return;
    }
    var data = JSON.parse(source.textContent);
    element.style.height = Math.max(160, 90 + 30 * data.assets.length) + "px";
    var chart = window.echarts.init(element, null, { locale: data.locale });
    chart.setOption({
      animation: false,
      grid: { left: 8, right: 16, top: 8, bottom: 56, containLabel: true },
      tooltip: {
        position: "top",
        formatter: function (params) {
          var cell = params.data;
          return (
            escape(data.assets[cell[1]]) + "<br>" + escape(data.titles[cell[0]]) + "<br>" +
            escape(data.labels.dwell) + ": " + escape(cell[2]) + " " + escape(data.labels.seconds) +
            " · " + escape(data.labels.views) + ": " + escape(cell[3])
          );
        }
      },
      xAxis: { type: "category", data: data.days, splitArea: { show: true }, axisLabel: { hideOverlap: true } },
      yAxis: {
        type: "category",
        data: data.assets,
        splitArea: { show: true },
        axisLabel: { width: 160, overflow: "truncate" }
      },
      visualMap: {
        dimension: 2, // the dwell (the 4th value of a cell is its number of views)
        min: 0,
        max: Math.max(data.max, 1),
        calculable: true,
        orient: "horizontal",
        left: "center",
        bottom: 0,
        itemHeight: 120,
        text: [String(Math.round(data.max)) + " " + data.labels.seconds, "0"],
        inRange: { color: ["#e8eef8", "#1d5fbf"] }
      },
      series: [
        {
          name: data.labels.dwell,
          type: "heatmap",
          data: data.cells,
          label: { show: false },
          emphasis: { itemStyle: { borderColor: "#1f2933", borderWidth: 1 } }
        }
      ]
    });
    element.setAttribute("data-rendered", "true");
    charts.push(chart);
  }

  function renderAll() {
    if (typeof window.echarts === "undefined") {
      return;
    }
    Array.prototype.forEach.call(document.querySelectorAll("[data-heatmap]"), renderHeatmap);
  }

  window.addEventListener("resize", function () {
    charts.forEach(function (chart) {
      chart.resize();
    });
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", renderAll);
  } else {
    renderAll();
  }
})();
