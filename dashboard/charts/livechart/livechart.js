// livechart.js: one Plotly chart per element, updated in place (dashboard/charts/livechart/__init__.py).
//
// Streamlit (components v2) calls the default export on mount and again whenever the element's
// data changed, with the same parentElement while the element stays mounted. We keep one
// Plotly instance per parentElement, take each payload into our copy of the figure, and draw that
// with Plotly.react, the charts that changed in turn, about one per animation frame (`drawWaiting`),
// and only while it is in view (a chart scrolled away, or in a closed expander, is drawn again when it
// comes back). A fixed layout.uirevision makes
// Plotly keep zoom, hover and legend clicks across updates. Numbers in, pixels out: nothing received
// is written as HTML here (Plotly draws its own text as SVG text nodes).

// plotly.js (the cartesian bundle once the server has it, else the plotly package's) comes from the app's
// own route, which the page's head loads and each chart's data names (`plotly`: cached by the browser for
// good); without that route, Streamlit serves the package's next to this file's folder:
// <base>/_stcore/bidi-components/digit-lab.livechart/livechart.js -> ../digit-lab.plotly/
let plotlyUrl = new URL("../digit-lab.plotly/plotly.min.js", import.meta.url).href;
const UIREVISION = "livechart";

let plotly = null; // one load of plotly.js for the page: a Promise of window.Plotly
const charts = new WeakMap(); // parentElement -> chart state (below)
const statuses = new WeakMap(); // parentElement -> status row state (showStatus)
const feeds = new Map(); // feed URL -> {url, charts: Set of chart states, done: its run stopped or it was replaced}
const MAX_REFUSALS = 2; // feeds refused in a row before we stop asking for new ones (no loop of reruns)
let refusals = 0;

// Which charts are in view. A redraw of a chart below the fold costs the browser as much as one in
// view (the gallery and the confusion matrix of the Train view, half a curve's worth), for nobody; it
// takes what came into our copy of the figure and is drawn once, when it comes within MARGIN of the
// view. Before the observer's first word a chart counts as in view: every chart is drawn once.
const MARGIN = "200px";
const views = new IntersectionObserver((entries) => {
  for (const entry of entries) {
    const chart = charts.get(entry.target);
    if (!chart) continue;
    chart.inView = entry.isIntersecting;
    if (chart.inView && behind.has(chart)) schedule(chart, entry.target);
  }
}, { rootMargin: MARGIN });
const behind = new Set(); // charts whose latest figure waits to come into view
// A printout shows the whole page: every chart as it is now.
window.addEventListener("beforeprint", () => {
  for (const chart of [...behind]) if (window.Plotly) draw(chart, window.Plotly, true);
});

function loadPlotly() {
  // plotly.min.js is a UMD bundle: imported as a module it sets window.Plotly. The page's head already
  // loads one (the app's Preload middleware marks it): that very module, whatever the charts' data name
  // now (the server may have switched to the cartesian bundle since the page opened).
  const head = document.querySelector("script[data-livechart-plotly]");
  plotly ??= import(head ? head.src : plotlyUrl).then(() => window.Plotly);
  return plotly;
}

// Importing streamlit makes its "streamlit" Plotly template the default one. Its colours are
// placeholders, "#000001".."#000040", that st.plotly_chart swaps for the theme's; we swap them
// for the theme's CSS variables, which Streamlit sets on the component's wrapper.
function themeColors(element) {
  const css = getComputedStyle(element);
  const read = (name) => css.getPropertyValue(`--st-${name}`).trim();
  const ten = (name) => {
    const list = read(name).split(",").filter(Boolean);
    return Array.from({ length: 10 }, (_, i) => list[i % list.length]);
  };
  return [
    ...ten("chart-categorical-colors"), // #000001..#000010
    ...ten("chart-sequential-colors"), // #000011..#000020
    ...ten("chart-diverging-colors"), // #000021..#000030
    undefined, read("green-color"), read("red-color"), read("blue-color"), // 31 unused; 32..34 waterfall
    read("border-color"), read("text-color"), read("text-color"), // 35 border, 36..37 greys
    read("background-color"), read("border-color-light"), read("secondary-background-color"),
  ];
}

function themed(layout, element) {
  const colors = themeColors(element);
  const text = JSON.stringify(layout).replace(/"#0000([0-4][0-9])"/g, (match, n) =>
    colors[Number(n) - 1] ? JSON.stringify(colors[Number(n) - 1]) : match,
  );
  return JSON.parse(text);
}

function mount(parentElement) {
  const div = document.createElement("div");
  div.style.width = "100%";
  parentElement.replaceChildren(div);
  const chart = {
    div,
    seq: null, // sequence number of the last payload applied (null: nothing yet)
    figure: null, // {data, layout, config} as drawn
    versions: [], // per trace: the payload that last sent it whole (as Python counts)
    layoutVersion: null, // the payload that last sent the layout
    clicks: false, // tell Python which point was clicked (the payload's "clicks"), once hooked
    trigger: null, // the latest setTriggerValue
    asked: null, // the payload we asked a whole figure for, until one comes
    askedAt: 0,
    feed: null, // the URL of the live feed this chart follows, if any
    name: null, // this chart's key in the feed's events
    inView: true, // within MARGIN of the view (the `views` observer)
    margins: null, // the margins Plotly measured last ({l, r, t, b}), what they hold for (`measured`)
    drawn: null, // what the last react drew: {layout (JSON), width, traces (the objects), bare (JSON, no points)}
    ranges: {}, // the axis ranges with room that we gave the last react ({axis key: [lo, hi]})
    managed: new Set(), // the axes we ever gave a range
    settle: 0, // a timer: draw once more as a chart that does not grow (after animated redraws)
    settled: false, // that draw is due
    remeasured: false, // a draw that lets Plotly measure the margins is due (after one with kept margins)
    observer: new ResizeObserver(() => {
      // Once Plotly has drawn it, and only while it is shown: Plotly refuses (a rejected promise, a
      // console error) to resize a div that left the page or is hidden, as when its chart is hidden.
      if (div._fullLayout && div.isConnected && div.offsetParent !== null) {
        window.Plotly.Plots.resize(div).catch(() => {});
      }
    }),
  };
  chart.observer.observe(parentElement);
  views.observe(parentElement);
  charts.set(parentElement, chart);
  return chart;
}

function unmount(parentElement) {
  const chart = charts.get(parentElement);
  if (!chart) return;
  charts.delete(parentElement);
  unsubscribe(chart);
  waiting.delete(chart);
  chart.observer.disconnect();
  clearTimeout(chart.settle);
  clearTimeout(chart.remeasure);
  views.unobserve(parentElement);
  behind.delete(chart);
  window.Plotly?.purge(chart.div);
}

// Apply one payload to chart.figure; false if it cannot apply to what we hold (a gap).
function merge(chart, payload) {
  if (payload.data) {
    // A whole figure.
    chart.figure = { data: payload.data, layout: themed(payload.layout, chart.div), config: payload.config };
    chart.versions = payload.data.map(() => payload.seq);
    chart.layoutVersion = payload.seq;
  } else if (payload.seq === chart.seq) {
    return true; // called again with the payload we drew
  } else if (!chart.figure || chart.seq < payload.base || chart.seq > payload.seq) {
    return false;
  } else {
    // A change on top of any of the last few payloads (Streamlit may have skipped some): every trace
    // and the layout we keep must be the version Python holds, and we take the curves' points we lack.
    const data = chart.figure.data;
    const sent = new Set(payload.traces.map(([i]) => i));
    const current = payload.versions.every((version, i) => sent.has(i) || chart.versions[i] === version);
    const held = payload.extend.map(([i, start]) => data[i].x.length - start); // points we already have
    if (!current || held.some((n, k) => n < 0 || n > payload.extend[k][2].length)) return false;
    if (!payload.layout && chart.layoutVersion !== payload.layout_version) return false;
    for (const [k, [i, , x, y]] of payload.extend.entries()) {
      // New arrays, so that Plotly.react sees the change.
      data[i] = { ...data[i], x: data[i].x.concat(x.slice(held[k])), y: data[i].y.concat(y.slice(held[k])) };
    }
    for (const [i, trace] of payload.traces) data[i] = trace;
    if (payload.layout) chart.figure.layout = themed(payload.layout, chart.div);
    chart.versions = payload.versions;
    chart.layoutVersion = payload.layout_version;
  }
  if (payload.height) chart.div.style.height = `${payload.height}px`;
  chart.seq = payload.seq;
  return true;
}

// Take one payload into chart.figure right away (plotly.js may still be loading).
function receive(chart, payload, setStateValue) {
  const applied = merge(chart, payload);
  // A whole figure that the feed moves on, or a static chart's (sent whole whenever it changes):
  // Python needs no word back.
  if (payload.feed || payload.static) return;
  if (applied && payload.data) {
    // Python sends whole figures until we confirm one (a rerun of the fragment, once).
    chart.asked = null;
    setStateValue("drawn", payload.seq);
  }
  if (!applied && (chart.asked === null || performance.now() - chart.askedAt > 2000)) {
    // A payload went missing (or we were just mounted): ask Python for the whole figure, once
    // (again after 2 s without it). A new state value reruns the script, or just its fragment.
    chart.asked = payload.seq;
    chart.askedAt = performance.now();
    setStateValue("resend", payload.seq);
  }
}

// Margins. The figures leave them to Plotly (every axis's automargin, `with_margins`): on every redraw it
// measures each tick label and legend entry (getBoundingClientRect, a forced layout of the page each
// time) and may draw a second time when they moved. For a curve redrawn 4 times a second that was
// about 40% of the redraw (a CPU profile of the training Train view; part of it the check whether a
// tick label overflows the div, done for every label against every label). So a chart keeps the
// margins Plotly measured and redraws with them fixed, and lets Plotly measure again when its layout
// changed (a title, a marker; a static chart's whole figure with the same layout keeps them), its width
// changed, or MEASURE_EVERY ms went by: tick labels change with the data, and one that grew is cut at
// the edge until then. A chart last drawn with kept margins is drawn once more, measured, when no new
// figure came for MEASURE_EVERY ms (a run that paused, or ended at iteration 1,000 with "1000" at the
// edge), so that what stays on the page is never cut.
const MEASURE_EVERY = 2000;

// The margins to draw `chart` with now, its layout being `layout` (as JSON), or null to let Plotly
// measure them.
function kept(chart, layout, now) {
  const margins = chart.margins;
  if (!margins) return null;
  const { width, at } = margins.measured;
  const same = margins.measured.layout === layout && width === chart.div.clientWidth;
  return same && now - at < MEASURE_EVERY ? margins : null;
}

// `layout` with Plotly's measuring off where `margins` are given, and tick labels never checked for
// overflowing the div (they stay inside by the margins; the check measures every label).
function fixedMargins(layout, margins) {
  for (const key of Object.keys(layout)) {
    if (!/^[xy]axis\d*$/.test(key)) continue;
    layout[key] = { ticklabeloverflow: "allow", ...layout[key] };
    if (margins) layout[key].automargin = false;
  }
  if (margins) {
    const { l, r, t, b } = margins;
    layout.margin = { ...layout.margin, l, r, t, b, autoexpand: false };
  }
  return layout;
}

// ----- curves that only grew ---------------------------------------------------------------------
// Plotly.react replots a chart whole whenever a trace's data changed: defaults, axes, ticks, legend,
// drag handles. While a run trains, what changes four times a second is mostly just that its curves
// gained points. Plotly.animate with no transition and `redraw: false` redraws only the traces (a bare
// page redrawing two curves 4 times a second: 0.08 cores of Chromium against 0.19 with react), but
// leaves the axes as they are. So a chart whose curves grow is drawn with axis ranges of our own that
// leave room to grow into (ROOM_X of the x span to the right, ROOM_Y of the y span on either side), and
// new points that fall within them are animated in. Anything else (a point outside, the layout, another
// trace, the width, a forced draw) goes through react, with new room. Axes whose range the figure fixes
// (accuracy's 0-100%) are left alone, and so is a range a user zoomed to (uirevision keeps it). When
// nothing new came for MEASURE_EVERY ms the chart is drawn once more with Plotly's own ranges, as a
// chart that does not grow (a paused or finished run).
const ROOM_X = 0.25;
const ROOM_Y = 0.1;
const QUICK = { transition: { duration: 0 }, frame: { duration: 0, redraw: false }, mode: "immediate" };

const axisKey = (id) => (id || "").replace(/^([xy])(\d*)$/, "$1axis$2");
const bare = (trace) => JSON.stringify({ ...trace, x: 0, y: 0 }); // a curve but for its points

// The smallest and largest of the traces' `letter` values in the axis's units (log10 on a log axis):
// [lo, hi], null for none, or false for values we do not read (typed arrays, dates, categories).
function extent(traces, letter, log) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const trace of traces) {
    const values = trace[letter];
    if (values === undefined) continue;
    if (!Array.isArray(values)) return false;
    for (const v of values) {
      if (v === null) continue;
      if (typeof v !== "number") return false;
      if (!Number.isFinite(v) || (log && v <= 0)) continue;
      const u = log ? Math.log10(v) : v;
      if (u < lo) lo = u;
      if (u > hi) hi = u;
    }
  }
  return lo <= hi ? [lo, hi] : null;
}

// Each axis the changed traces draw on: {key, letter, log, range (as drawn), fixed (the figure sets its
// range), user (a user zoomed it, or autoscaled it, since we gave it a range)}; null when one is not a
// linear or log axis.
function axesOf(chart, changed) {
  const full = chart.div._fullLayout;
  const out = new Map();
  for (const i of changed) {
    for (const letter of ["x", "y"]) {
      const key = axisKey(chart.figure.data[i][`${letter}axis`] || letter);
      if (out.has(key)) continue;
      const axis = full[key];
      if (!axis || (axis.type !== "linear" && axis.type !== "log")) return null;
      const given = chart.figure.layout[key] || {};
      const ours = chart.ranges[key];
      const same = ours && !axis.autorange &&
        axis.range.every((v, k) => Math.abs(v - ours[k]) <= 1e-9 * (1 + Math.abs(v)));
      out.set(key, { key, letter, log: axis.type === "log", range: axis.range, autorange: Boolean(axis.autorange),
                     fixed: Array.isArray(given.range) && given.autorange !== true,
                     user: ours ? !same : !axis.autorange });
    }
  }
  return [...out.values()];
}

// The traces drawn on axis `key`.
const tracesOn = (data, key, letter) => data.filter((t) => axisKey(t[`${letter}axis`] || letter) === key);

// Whether only curves grew since the last draw: the changed traces' indices and axes, and whether their
// points fit the axes as drawn (`fits`); null when anything else changed.
function grown(chart, text) {
  const drawn = chart.drawn;
  const data = chart.figure.data;
  if (!drawn || !chart.div._fullLayout || drawn.layout !== text || drawn.width !== chart.div.clientWidth ||
      data.length !== drawn.traces.length) return null;
  const changed = [];
  for (let i = 0; i < data.length; i++) {
    if (data[i] === drawn.traces[i]) continue;
    if ((data[i].type || "scatter") !== "scatter" || bare(data[i]) !== drawn.bare[i]) return null;
    changed.push(i);
  }
  const axes = changed.length ? axesOf(chart, changed) : [];
  if (!axes) return null;
  let fits = true;
  for (const axis of axes) {
    if (axis.fixed || (axis.user && !axis.autorange)) continue; // a range the figure or a user chose
    const span = extent(changed.map((i) => data[i]), axis.letter, axis.log);
    if (span === false) return null;
    const [a, b] = axis.range[0] <= axis.range[1] ? axis.range : [axis.range[1], axis.range[0]];
    if (span && (span[0] < a || span[1] > b)) fits = false;
  }
  return { changed, axes, fits };
}

// The ranges to give the axes of `axes` ({axis key: [lo, hi]} in the axis's units): while the curves
// grow (`grow`), ranges with room; an axis a user zoomed or autoscaled keeps the range it was given
// (uirevision keeps the user's view only while the figure's own value stays the same); the rest get
// none (Plotly's own).
function roomy(chart, axes, grow) {
  const data = chart.figure.data;
  const ranges = {};
  for (const axis of axes) {
    if (axis.fixed) continue;
    if (axis.user && !axis.autorange) {
      if (chart.ranges[axis.key]) ranges[axis.key] = chart.ranges[axis.key];
      continue;
    }
    const span = grow && extent(tracesOn(data, axis.key, axis.letter), axis.letter, axis.log);
    if (!span || span[1] <= span[0]) continue; // one value: Plotly's own range around it
    const [lo, hi] = span;
    if (axis.letter === "x") {
      const mode = (chart.figure.layout[axis.key] || {}).rangemode;
      const start = !axis.log && (mode === "tozero" || mode === "nonnegative") && lo >= 0 ? 0 : lo;
      ranges[axis.key] = [start, hi + ROOM_X * (hi - start)];
    } else {
      ranges[axis.key] = [lo - ROOM_Y * (hi - lo), hi + ROOM_Y * (hi - lo)];
    }
  }
  return ranges;
}

// Animate the grown curves' new points in: only their traces are redrawn.
function quick(chart, Plotly, changed) {
  const data = chart.figure.data;
  Plotly.animate(chart.div, { data: changed.map((i) => ({ x: data[i].x, y: data[i].y })), traces: changed },
                 QUICK).catch(() => {});
  chart.drawn.traces = data.slice();
  // Once nothing new comes for a while, draw it as a chart that does not grow (its own ranges, measured).
  clearTimeout(chart.settle);
  chart.settle = setTimeout(() => {
    chart.settled = true;
    chart.margins = null;
    enqueue(chart, Plotly);
  }, MEASURE_EVERY);
}

function draw(chart, Plotly, anyway = false) {
  if (!chart.div.isConnected || !chart.figure) return; // unmounted since, or nothing to draw yet
  if (!anyway && !chart.inView && chart.div._fullLayout) {
    behind.add(chart); // drawn once: the rest waits until it comes into view
    return;
  }
  behind.delete(chart);
  // Plotly writes zoom and legend clicks into the objects it is given; give it copies, so that what
  // we hold stays what Python sent, and uirevision alone decides what a user's change survives.
  const { data, layout, config } = chart.figure;
  const now = performance.now();
  const text = JSON.stringify(layout);
  const { settled, remeasured } = chart;
  chart.settled = chart.remeasured = false;
  const growth = anyway || settled ? null : grown(chart, text);
  if (growth && growth.fits && !remeasured) {
    if (growth.changed.length) quick(chart, Plotly, growth.changed); // else nothing changed: nothing to draw
    return;
  }
  clearTimeout(chart.settle);
  // Curves that grew out of their ranges get new ones with room, and are measured anew (their ticks
  // changed); a chart measured again while it grows keeps the room it has, and one whose layout changed
  // while it grows gets room at once. A chart that does not grow gets Plotly's own ranges.
  if (!growth || !growth.fits) {
    const growing = growth !== null || (!anyway && !settled && Object.keys(chart.ranges).length > 0);
    const curves = data.flatMap((trace, i) => ((trace.type || "scatter") === "scatter" ? [i] : []));
    const axes = growth ? growth.axes : chart.div._fullLayout && curves.length ? axesOf(chart, curves) : null;
    chart.ranges = axes ? roomy(chart, axes, growing) : {};
  }
  const held = growth && !growth.fits ? null : kept(chart, text, now);
  const drawnLayout = { uirevision: UIREVISION, ...structuredClone(layout), autosize: true, width: undefined,
                        height: undefined, datarevision: chart.seq };
  for (const [key, range] of Object.entries(chart.ranges)) {
    // A copy: Plotly writes a user's zoom into the range it was given.
    drawnLayout[key] = { ...drawnLayout[key], range: [...range] };
    chart.managed.add(key);
  }
  for (const key of chart.managed) {
    // An axis we gave a range before and give none now is Plotly's again, said outright: Plotly.animate
    // counts the range it drew as the user's, which uirevision would keep.
    if (!chart.ranges[key] && !Array.isArray((layout[key] || {}).range)) {
      drawnLayout[key] = { ...drawnLayout[key], autorange: true };
    }
  }
  const drawn = Plotly.react(
    chart.div,
    data.map((trace) => ({ ...trace })),
    // The chart fills its element, as st.plotly_chart stretches to its column: a layout's width is the
    // width its builder expected (tiles' heights come from it), and drawn as given it overflowed a
    // narrower column, cut at the right edge (at 1,100 px the accuracy chart, the tiles, the gallery).
    fixedMargins(drawnLayout, held),
    config,
  );
  chart.drawn = { layout: text, width: chart.div.clientWidth, traces: data.slice(), bare: data.map(bare) };
  clearTimeout(chart.remeasure);
  if (held) {
    chart.remeasure = setTimeout(() => {
      chart.margins = null;
      chart.remeasured = true; // a react, even if only curves grew since
      enqueue(chart, Plotly);
    }, MEASURE_EVERY);
  } else {
    const measured = { layout: text, width: chart.div.clientWidth, at: now };
    Promise.resolve(drawn).then(() => {
      const size = chart.div._fullLayout && chart.div._fullLayout._size;
      if (size) chart.margins = { l: size.l, r: size.r, t: size.t, b: size.b, measured };
    }, () => {});
  }
  if (chart.clicks && !chart.div.__clicksHooked) {
    // A click hands Python the point's x and y (numbers only) as the "click" trigger.
    chart.div.__clicksHooked = true;
    chart.div.on("plotly_click", (event) => {
      const point = event.points && event.points[0];
      if (point && typeof point.x === "number" && typeof point.y === "number") {
        chart.trigger("click", { x: point.x, y: point.y });
      }
    });
  }
}

// Charts to draw, and the animation frame that draws the next ones: the one highest on the page first
// (what a person reads first; the order Streamlit mounts them in is not the page's), until FRAME_BUDGET
// ms have gone (about one chart: a Plotly.react takes 10-30 ms here), so that the frame paints soon and
// the next takes the rest. Drawing them all in one frame held back the paint of everything else that
// had changed: after a Step, the status row's new iteration showed only once all the charts had redrawn
// (about 60 ms later).
const waiting = new Set();
const FRAME_BUDGET = 8;
let drawing = 0;

function drawWaiting(Plotly) {
  drawing = 0;
  const started = performance.now();
  const order = [...waiting].sort((a, b) =>
    a.div.compareDocumentPosition(b.div) & Node.DOCUMENT_POSITION_FOLLOWING ? -1 : 1);
  for (const chart of order) {
    waiting.delete(chart);
    draw(chart, Plotly);
    if (performance.now() - started > FRAME_BUDGET) break;
  }
  if (waiting.size) drawing = requestAnimationFrame(() => drawWaiting(Plotly));
}

// Put the chart in the queue of charts to draw, and ask for the frame that draws them.
function enqueue(chart, Plotly) {
  waiting.add(chart);
  if (!drawing) drawing = requestAnimationFrame(() => drawWaiting(Plotly));
}

// Draw the chart's figure in a coming animation frame (once plotly.js is there); a chart already
// waiting is drawn once, with what it holds by then.
function schedule(chart, parentElement) {
  loadPlotly().then(
    (Plotly) => {
      // A later call or an unmount may have come while plotly.js loaded.
      if (!parentElement.isConnected || charts.get(parentElement) !== chart) return;
      enqueue(chart, Plotly);
    },
    (error) => {
      parentElement.textContent = `The chart could not load plotly.js: ${error}`;
    },
  );
}

// ----- a status row: figures as text, no Plotly (livechart.live_status) ---------------------------
// A row of cells, each a label over a value (and, after a failure, a delta), plus an optional
// warning line. Replaced whole by every payload. Everything is set with textContent.
const STATUS_CSS = `
.livestatus { display: flex; flex-wrap: wrap; gap: 0.25rem 1rem; font-family: var(--st-font, inherit);
  color: var(--st-text-color, inherit); }
/* Each cell at least as wide as its label and value: a narrow column wraps the cells rather than cut them
   ("103…" for an epoch of 103.00 at 1,100 px, when cells shared the row equally). */
.livestatus .cell { flex: 1 0 auto; min-width: 3.5rem; max-width: 100%; }
.livestatus .cell > div { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.livestatus .label { font-size: 0.875rem; opacity: 0.75; }
.livestatus .value { font-size: 1.55rem; line-height: 1.4; }
.livestatus .delta { font-size: 0.875rem; }
.livestatus .delta.good { color: var(--st-green-color, #21c354); }
.livestatus .delta.bad { color: var(--st-red-color, #ff4b4b); }
.livestatus-note { margin-top: 0.5rem; padding: 0.75rem 1rem; border-radius: 0.5rem; font-size: 0.9rem;
  background: rgba(255, 189, 69, 0.2); color: var(--st-text-color, inherit); }`;

function showStatus(chart, payload) {
  if (!document.getElementById("livestatus-css")) {
    const style = document.createElement("style");
    style.id = "livestatus-css";
    style.textContent = STATUS_CSS;
    document.head.appendChild(style);
  }
  const row = document.createElement("div");
  row.className = "livestatus";
  for (const [label, value, delta, tone] of payload.status) {
    const cell = document.createElement("div");
    cell.className = "cell";
    cell.dataset.label = label;
    for (const [kind, text] of [["label", label], ["value", value], ["delta", delta]]) {
      if (text === null || text === undefined) continue;
      const part = document.createElement("div");
      part.className = kind === "delta" ? `delta ${tone === "bad" ? "bad" : "good"}` : kind;
      part.textContent = text;
      cell.appendChild(part);
    }
    row.appendChild(cell);
  }
  const parts = [row];
  if (payload.note) {
    const note = document.createElement("div");
    note.className = "livestatus-note";
    note.textContent = payload.note;
    parts.push(note);
  }
  chart.parent.replaceChildren(...parts);
}

// ----- live feeds (dashboard/runs/feed.py) -----------------------------------------------------
// While a run trains, the server pushes the charts' payloads over Server-Sent Events, so redraws cost
// no Streamlit rerun. The page opens ONE stream for all the feeds its charts follow (their tokens
// joined in one URL; each message is {feed token: {chart key: payload}}): a browser keeps at most six
// connections to one server over HTTP/1.1, and a stream per feed left two visible Train views without
// a connection for a third tab's page. When the set of feeds changes (a rerun drew a part with a new
// feed), the stream is opened again for the new set, whole figures first. A hidden page closes it
// (nothing to draw) and opens it again when shown.
const stream = { source: null, key: "" }; // the page's EventSource and the feed URLs it follows, joined
let pending = 0; // a timer: (re)open the stream once a burst of (un)subscriptions is over

function subscribe(chart, url) {
  let feed = feeds.get(url);
  if (!feed) {
    feed = { url, charts: new Set(), done: false };
    feeds.set(url, feed);
  }
  feed.charts.add(chart);
  chart.feed = url;
  update();
}

function unsubscribe(chart) {
  const feed = chart.feed && feeds.get(chart.feed);
  chart.feed = null;
  if (!feed) return;
  feed.charts.delete(chart);
  if (feed.charts.size) return;
  feeds.delete(feed.url);
  update();
}

function update() {
  clearTimeout(pending);
  pending = setTimeout(connect, 0);
}

const tokenOf = (url) => url.slice(url.lastIndexOf("/") + 1);

function close() {
  if (stream.source) stream.source.close();
  stream.source = null;
  stream.key = "";
}

// Follow the feeds the page draws that are still live, in one stream (none while hidden).
function connect() {
  pending = 0;
  const urls = document.hidden ? [] : [...feeds.values()].filter((feed) => !feed.done).map((feed) => feed.url);
  const key = urls.join(" ");
  if (stream.source && key === stream.key) return;
  close();
  if (!urls.length) return;
  const followed = new Map(urls.map((url) => [tokenOf(url), feeds.get(url)]));
  const url = urls[0].slice(0, urls[0].lastIndexOf("/") + 1) + [...followed.keys()].join(",");
  const source = new EventSource(url);
  Object.assign(stream, { source, key });
  const finished = (event) => {
    // A feed left the stream: its run stopped (`end`) or its page drew it again (`gone`). Once none is
    // left, we close the stream ourselves: reconnecting would only be refused.
    const feed = followed.get(JSON.parse(event.data));
    if (feed) feed.done = true;
    if ([...followed.values()].every((f) => f.done) && stream.source === source) close();
    return feed;
  };
  source.onmessage = (event) => {
    refusals = 0;
    let gap = false;
    for (const [token, payloads] of Object.entries(JSON.parse(event.data))) {
      for (const chart of followed.get(token)?.charts ?? []) {
        const payload = payloads[chart.name];
        if (!payload) continue;
        if (payload.status) showStatus(chart, payload);
        else if (merge(chart, payload)) schedule(chart, chart.parent);
        else gap = true; // cannot happen on an ordered stream
      }
    }
    if (gap) {
      close(); // a new stream starts whole
      update();
    }
  };
  source.addEventListener("end", (event) => {
    // The run stopped: a status row of this feed (drawn outside any fragment) asks for a rerun of
    // the page, which draws everything paused. One asks: a feed may carry two rows (the notebook pair).
    const feed = finished(event);
    const row = feed && [...feed.charts].find((chart) => chart.status);
    if (row) row.stateSetter("ended", feed.url);
  });
  source.addEventListener("gone", finished); // the page drew it again and follows a new feed: nothing to ask
  source.onerror = () => {
    if (source.readyState !== EventSource.CLOSED || stream.source !== source) return; // it reconnects by itself
    // Refused for good: a 204 (the runs stopped) or a 404 (the server no longer knows these feeds:
    // restarted, or another replica). Ask for one rerun, which registers new feeds; after
    // MAX_REFUSALS in a row with nothing received, stop asking.
    close();
    refusals += 1;
    for (const feed of followed.values()) feed.done = true;
    // A status row asks if there is one: drawn outside any fragment, its ask reruns the whole page, which
    // a new server session (another replica) runs; a fragment's rerun it would skip as unknown.
    const charts = [...followed.values()].flatMap((feed) => [...feed.charts]);
    const chart = charts.find((c) => c.status && c.stateSetter) ?? charts.find((c) => c.stateSetter);
    if (chart && refusals <= MAX_REFUSALS) chart.stateSetter("resend", `feed:${url}`);
  };
}

document.addEventListener("visibilitychange", () => (document.hidden ? close() : connect()));

export default function ({ data, parentElement, setStateValue, setTriggerValue }) {
  if (data.status) {
    // A status row: drawn whole from each payload, and from its feed's events.
    // Streamlit calls again only with new data (a full rerun drew the run as it is now).
    const status = statuses.get(parentElement) ?? { status: true, feed: null };
    statuses.set(parentElement, status);
    Object.assign(status, { parent: parentElement, name: data.name, stateSetter: setStateValue });
    showStatus(status, data);
    if ((data.feed || null) !== status.feed) {
      unsubscribe(status);
      if (data.feed) subscribe(status, data.feed);
    }
    return () => {
      if (!parentElement.isConnected) {
        unsubscribe(status);
        statuses.delete(parentElement);
      }
    };
  }
  if (data.plotly) plotlyUrl = new URL(data.plotly, document.baseURI).href;
  const chart = charts.get(parentElement) ?? mount(parentElement);
  chart.clicks = data.clicks === true;
  chart.trigger = setTriggerValue;
  chart.stateSetter = setStateValue;
  chart.parent = parentElement;
  chart.name = data.name;
  receive(chart, data, setStateValue);
  if ((data.feed || null) !== chart.feed) {
    unsubscribe(chart);
    if (data.feed) subscribe(chart, data.feed);
  }
  schedule(chart, parentElement);
  // Streamlit calls this cleanup on unmount, and also right away for a call superseded before
  // this module loaded: only a node that left the page is torn down.
  return () => {
    if (!parentElement.isConnected) unmount(parentElement);
  };
}
