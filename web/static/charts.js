// Charts drawn as plain SVG: the Planner's distribution and the strategies over progress.
"use strict";

const PALETTE = [
  "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
  "#ff9da7", "#9c755f", "#bab0ac", "#1f77b4", "#8c564b", "#17becf", "#7f7f7f",
];

// One horizontal bar per strategy, the chosen one marked; probs is {strategy: p} or a list.
function distributionChart(names, probs, chosen) {
  const values = names.map((name, i) => Number(Array.isArray(probs) ? probs[i] : probs[name]) || 0);
  const row = 16, labelWidth = 190, barWidth = 170, width = labelWidth + barWidth + 50;
  const chart = svg("svg", {
    class: "dist", width, height: row * names.length + 4,
    viewBox: `0 0 ${width} ${row * names.length + 4}`, role: "img",
    "aria-label": "Planner distribution over the 14 strategies",
  });
  names.forEach((name, i) => {
    const y = i * row + 2;
    const picked = name === chosen;
    chart.append(
      svg("text", { x: labelWidth - 6, y: y + 11, class: picked ? "label chosen" : "label",
                    "text-anchor": "end" }, name),
      svg("rect", { x: labelWidth, y: y + 2, width: Math.max(1, values[i] * barWidth),
                    height: row - 5, class: picked ? "bar chosen" : "bar",
                    "data-strategy": name },
          svg("title", {}, `${name}: ${fmt(values[i])}`)),
      svg("text", { x: labelWidth + values[i] * barWidth + 4, y: y + 11, class: "value" },
          fmt(values[i], 2)),
    );
  });
  return chart;
}

// Stacked share of each strategy per progress bucket (the evaluation's figure, as SVG).
function progressChart(names, shares) {
  const width = 360, height = 200, left = 30, bottom = 20, gap = 8;
  const column = (width - left) / Math.max(1, shares.length);
  const chart = svg("svg", {
    class: "progress", width: width + 200, height, viewBox: `0 0 ${width + 200} ${height}`,
    role: "img", "aria-label": "Strategy share over conversation progress",
  });
  const plot = height - bottom;
  shares.forEach((bucket, b) => {
    let top = plot;
    names.forEach((name, i) => {
      const h = (Number(bucket[name]) || 0) * (plot - 4);
      if (h <= 0) return;
      top -= h;
      chart.append(svg("rect", { x: left + b * column + gap / 2, y: top, width: column - gap,
                                 height: h, fill: PALETTE[i % PALETTE.length] },
                       svg("title", {}, `${name}: ${fmt(bucket[name], 2)}`)));
    });
    const from = Math.round((100 * b) / shares.length), to = Math.round((100 * (b + 1)) / shares.length);
    chart.append(svg("text", { x: left + b * column + column / 2, y: height - 5,
                               "text-anchor": "middle", class: "axis" }, `${from}-${to}%`));
  });
  chart.append(svg("text", { x: 2, y: 12, class: "axis" }, "1.0"),
               svg("text", { x: 2, y: plot, class: "axis" }, "0"));
  names.forEach((name, i) => {
    chart.append(svg("rect", { x: width + 10, y: 6 + i * 13, width: 9, height: 9,
                               fill: PALETTE[i % PALETTE.length] }),
                 svg("text", { x: width + 23, y: 14 + i * 13, class: "legend" }, name));
  });
  return chart;
}
