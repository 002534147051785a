/* Record pages: fields edited in place, activity forms, the stage-history chart.
   htmx does the requests; this file only adjusts how answers are shown. */
(function () {
  "use strict";

  var TIMED_KINDS = { call: true, meeting: true };
  var stageChart = null;

  // A refused form comes back as 422 with the messages beside its fields: show it.
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.xhr && event.detail.xhr.status === 422) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  // Other refusals (403, 404, server errors) are explained above the fields.
  document.addEventListener("htmx:responseError", function (event) {
    var alert = document.getElementById("record-alert");
    if (!alert) {
      return;
    }
    var status = event.detail.xhr ? event.detail.xhr.status : 0;
    alert.textContent = alert.getAttribute("data-message-" + status) || alert.getAttribute("data-message-error");
  });

  document.addEventListener("htmx:beforeRequest", function () {
    var alert = document.getElementById("record-alert");
    if (alert) {
      alert.textContent = "";
    }
  });

  // Escape in a field being edited cancels the edit.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" || !event.target.closest) {
      return;
    }
    var form = event.target.closest("form.inline-edit");
    var cancel = form && form.querySelector("[data-cancel]");
    if (cancel) {
      event.preventDefault();
      // htmx wires swapped-in links only when the swap settles (~20 ms later); asking
      // htmx directly means an Escape pressed right after a refusal still cancels.
      if (window.htmx && cancel.getAttribute("hx-get")) {
        window.htmx.ajax("GET", cancel.getAttribute("hx-get"), {
          target: cancel.getAttribute("hx-target"),
          swap: cancel.getAttribute("hx-swap") || "outerHTML"
        });
      } else {
        cancel.click();
      }
    }
  });

  // The duration field only means something for calls and meetings.
  function syncDuration(root) {
    var forms = (root || document).querySelectorAll("#log-form");
    Array.prototype.forEach.call(forms, function (form) {
      var kind = form.querySelector("select[name=kind]");
      var field = form.querySelector('[data-field="duration_minutes"]');
      if (kind && field) {
        field.hidden = !TIMED_KINDS[kind.value];
      }
    });
  }

  document.addEventListener("change", function (event) {
    if (event.target && event.target.name === "kind" && event.target.closest("#log-form")) {
      syncDuration(document);
    }
  });

  function renderStageChart() {
    var element = document.getElementById("stage-chart");
    var source = document.getElementById("stage-chart-data");
    if (!element || !source || typeof window.echarts === "undefined") {
      return;
    }
    if (element.getAttribute("data-rendered") === "true") {
      return;
    }
    if (stageChart) {
      stageChart.dispose();
      stageChart = null;
    }
    var data = JSON.parse(source.textContent);
    stageChart = window.echarts.init(element, null, { locale: data.locale });
    stageChart.setOption({
      animation: false,
      grid: { left: 8, right: 24, top: 16, bottom: 8, containLabel: true },
      tooltip: {
        trigger: "item",
        formatter: function (params) {
          return params.data && params.data.tip ? params.data.tip : "";
        }
      },
      xAxis: { type: "time", axisLabel: { hideOverlap: true } },
      // A value axis (not a category one) keeps time the base axis, so each step
      // rises at the moment of the move.
      yAxis: {
        type: "value",
        min: 0,
        max: Math.max(data.stages.length - 1, 1),
        interval: 1,
        axisLabel: {
          width: 110,
          overflow: "truncate",
          formatter: function (value) {
            return data.stages[value] || "";
          }
        }
      },
      series: [
        {
          name: data.labels.series,
          type: "line",
          step: "end",
          symbolSize: 8,
          data: data.points
        }
      ]
    });
    element.setAttribute("data-rendered", "true");
  }

  function refresh() {
    renderStageChart();
    syncDuration(document);
  }

  window.addEventListener("resize", function () {
    if (stageChart) {
      stageChart.resize();
    }
  });
  document.addEventListener("htmx:afterSettle", refresh);

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", refresh);
  } else {
    refresh();
  }
})();
