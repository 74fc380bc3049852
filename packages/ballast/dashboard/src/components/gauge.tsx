import { DIMENSION_LABELS, formatAmount, formatPercent } from "../format.ts";

/** One budget dimension: used against its limit, as a native (accessible) meter. */
export function Gauge({
  dimension,
  used,
  limit,
  state,
}: {
  dimension: string;
  used: number;
  limit: number;
  state: "ok" | "warning" | "exceeded";
}) {
  const ratio = limit > 0 ? used / limit : 0;
  const label = DIMENSION_LABELS[dimension] ?? dimension;
  const id = `gauge-${dimension}`;
  return (
    <div class={`gauge gauge-${state}`} data-dimension={dimension}>
      <div class="gauge-head">
        <span id={id}>{label}</span>
        <span>
          <span data-field="used" data-value={String(used)}>
            {formatAmount(dimension, used)}
          </span>{" "}
          of{" "}
          <span data-field="limit" data-value={String(limit)}>
            {formatAmount(dimension, limit)}
          </span>{" "}
          ({formatPercent(ratio)})
          {state === "exceeded" ? " — exceeded" : state === "warning" ? " — over (soft)" : ""}
        </span>
      </div>
      <meter
        aria-labelledby={id}
        min={0}
        max={limit}
        low={limit * 0.75}
        high={limit * 0.9}
        optimum={0}
        value={Math.min(used, limit)}
      />
    </div>
  );
}
