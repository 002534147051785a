/* The hive timeline (templates/hives/_timeline_panel.html): an ECharts Gantt drawn from the
   JSON the panel embeds. One row per milestone or task: a thin bar for the plan, a thick one
   for the forecast (the critical path in a strong red, done work in green), arrows from each
   task to the ones waiting for it, and vertical marks for today and the promised date. The
   same numbers are in the table under the chart, so the chart is an enhancement only.

   The panel arrives through htmx after the page, so this file may run several times: it
   defines itself once, loads ECharts if the page did not, and draws every chart not drawn. */
(function () {
  "use strict";

  if (window.pathcastHiveGantt) {
    window.pathcastHiveGantt.renderAll();
    return;
  }

  var DAY = 24 * 3600 * 1000;
  var COLOURS = { planned: "#c9d3e0", forecast: "#5b8bd6", critical: "#c0392b", done: "#3c9d5d", link: "#8795a8" };
  var charts = [];

  function time(text) {
    return new Date(text + "T00:00:00Z").getTime();
  }

  function escapeText(text) {
    return window.echarts.format.encodeHTML(String(text));
  }

  function barColour(row) {
    if (row.status === "done") { return COLOURS.done; }
    return row.critical ? COLOURS.critical : COLOURS.forecast;
  }

  function option(data) {
    var rows = data.rows;
    var names = rows.map(function (row) { return row.name; });
    var index = {};
    rows.forEach(function (row, i) { index[row.id] = i; });
    // bars: [row index, start, end, kind] — a zero-day milestone is drawn as a diamond
    var planned = rows.map(function (row, i) { return [i, time(row.planned[0]), time(row.planned[1]), row.kind]; });
    var forecast = rows.map(function (row, i) {
      return { value: [i, time(row.forecast[0]), time(row.forecast[1]), row.kind], itemStyle: { color: barColour(row) } };
    });
    var links = [];
    data.links.forEach(function (pair) {
      var from = index[pair[0]], to = index[pair[1]];
      if (from === undefined || to === undefined) { return; }
      links.push({ coords: [[time(rows[from].forecast[1]), from], [time(rows[to].forecast[0]), to]] });
    });
    var marks = [{ xAxis: time(data.today), name: data.labels.today, lineStyle: { color: "#1d4f91", type: "solid" } }];
    if (data.promised) {
      marks.push({ xAxis: time(data.promised), name: data.labels.promised, lineStyle: { color: COLOURS.critical, type: "dashed" } });
    }

    function drawBar(height) {
      return function (params, api) {
        var y = api.value(0);
        var start = api.coord([api.value(1), y]);
        var end = api.coord([api.value(2), y]);
        var band = api.size([0, 1])[1] * height;
        if (api.value(2) - api.value(1) < DAY / 2 || api.value(3) === "milestone" && api.value(2) === api.value(1)) {
          var size = Math.max(8, band);
          return { type: "polygon", shape: { points: [[end[0], end[1] - size / 2], [end[0] + size / 2, end[1]], [end[0], end[1] + size / 2], [end[0] - size / 2, end[1]]] },
                   style: api.style() };
        }
        return { type: "rect", shape: { x: start[0], y: start[1] - band / 2, width: Math.max(2, end[0] - start[0]), height: band },
                 style: api.style() };
      };
    }

    return {
      animation: false,
      grid: { left: 8, right: 24, top: 36, bottom: 24, containLabel: true },
      legend: { top: 0, data: [data.labels.planned, data.labels.forecast] },
      tooltip: {
        formatter: function (params) {
          var row = rows[params.value ? params.value[0] : 0];
          if (!row) { return ""; }
          return "<strong>" + escapeText(row.name) + "</strong><br>" +
            escapeText(data.labels.planned) + ": " + row.planned[0] + " – " + row.planned[1] + "<br>" +
            escapeText(data.labels.forecast) + ": " + row.forecast[0] + " – " + row.forecast[1] +
            (row.critical ? "<br>" + escapeText(data.labels.critical) : "") +
            (row.late ? "<br>" + escapeText(data.labels.late) + ": " + row.late : "") +
            (row.owner ? "<br>" + escapeText(row.owner) : "");
        }
      },
      xAxis: { type: "time", position: "top", splitLine: { show: true, lineStyle: { color: "#eef1f5" } } },
      yAxis: { type: "category", data: names, inverse: true, axisLabel: { width: 180, overflow: "truncate" } },
      dataZoom: rows.length > 40 ? [{ type: "slider", yAxisIndex: 0, start: 0, end: Math.min(100, 4000 / rows.length) }] : [],
      series: [
        { name: data.labels.planned, type: "custom", renderItem: drawBar(0.25), encode: { x: [1, 2], y: 0 },
          itemStyle: { color: COLOURS.planned }, data: planned, z: 1 },
        { name: data.labels.forecast, type: "custom", renderItem: drawBar(0.55), encode: { x: [1, 2], y: 0 },
          itemStyle: { color: COLOURS.forecast }, data: forecast, z: 2,
          markLine: { symbol: "none", silent: true, label: { formatter: "{b}" }, data: marks } },
        { name: "links", type: "lines", coordinateSystem: "cartesian2d", silent: true, z: 3,
          symbol: ["none", "arrow"], symbolSize: 6, lineStyle: { color: COLOURS.link, width: 1, curveness: 0.08 }, data: links }
      ]
    };
  }

  function renderAll() {
    if (typeof window.echarts === "undefined") { return; }
    charts = charts.filter(function (chart) { return !chart.isDisposed() && document.body.contains(chart.getDom()); });
    var elements = document.querySelectorAll("[data-hive-gantt]");
    Array.prototype.forEach.call(elements, function (element) {
      if (element.getAttribute("data-rendered") === "true") { return; }
      var source = document.getElementById(element.getAttribute("data-hive-gantt"));
      if (!source) { return; }
      var data = JSON.parse(source.textContent);
      var chart = window.echarts.init(element, null, { locale: data.locale });
      chart.setOption(option(data));
      charts.push(chart);
      element.setAttribute("data-rendered", "true");
    });
  }

  function ensureECharts(then) {
    if (typeof window.echarts !== "undefined") { then(); return; }
    var script = document.createElement("script");
    script.src = "/static/vendor/echarts/echarts.min.js";
    script.onload = then;
    document.head.appendChild(script);
  }

  window.pathcastHiveGantt = { renderAll: function () { ensureECharts(renderAll); } };
  window.addEventListener("resize", function () { charts.forEach(function (chart) { chart.resize(); }); });
  document.addEventListener("htmx:afterSettle", function () { window.pathcastHiveGantt.renderAll(); });
  window.pathcastHiveGantt.renderAll();
})();
