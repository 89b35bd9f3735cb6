/* opsdash: the little the pages need beyond htmx. No network access but to opsdash itself. */
(function () {
  "use strict";

  // A form marked "once" can be submitted once: a double click starts one job, not
  // two (the server refuses a second repair-all anyway).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.classList || !form.classList.contains("once")) return;
    if (form.dataset.submitted) { event.preventDefault(); return; }
    form.dataset.submitted = "1";
    setTimeout(function () {
      form.querySelectorAll("button[type=submit], button:not([type])").forEach(function (b) { b.disabled = true; });
    }, 0);
  });

  var COLORS = ["#1f2937", "#2563eb", "#16a34a", "#d97706", "#dc2626", "#7c3aed", "#0891b2", "#db2777"];

  function drawTrends() {
    var canvas = document.getElementById("trend-chart");
    var source = document.getElementById("trend-data");
    if (!canvas || !source || !window.Chart) return;
    var data = JSON.parse(source.textContent);
    var names = Object.keys(data.lines);
    var datasets = names.map(function (name, i) {
      return {
        label: name.replace(/_/g, " "),
        data: data.times.map(function (t, j) { return { x: t, y: data.lines[name][j] }; }),
        borderColor: COLORS[i % COLORS.length],
        backgroundColor: COLORS[i % COLORS.length],
        borderWidth: name === "consistent" ? 3 : 1.5,
        pointRadius: markerRadius(data.times.length),
        // Monotone curves never rise above or dip below the values measured.
        cubicInterpolationMode: "monotone",
        // A marker on the plot's edge (a value at the scale's bound) is drawn whole.
        clip: 8,
      };
    });
    var first = data.times[0], last = data.times[data.times.length - 1];
    var span = data.times.length ? last - first : 0;
    // A single snapshot (or several at one instant) sits in the middle of an hour either side.
    if (!span) { first -= 3600 * 1000; last += 3600 * 1000; }
    new window.Chart(canvas, {
      type: "line",
      data: { datasets: datasets },
      options: {
        animation: false,
        maintainAspectRatio: false,
        parsing: false,
        interaction: { mode: "nearest", axis: "x", intersect: false },
        scales: {
          x: {
            type: "linear",
            min: first,
            max: last,
            ticks: { maxTicksLimit: 8, callback: function (v) { return formatTime(v, span); } },
          },
          y: { title: { display: true, text: "% of therapists passing" }, suggestedMax: 100 },
        },
        plugins: {
          legend: { position: "bottom" },
          tooltip: { callbacks: { title: function (items) { return items.length ? new Date(items[0].parsed.x).toLocaleString() : ""; } } },
        },
      },
    });
  }

  // Markers where snapshots are few enough to tell apart; a plain line beyond 60.
  function markerRadius(count) {
    if (count > 60) return 0;
    return count > 20 ? 2 : 3.5;
  }

  function formatTime(ms, span) {
    var d = new Date(ms);
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    var hm = pad(d.getHours()) + ":" + pad(d.getMinutes());
    if (span <= 36 * 3600 * 1000) return hm;
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + (span <= 8 * 86400 * 1000 ? " " + hm : "");
  }

  document.addEventListener("DOMContentLoaded", drawTrends);
})();
