// Plain-text building blocks: numbers, aligned tables, unicode bars and sparklines. Locale-independent.

/** 1234567 -> "1,234,567" (always commas, so output is the same on every machine). */
export function int(n: number): string {
  const s = Math.round(n).toString();
  const neg = s.startsWith('-');
  const digits = neg ? s.slice(1) : s;
  return (neg ? '-' : '') + digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

export function signed(n: number): string {
  return n > 0 ? `+${int(n)}` : int(n);
}

export function pctText(p: number, digits = 2): string {
  return `${p.toFixed(digits)}%`;
}

export function ratio(x: number): string {
  return x.toFixed(3);
}

export function ms(x: number): string {
  return x >= 10_000 ? `${(x / 1000).toFixed(1)} s` : x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${Math.round(x)} ms`;
}

const EIGHTHS = ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];

/** A horizontal bar of `value / max` of `width` cells, in eighths of a cell. */
export function bar(value: number, max: number, width: number): string {
  if (!(max > 0) || !(value > 0)) return '';
  const eighths = Math.round((Math.min(value, max) / max) * width * 8);
  return '█'.repeat(Math.floor(eighths / 8)) + EIGHTHS[eighths % 8];
}

const SPARKS = '▁▂▃▄▅▆▇█';

/** One character per value, scaled to the largest (or to `max`). Zero is a space so quiet stretches read as quiet. */
export function sparkline(values: readonly number[], max = Math.max(0, ...values)): string {
  return values.map((v) => (v <= 0 || max <= 0 ? ' ' : SPARKS[Math.min(7, Math.floor((v / max) * 7.999))])).join('');
}

/** Shrinks a series to at most `width` points by taking the maximum of each bucket (peaks survive). */
export function downsampleMax(values: readonly number[], width: number): number[] {
  if (values.length <= width) return [...values];
  const out: number[] = [];
  for (let i = 0; i < width; i++) {
    const a = Math.floor((i * values.length) / width);
    const b = Math.floor(((i + 1) * values.length) / width);
    let m = 0;
    for (let k = a; k < b; k++) m = Math.max(m, values[k]);
    out.push(m);
  }
  return out;
}

export type Align = 'l' | 'r';

/** Columns padded to their widest cell; `align` per column (default left for the first, right for the rest). */
export function table(header: string[], rows: string[][], align?: Align[]): string {
  const cols = header.length;
  const al = align ?? header.map((_, i) => (i === 0 ? 'l' : 'r'));
  const width = header.map((h, c) => Math.max(len(h), ...rows.map((r) => len(r[c] ?? ''))));
  const line = (cells: string[]) =>
    cells
      .map((cell, c) => (al[c] === 'l' ? padEnd(cell, width[c]) : padStart(cell, width[c])))
      .join('  ')
      .trimEnd();
  const rule = width.map((w) => '─'.repeat(w)).join('  ');
  return [line(header), rule, ...rows.map((r) => line(Array.from({ length: cols }, (_, c) => r[c] ?? '')))].join('\n');
}

/** Display width: every character here is one cell wide. */
function len(s: string): number {
  return [...s].length;
}

function padEnd(s: string, w: number): string {
  return s + ' '.repeat(Math.max(0, w - len(s)));
}

function padStart(s: string, w: number): string {
  return ' '.repeat(Math.max(0, w - len(s))) + s;
}
