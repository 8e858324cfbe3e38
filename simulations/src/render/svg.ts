// Inline SVG charts for the HTML report: no scripts, no external assets.

export interface Series {
  name: string;
  values: readonly number[];
  color: string;
}

const W = 900;
const H = 300;
const M = { top: 30, right: 20, bottom: 60, left: 70 };
const LEGEND_ROW = 18;

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Round numbers for axis ticks: 1, 2 or 5 times a power of ten. */
function niceStep(max: number, ticks: number): number {
  const raw = max / ticks;
  const p = 10 ** Math.floor(Math.log10(raw));
  const f = raw / p;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

function compact(n: number): string {
  const a = Math.abs(n);
  if (a >= 1e6) return `${+(n / 1e6).toFixed(2)}M`;
  if (a >= 1e3) return `${+(n / 1e3).toFixed(1)}k`;
  return `${+n.toFixed(2)}`;
}

/** A log10 axis from 1 to the next power of ten above `max`; 0 (and anything below 1) sits on the baseline. */
function yAxisLog(max: number, yLabel: string, marginTop: number, bottom = M.bottom): { svg: string; scale: (v: number) => number; top: number } {
  const decades = Math.max(1, Math.ceil(Math.log10(Math.max(10, max))));
  const ih = H - marginTop - bottom;
  const scale = (v: number) => marginTop + ih - (v < 1 ? 0 : Math.log10(v) / decades) * ih;
  let svg = '';
  for (let k = 0; k <= decades; k++) {
    const y = scale(10 ** k).toFixed(1);
    svg += `<line x1="${M.left}" x2="${W - M.right}" y1="${y}" y2="${y}" class="grid"/><text x="${M.left - 6}" y="${y}" class="tick" text-anchor="end" dominant-baseline="middle">${compact(10 ** k)}</text>`;
  }
  svg += `<text transform="translate(16 ${marginTop + ih / 2}) rotate(-90)" class="axis" text-anchor="middle">${escapeXml(`${yLabel} (log scale)`)}</text>`;
  return { svg, scale, top: 10 ** decades };
}

function yAxis(max: number, yLabel: string, marginTop: number, bottom = M.bottom, left = M.left): { svg: string; scale: (v: number) => number; top: number } {
  const step = niceStep(max > 0 ? max : 1, 5);
  const top = Math.max(step, Math.ceil((max > 0 ? max : 1) / step) * step);
  const ih = H - marginTop - bottom;
  const scale = (v: number) => marginTop + ih - (v / top) * ih;
  let svg = '';
  for (let v = 0; v <= top + step / 2; v += step) {
    const y = scale(v).toFixed(1);
    svg += `<line x1="${left}" x2="${W - M.right}" y1="${y}" y2="${y}" class="grid"/><text x="${left - 6}" y="${y}" class="tick" text-anchor="end" dominant-baseline="middle">${compact(v)}</text>`;
  }
  svg += `<text transform="translate(16 ${marginTop + ih / 2}) rotate(-90)" class="axis" text-anchor="middle">${escapeXml(yLabel)}</text>`;
  return { svg, scale, top };
}

/** Legend entries left to right, wrapping onto more rows; returns the markup and the height it takes. */
function legend(series: readonly Series[]): { svg: string; height: number } {
  let x = M.left;
  let row = 0;
  let svg = '';
  for (const s of series) {
    const w = 30 + 7 * s.name.length;
    if (x + w > W - M.right && x > M.left) {
      x = M.left;
      row++;
    }
    svg += `<g transform="translate(${x} ${14 + row * LEGEND_ROW})"><rect width="12" height="12" y="-10" fill="${s.color}"/><text x="18" class="legend">${escapeXml(s.name)}</text></g>`;
    x += w;
  }
  return { svg, height: (row + 1) * LEGEND_ROW };
}

/** Grouped vertical bars: one group per label, one bar per series. */
export function barChart(opts: { title: string; labels: readonly string[]; series: readonly Series[]; yLabel: string; id: string; many?: string }): string {
  const { labels, series } = opts;
  const max = Math.max(0, ...series.flatMap((s) => [...s.values]));
  const key = legend(series);
  const showLabels = labels.length <= 40;
  const shortLabels = labels.map((l) => (l.length > 22 ? `${l.slice(0, 21)}…` : l));
  // Labels are rotated 30°: room below for their height and, for the first, to the left, so none is clipped.
  const longest = showLabels ? Math.max(0, ...shortLabels.map((l) => l.length)) * CHAR_W : 0;
  const bottom = Math.max(M.bottom, Math.ceil(longest * 0.5 + 30));
  // The first label, rotated, reaches left of its bar: the plot starts far enough right for it.
  let left = M.left;
  if (showLabels && labels.length > 0) {
    const firstReach = longestOf(shortLabels[0]) * 0.87 + 4;
    for (let k = 0; k < 3 && left + (W - left - M.right) / labels.length / 2 < firstReach; k++) left = Math.ceil(firstReach - (W - left - M.right) / labels.length / 2) + 2;
  }
  const axis = yAxis(max, opts.yLabel, M.top + key.height - LEGEND_ROW, M.bottom, left);
  const height = H + bottom - M.bottom;
  const iw = W - left - M.right;
  const group = iw / Math.max(1, labels.length);
  const bw = Math.max(0.5, (group * 0.8) / series.length);
  let bars = '';
  series.forEach((s, k) => {
    s.values.forEach((v, i) => {
      const x = left + i * group + group * 0.1 + k * bw;
      const y = axis.scale(v);
      bars += `<rect class="bar" x="${x.toFixed(2)}" y="${y.toFixed(2)}" width="${bw.toFixed(2)}" height="${Math.max(0, axis.scale(0) - y).toFixed(2)}" fill="${s.color}"><title>${escapeXml(`${labels[i]} · ${s.name}: ${compact(v)}`)}</title></rect>`;
    });
  });
  const xl = showLabels
    ? shortLabels.map((l, i) => `<text class="tick" text-anchor="end" transform="translate(${(left + (i + 0.5) * group).toFixed(1)} ${H - M.bottom + 12}) rotate(-30)">${escapeXml(l)}</text>`).join('')
    : `<text class="axis" x="${left + iw / 2}" y="${height - 12}" text-anchor="middle">${labels.length} ${escapeXml(opts.many ?? 'nodes')}</text>`;
  return frame(opts.id, opts.title, `${axis.svg}${bars}${xl}${key.svg}`, height);
}

/** A horizontal reference line across a line chart, e.g. a node's accept rate. */
export interface Limit {
  label: string;
  value: number;
  color: string;
}

/** A marked point of a line chart, e.g. a second in which a node was pushed past its accept rate. */
export interface Mark {
  at: number;
  value: number;
  color: string;
  title: string;
}

/**
 * Lines over time (x in seconds), with optional vertical markers (step starts), horizontal limits (drawn dashed and
 * labelled) and marked points. `length` fixes the time axis so several charts share it; `log` draws a log10 axis.
 */
export function lineChart(opts: {
  title: string;
  series: readonly Series[];
  yLabel: string;
  id: string;
  markers?: readonly number[];
  xLabel?: string;
  length?: number;
  log?: boolean;
  limits?: readonly Limit[];
  marks?: readonly Mark[];
}): string {
  const { series } = opts;
  const limits = opts.limits ?? [];
  const len = Math.max(1, opts.length ?? 0, ...series.map((s) => s.values.length));
  const max = Math.max(0, ...series.flatMap((s) => [...s.values]), ...limits.map((l) => l.value * 1.05));
  const key = legend(series);
  const top = M.top + key.height - LEGEND_ROW;
  const axis = opts.log ? yAxisLog(max, opts.yLabel, top) : yAxis(max, opts.yLabel, top);
  const iw = W - M.left - M.right;
  const x = (i: number) => M.left + (len <= 1 ? 0 : (i / (len - 1)) * iw);
  let body = '';
  // Whole seconds (the series are per second), and none past the last point (x of len - 1 is the right edge).
  const xStep = Math.max(1, niceStep(len, 8));
  for (let t = 0; t <= len - 1; t += xStep) body += `<text class="tick" x="${x(t).toFixed(1)}" y="${H - M.bottom + 16}" text-anchor="middle">${compact(t)}</text>`;
  body += `<text class="axis" x="${M.left + iw / 2}" y="${H - 12}" text-anchor="middle">${escapeXml(opts.xLabel ?? 'seconds')}</text>`;
  for (const m of opts.markers ?? []) body += `<line class="marker" x1="${x(m).toFixed(1)}" x2="${x(m).toFixed(1)}" y1="${top}" y2="${H - M.bottom}"/>`;
  for (const s of series) {
    const pts = s.values.map((v, i) => `${x(i).toFixed(1)},${axis.scale(v).toFixed(1)}`).join(' ');
    body += `<polyline class="line" fill="none" stroke="${s.color}" points="${pts}"><title>${escapeXml(s.name)}</title></polyline>`;
  }
  limits.forEach((l, k) => {
    const y = axis.scale(l.value).toFixed(1);
    body += `<g class="limit"><line class="accept-rate" x1="${M.left}" x2="${W - M.right}" y1="${y}" y2="${y}" stroke="${l.color}" stroke-width="1.5" stroke-dasharray="6 4"/><text class="limit-label" x="${W - M.right - 4 - k * 150}" y="${(Number(y) - 4).toFixed(1)}" text-anchor="end" fill="${l.color}">${escapeXml(l.label)}</text><title>${escapeXml(l.label)}</title></g>`;
  });
  for (const m of opts.marks ?? []) {
    body += `<circle class="over" cx="${x(m.at).toFixed(1)}" cy="${axis.scale(m.value).toFixed(1)}" r="3" fill="${m.color}"><title>${escapeXml(m.title)}</title></circle>`;
  }
  return frame(opts.id, opts.title, `${axis.svg}${body}${key.svg}`);
}

function frame(id: string, title: string, inner: string, height = H, width = W): string {
  const w = Math.ceil(width);
  return `<figure><figcaption>${escapeXml(title)}</figcaption><svg id="${escapeXml(id)}" class="chart" viewBox="0 0 ${w} ${height}" width="${w}" height="${height}" role="img" aria-label="${escapeXml(title)}" xmlns="http://www.w3.org/2000/svg">${inner}</svg></figure>`;
}

/** Rough width of a character of the 11px tick font, for layout. */
const CHAR_W = 6.2;

function longestOf(label: string): number {
  return label.length * CHAR_W;
}

/** Distinct colours for up to a dozen series, then repeating. */
export const PALETTE = ['#2f6fdf', '#e4572e', '#17a673', '#9b59b6', '#f0a202', '#1b998b', '#c0392b', '#5d6d7e', '#8e44ad', '#16a085', '#d35400', '#2c3e50'];

/**
 * A from → to matrix: one row per sender, one column per receiver, each cell shaded by its value (exact value in
 * its tooltip, and written in the cell when cells are large enough). Margins follow the labels, so none is clipped.
 */
export function matrixChart(opts: { id: string; title: string; rows: readonly string[]; cols: readonly string[]; values: readonly (readonly number[])[]; rowLabel: string; colLabel: string }): string {
  const { rows, cols, values } = opts;
  const max = Math.max(1, ...values.flat());
  const left = Math.ceil(Math.max(...rows.map((r) => r.length), opts.rowLabel.length) * CHAR_W) + 30;
  // Column labels are rotated -45°: they need their length × sin 45° above the grid.
  const colText = Math.max(...cols.map((c) => c.length)) * CHAR_W;
  const top = Math.ceil(colText * 0.72) + 40;
  const cell = Math.max(6, Math.min(34, Math.floor((W - left - 20) / Math.max(1, cols.length))));
  const width = Math.max(W, left + cell * cols.length + 20 + colText * 0.72);
  const height = top + cell * rows.length + 20;
  const writeValues = cell >= 30;
  let svg = `<text class="axis" x="${left}" y="16">${escapeXml(`${opts.colLabel} →`)}</text><text class="axis" x="4" y="${top - 6}">${escapeXml(`${opts.rowLabel} ↓`)}</text>`;
  cols.forEach((c, j) => {
    const x = left + j * cell + cell / 2;
    svg += `<text class="tick" text-anchor="start" transform="translate(${x.toFixed(1)} ${top - 4}) rotate(-45)">${escapeXml(c)}</text>`;
  });
  rows.forEach((r, i) => {
    const y = top + i * cell;
    svg += `<text class="tick" text-anchor="end" x="${left - 4}" y="${(y + cell / 2).toFixed(1)}" dominant-baseline="middle">${escapeXml(r)}</text>`;
    cols.forEach((c, j) => {
      const v = values[i][j];
      if (!(v > 0)) {
        svg += `<rect class="cell empty" x="${left + j * cell}" y="${y}" width="${cell}" height="${cell}" fill="#f7f7f7" stroke="#fff"/>`;
        return;
      }
      const shade = 0.15 + 0.85 * Math.sqrt(v / max);
      svg += `<rect class="cell" x="${left + j * cell}" y="${y}" width="${cell}" height="${cell}" fill="#2f6fdf" fill-opacity="${shade.toFixed(3)}" stroke="#fff"><title>${escapeXml(`${r} → ${c}: ${v} users`)}</title></rect>`;
      if (writeValues) svg += `<text class="cell-value" x="${(left + j * cell + cell / 2).toFixed(1)}" y="${(y + cell / 2).toFixed(1)}" text-anchor="middle" dominant-baseline="middle" fill="${shade > 0.55 ? '#fff' : '#222'}">${compact(v)}</text>`;
    });
  });
  return frame(opts.id, opts.title, svg, height, width);
}
