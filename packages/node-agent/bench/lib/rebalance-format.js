// Number formats and a Markdown table printer for the rebalance benchmark's output.

export const fmtInt = (x) => Math.round(x).toLocaleString('en');
export const fmtSec = (ms) => `${(ms / 1000).toFixed(2)} s`;
export const fmtRatio = (x) => (Number.isFinite(x) ? `${x.toFixed(2)}x` : '-');

export function fmtBytes(x) {
  const sign = x < 0 ? '-' : '';
  const a = Math.abs(x);
  if (a >= 1 << 20) return `${sign}${(a / (1 << 20)).toFixed(1)} MiB`;
  if (a >= 1 << 10) return `${sign}${(a / (1 << 10)).toFixed(1)} KiB`;
  return `${sign}${Math.round(a)} B`;
}

export function printTable(title, header, rows) {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => String(r[c]).length)));
  const line = (cells) => `| ${cells.map((x, c) => (c === 0 ? String(x).padEnd(widths[c]) : String(x).padStart(widths[c]))).join(' | ')} |`;
  console.log(`\n${title}\n`);
  console.log(line(header));
  console.log(`| ${widths.map((w, c) => (c === 0 ? '-'.repeat(w) : `${'-'.repeat(w - 1)}:`)).join(' | ')} |`);
  for (const r of rows) console.log(line(r));
}
