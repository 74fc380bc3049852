// The report's browser code. It reads the payloads from <script type="application/json">
// blocks (textContent + JSON.parse) or, in split mode, from the JSON strings the asset
// scripts left in window.fieldAuditData, and builds the page with DOM calls only: text goes
// in through textContent, never innerHTML, and no style attribute is ever written (the CSP
// allows neither inline script nor inline style).
(() => {
  const SVG = "http://www.w3.org/2000/svg";
  const split = document.body.dataset.mode === "split";
  const KIND_LABEL = { obstacle: "Obstacle", canopy_gap: "Canopy gap", rough_ground: "Rough ground" };
  const KIND_COLOR = { obstacle: "#c0392b", canopy_gap: "#2e86c1", rough_ground: "#b9770e" };

  function payload(id) {
    const element = document.getElementById(id);
    if (!element) throw new Error(`missing payload block #${id}`);
    const block = JSON.parse(element.textContent);
    if (!split || id === "payload-meta") return block;
    const text = window.fieldAuditData?.[id];
    if (typeof text !== "string") throw new Error(`asset ${block.asset} did not load`);
    return JSON.parse(text);
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "text") node.textContent = value;
      else if (key === "class") node.className = value;
      else node.setAttribute(key, value);
    }
    for (const child of children) if (child) node.append(child);
    return node;
  }

  function svg(tag, attrs) {
    const node = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
    return node;
  }

  function fmt(value, digits, unit) {
    if (value === null || value === undefined || !Number.isFinite(value)) return "n/a";
    return `${value.toFixed(digits)}${unit ? ` ${unit}` : ""}`;
  }

  const meta = payload("payload-meta");
  const events = payload("payload-events");
  const gps = payload("payload-gps-path");
  const features = payload("payload-features");
  const telemetry = payload("payload-telemetry");
  const images = payload("payload-images");

  function imageSrc(id) {
    const src = images[id];
    if (typeof src !== "string") return "";
    // Only data: images (single) or files inside the assets folder (split).
    if (
      split
        ? /^[A-Za-z0-9._-]+_assets\/images\/[A-Za-z0-9._-]+$/.test(src)
        : /^data:image\/(jpeg|png);base64,/.test(src)
    )
      return src;
    return "";
  }

  function frameImage(id, alt) {
    return el("img", { class: "frame", src: imageSrc(id), alt, "data-image": id });
  }

  // ------------------------------------------------------------------ header
  const app = document.getElementById("app");
  const header = el(
    "header",
    {},
    el("h1", { text: `Field audit — ${meta.run_id}` }),
    el(
      "div",
      { class: "facts" },
      el("span", { text: `Robot ${meta.robot}` }),
      el("span", { text: `Started ${meta.started_at}` }),
      el("span", { text: `${meta.frames} frames` }),
      el("span", { text: `${events.length} events`, "data-testid": "event-count" }),
      el("span", { text: `Captions: ${meta.model}` }),
      el("span", {}, el("code", { text: `dataset ${meta.dataset_hash.slice(0, 16)}…` })),
    ),
  );
  const main = el("main");
  app.append(header, main);

  // ------------------------------------------------------------------ first frame + map
  const first = el(
    "section",
    { "data-testid": "first-frame" },
    el("h2", { text: `First frame (#${meta.first_frame.frame_idx})` }),
    frameImage(meta.first_frame.image, "First camera frame of the run"),
  );

  const overlay = el(
    "div",
    { class: "overlay", "data-testid": "map-overlay" },
    el("p", { class: "empty", text: "Select an event on the map." }),
  );
  const mapSection = el(
    "section",
    { "data-testid": "map" },
    el("h2", { text: "GPS path" }),
    el("div", { class: "map-wrap" }, drawMap(), overlay),
  );
  main.append(el("div", { class: "row" }, first, mapSection));

  function select(id) {
    const event = events.find((e) => e.id === id);
    for (const card of document.querySelectorAll(".card"))
      card.classList.toggle("selected", card.dataset.event === id);
    overlay.replaceChildren(
      frameImage(event.image, `Camera frame of ${event.id}`),
      el(
        "p",
        {},
        el("span", { class: `kind ${event.kind}`, text: KIND_LABEL[event.kind] }),
        document.createTextNode(`${event.id} at ${fmt(event.t, 1, "s")}`),
      ),
      el("p", { class: "caption", text: event.caption }),
    );
  }

  function drawMap() {
    const lat0 = gps.lat[0];
    const lon0 = gps.lon[0];
    const k = Math.cos((lat0 * Math.PI) / 180);
    const xs = gps.lon.map((lon) => (lon - lon0) * k * 111320);
    const ys = gps.lat.map((lat) => (lat - lat0) * 110540);
    const minX = Math.min(...xs);
    const maxX = Math.max(...xs);
    const minY = Math.min(...ys);
    const maxY = Math.max(...ys);
    const span = Math.max(maxX - minX, maxY - minY, 1);
    const size = 400;
    const pad = 20;
    const sx = (x) => pad + ((x - minX) / span) * (size - 2 * pad);
    const sy = (y) => size - pad - ((y - minY) / span) * (size - 2 * pad);
    const root = svg("svg", {
      viewBox: `0 0 ${size} ${size}`,
      role: "img",
      "aria-label": "GPS path of the run with events",
    });
    root.append(svg("rect", { x: 0, y: 0, width: size, height: size, fill: "#eef2ea" }));
    const points = xs.map((x, i) => `${sx(x).toFixed(1)},${sy(ys[i]).toFixed(1)}`).join(" ");
    root.append(
      svg("polyline", {
        points,
        fill: "none",
        stroke: "#37474f",
        "stroke-width": 2,
        "data-testid": "gps-path",
      }),
    );
    root.append(svg("circle", { cx: sx(xs[0]), cy: sy(ys[0]), r: 5, fill: "#2e7d32" }));
    root.append(svg("circle", { cx: sx(xs.at(-1)), cy: sy(ys.at(-1)), r: 5, fill: "#37474f" }));
    for (const event of events) {
      const x = (event.lon - lon0) * k * 111320;
      const y = (event.lat - lat0) * 110540;
      const marker = svg("circle", {
        cx: sx(x),
        cy: sy(y),
        r: 7,
        fill: KIND_COLOR[event.kind],
        stroke: "#fff",
        "stroke-width": 2,
        "data-event": event.id,
        class: "marker",
      });
      const title = svg("title");
      title.textContent = `${event.id} ${KIND_LABEL[event.kind]}`;
      marker.append(title);
      marker.addEventListener("click", () => select(event.id));
      root.append(marker);
    }
    const scale = svg("text", { x: pad, y: size - 4 });
    scale.textContent = `${span.toFixed(0)} m across`;
    root.append(scale);
    return root;
  }

  // ------------------------------------------------------------------ charts
  const charts = el(
    "section",
    { "data-testid": "charts" },
    el("h2", { text: "Features over time (events marked)" }),
  );
  const titles = {
    min_clearance_m: "Minimum clearance (m)",
    canopy_density_proxy: "Canopy density proxy",
    valid_depth_ratio: "Valid depth ratio",
    imu_roughness: "IMU roughness (m/s²)",
    gyro_rms: "Gyro RMS (rad/s)",
    score: "Anomaly score (robust z)",
  };
  for (const column of features.columns) {
    charts.append(
      chart(
        titles[column] || column,
        features.t,
        features.values[column],
        column === "score" ? meta.event_config.height : undefined,
        column,
      ),
    );
  }
  charts.append(chart("Speed (m/s)", telemetry.t, telemetry.speed_mps, undefined, "speed"));
  main.append(charts);

  function chart(title, t, values, threshold, id) {
    const width = 900;
    const height = 130;
    const pad = { l: 44, r: 8, t: 8, b: 18 };
    const finite = values.filter((v) => v !== null && Number.isFinite(v));
    const lo = finite.length ? Math.min(...finite) : 0;
    let hi = finite.length ? Math.max(...finite) : 1;
    if (threshold !== undefined) hi = Math.max(hi, threshold);
    if (hi === lo) hi = lo + 1;
    const t0 = t[0];
    const t1 = t.at(-1) === t0 ? t0 + 1 : t.at(-1);
    const px = (v) => pad.l + ((v - t0) / (t1 - t0)) * (width - pad.l - pad.r);
    const py = (v) => height - pad.b - ((v - lo) / (hi - lo)) * (height - pad.t - pad.b);
    const root = svg("svg", {
      viewBox: `0 0 ${width} ${height}`,
      role: "img",
      "aria-label": title,
      "data-chart": id,
    });
    root.append(
      svg("line", { class: "axis", x1: pad.l, x2: width - pad.r, y1: height - pad.b, y2: height - pad.b }),
    );
    for (const event of events) {
      root.append(
        svg("rect", {
          x: px(event.t_left_ip),
          y: pad.t,
          width: Math.max(1, px(event.t_right_ip) - px(event.t_left_ip)),
          height: height - pad.t - pad.b,
          fill: KIND_COLOR[event.kind],
          "fill-opacity": 0.12,
        }),
      );
      root.append(
        svg("line", {
          x1: px(event.t),
          x2: px(event.t),
          y1: pad.t,
          y2: height - pad.b,
          stroke: KIND_COLOR[event.kind],
          "stroke-width": 1.5,
          "data-event": event.id,
        }),
      );
    }
    if (threshold !== undefined) {
      root.append(
        svg("line", {
          x1: pad.l,
          x2: width - pad.r,
          y1: py(threshold),
          y2: py(threshold),
          stroke: "#7f8c8d",
          "stroke-dasharray": "4 3",
        }),
      );
    }
    let path = "";
    let pen = false;
    values.forEach((v, i) => {
      if (v === null || !Number.isFinite(v)) {
        pen = false;
        return;
      }
      path += `${pen ? "L" : "M"}${px(t[i]).toFixed(1)},${py(v).toFixed(1)}`;
      pen = true;
    });
    root.append(svg("path", { d: path, fill: "none", stroke: "#1d2a1f", "stroke-width": 1.2 }));
    for (const [value, y] of [
      [hi, pad.t + 8],
      [lo, height - pad.b],
    ]) {
      const label = svg("text", { x: 2, y });
      label.textContent = fmt(value, 2);
      root.append(label);
    }
    const axis = svg("text", { x: width - 60, y: height - 4 });
    axis.textContent = `${fmt(t1, 0)} s`;
    root.append(axis);
    return el("div", { class: "chart" }, el("h3", { text: title }), root);
  }

  // ------------------------------------------------------------------ event cards
  const cards = el("div", { class: "cards", "data-testid": "event-cards" });
  for (const event of events) {
    const props = el("dl", { class: "props" });
    const add = (name, value) => props.append(el("dt", { text: name }), el("dd", { text: value }));
    add("Score", fmt(event.score, 2));
    add("Prominence", fmt(event.prominence, 2));
    add("Width", `${fmt(event.width, 2)} frames (${fmt(event.t_right_ip - event.t_left_ip, 2, "s")})`);
    add("Width height", fmt(event.width_height, 2));
    add("Bases", `frames ${event.left_base_frame} – ${event.right_base_frame}`);
    add("Interpolated edges", `${fmt(event.left_ip, 2)} – ${fmt(event.right_ip, 2)}`);
    add(
      "z (obstacle / gap / rough)",
      `${fmt(event.z.obstacle, 1)} / ${fmt(event.z.canopy_gap, 1)} / ${fmt(event.z.rough_ground, 1)}`,
    );
    add("Clearance", fmt(event.min_clearance_m, 2, "m"));
    add("Canopy density", fmt(event.canopy_density_proxy, 2));
    add("IMU roughness", fmt(event.imu_roughness, 3, "m/s²"));
    add("Position", `${event.lat.toFixed(6)}, ${event.lon.toFixed(6)}`);
    const card = el(
      "article",
      { class: "card", "data-event": event.id },
      frameImage(event.image, `Camera frame of ${event.id}`),
      el(
        "div",
        { class: "body" },
        el(
          "h3",
          {},
          el("span", { class: `kind ${event.kind}`, text: KIND_LABEL[event.kind] }),
          document.createTextNode(`${event.id} · frame ${event.frame_idx} · ${fmt(event.t, 1, "s")}`),
        ),
        props,
        el("p", {
          class: event.caption_ok ? "caption" : "caption failed",
          text: event.caption,
          "data-testid": "caption",
        }),
      ),
    );
    card.addEventListener("click", () => select(event.id));
    cards.append(card);
  }
  main.append(
    el(
      "section",
      { "data-testid": "events" },
      el("h2", { text: `Events (${events.length})` }),
      events.length ? cards : el("p", { class: "empty", text: "No events passed the thresholds." }),
    ),
  );
  app.append(
    el("footer", { text: `Generated ${meta.generated_at} · payload downsample ×${meta.downsample}` }),
  );
  if (events.length) select(events[0].id);
  document.body.dataset.ready = "1";
})();
