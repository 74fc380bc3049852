import "uplot/dist/uPlot.min.css";
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import { formatCost } from "../format.ts";

/**
 * Spend per time bucket, one line per workflow, stage or model (uPlot, drawn on a canvas).
 * The numbers are also in the table next to each chart, which is what screen readers get.
 */

const two = (n: number) => String(n).padStart(2, "0");

/** Tick labels: the date at midnight (month-day, as ISO writes it), else the hour; local time. */
function tick(seconds: number): string {
  const d = new Date(seconds * 1000);
  const time = `${two(d.getHours())}:${two(d.getMinutes())}`;
  return time === "00:00" ? `${two(d.getMonth() + 1)}-${two(d.getDate())}` : time;
}

// Okabe-Ito colours: distinguishable with the common colour-vision deficiencies.
const PALETTE = ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000", "#8c6d1f"];

export function colourOf(index: number): string {
  return PALETTE[index % PALETTE.length]!;
}

export function CostChart({
  buckets,
  series,
}: {
  buckets: string[];
  series: { key: string; values: number[] }[];
}) {
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = host.current;
    if (el === null) return;
    const xs = buckets.map((b) => Date.parse(b) / 1000);
    const data: uPlot.AlignedData = [xs, ...series.map((s) => s.values)];
    const width = () => Math.max(280, el.clientWidth);
    const plot = new uPlot(
      {
        width: width(),
        height: 220,
        scales: { x: { time: true } },
        axes: [
          {
            stroke: "#1f2933",
            grid: { stroke: "#d9e2ec" },
            size: 40,
            space: 56,
            values: (_u, ticks) => ticks.map(tick),
          },
          {
            stroke: "#1f2933",
            grid: { stroke: "#d9e2ec" },
            size: 70,
            values: (_u, ticks) => ticks.map((t) => formatCost(t)),
          },
        ],
        series: [
          {},
          ...series.map((s, i) => ({
            label: s.key,
            stroke: colourOf(i),
            width: 2,
            points: { show: xs.length < 40 },
            value: (_u: uPlot, v: number | null) => (v === null ? "—" : formatCost(v)),
          })),
        ],
      },
      data,
      el,
    );
    const observer = new ResizeObserver(() => plot.setSize({ width: width(), height: 220 }));
    observer.observe(el);
    return () => {
      observer.disconnect();
      plot.destroy();
    };
  }, [buckets, series]);
  return <div class="chart" ref={host} aria-hidden="true" />;
}
