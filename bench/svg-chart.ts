/**
 * A line chart as hand-written SVG (no dependency): time on x, one polyline per series, axes with
 * round tick values, a legend. Enough for bench/RESULTS.md, readable on GitHub and in a browser.
 */

export interface ChartSeries {
  name: string;
  /** [x, y] points, in x order. */
  points: readonly (readonly [number, number])[];
}

export interface ChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly ChartSeries[];
  width?: number;
  height?: number;
  /** Hold each value until the next point (counts that change in steps). Default true. */
  step?: boolean;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];
const MARGIN = { left: 64, right: 16, top: 36, bottom: 64 };

/** Escapes text for an SVG element or attribute. */
export function escapeXml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** Round tick values (1, 2 or 5 times a power of ten apart) covering [min, max], about `count` of them. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [0];
  if (max < min) [min, max] = [max, min];
  if (max === min) max = min + 1;
  const rough = (max - min) / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough) ?? 10 * power;
  const first = Math.floor(min / step) * step;
  // Counted, not accumulated: adding the step repeatedly drifts and can stop short of max.
  const steps = Math.max(1, Math.ceil((max - first) / step - 1e-9));
  const ticks: number[] = [];
  for (let k = 0; k <= steps; k++) ticks.push(Number((first + k * step).toPrecision(12)));
  return ticks;
}

function formatTick(v: number): string {
  if (Math.abs(v) >= 10_000) return `${Math.round(v / 1000)}k`;
  return Number.isInteger(v) ? String(v) : v.toFixed(Math.abs(v) < 1 ? 2 : 1);
}

function fixed(n: number): string {
  return Number.isFinite(n) ? n.toFixed(1) : '0';
}

export function lineChart(spec: ChartSpec): string {
  const width = spec.width ?? 720;
  const height = spec.height ?? 320;
  const step = spec.step ?? true;
  const all = spec.series.flatMap((s) => s.points);
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]);
  // x spans the data exactly (time from a lead-in to the end); y starts at 0 and ends on a round tick.
  const x0 = xs.length ? Math.min(...xs) : 0;
  const x1 = xs.length && Math.max(...xs) > x0 ? Math.max(...xs) : x0 + 1;
  const xTicks = niceTicks(x0, x1).filter((t) => t >= x0 && t <= x1);
  const yTicks = niceTicks(0, ys.length ? Math.max(0, ...ys) : 1);
  const y0 = yTicks[0] ?? 0;
  const y1 = yTicks[yTicks.length - 1] ?? 1;
  const plotW = width - MARGIN.left - MARGIN.right;
  const plotH = height - MARGIN.top - MARGIN.bottom;
  const px = (x: number): number => MARGIN.left + ((x - x0) / (x1 - x0 || 1)) * plotW;
  const py = (y: number): number => MARGIN.top + plotH - ((y - y0) / (y1 - y0 || 1)) * plotH;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
  );
  out.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="14">${escapeXml(spec.title)}</text>`,
  );
  for (const t of yTicks) {
    const y = fixed(py(t));
    out.push(`<line x1="${MARGIN.left}" y1="${y}" x2="${width - MARGIN.right}" y2="${y}" stroke="#e0e0e0"/>`);
    out.push(
      `<text x="${MARGIN.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${escapeXml(formatTick(t))}</text>`,
    );
  }
  for (const t of xTicks) {
    const x = fixed(px(t));
    out.push(
      `<line x1="${x}" y1="${MARGIN.top + plotH}" x2="${x}" y2="${MARGIN.top + plotH + 4}" stroke="#333333"/>`,
    );
    out.push(
      `<text x="${x}" y="${MARGIN.top + plotH + 16}" text-anchor="middle">${escapeXml(formatTick(t))}</text>`,
    );
  }
  out.push(
    `<polyline points="${MARGIN.left},${MARGIN.top} ${MARGIN.left},${MARGIN.top + plotH} ${width - MARGIN.right},${MARGIN.top + plotH}" fill="none" stroke="#333333"/>`,
  );
  out.push(
    `<text x="${MARGIN.left + plotW / 2}" y="${height - 30}" text-anchor="middle">${escapeXml(spec.xLabel)}</text>`,
  );
  out.push(
    `<text x="14" y="${MARGIN.top + plotH / 2}" text-anchor="middle" transform="rotate(-90 14 ${MARGIN.top + plotH / 2})">${escapeXml(spec.yLabel)}</text>`,
  );
  spec.series.forEach((series, i) => {
    const color = PALETTE[i % PALETTE.length] ?? '#000000';
    const coords: string[] = [];
    series.points.forEach(([x, y], k) => {
      const prev = series.points[k - 1];
      if (step && prev) coords.push(`${fixed(px(x))},${fixed(py(prev[1]))}`);
      coords.push(`${fixed(px(x))},${fixed(py(y))}`);
    });
    if (coords.length > 0)
      out.push(`<polyline points="${coords.join(' ')}" fill="none" stroke="${color}" stroke-width="1.8"/>`);
    const lx = MARGIN.left + i * Math.min(180, plotW / Math.max(1, spec.series.length));
    const ly = height - 10;
    out.push(
      `<line x1="${lx}" y1="${ly - 4}" x2="${lx + 18}" y2="${ly - 4}" stroke="${color}" stroke-width="3"/>`,
    );
    out.push(`<text x="${lx + 24}" y="${ly}">${escapeXml(series.name)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
