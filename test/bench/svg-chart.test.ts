import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { escapeXml, lineChart, niceTicks } from '../../bench/svg-chart.js';

/**
 * XML well-formedness as far as this writer can break it: every tag closed in order, attribute
 * values quoted, no raw '<' or unescaped '&' in text, numbers finite.
 */
function checkWellFormed(svg: string): void {
  const stack: string[] = [];
  const tokens = svg.split(/(<[^>]*>)/).filter((t) => t !== '');
  for (const token of tokens) {
    if (!token.startsWith('<')) {
      expect(token).not.toMatch(/[<>]/);
      expect(token).not.toMatch(/&(?!(amp|lt|gt|quot|apos);)/);
      continue;
    }
    const tag = /^<(\/?)([a-zA-Z]+)((?:\s+[a-zA-Z][a-zA-Z0-9:-]*="[^"<]*")*)\s*(\/?)>$/.exec(token);
    expect(tag, `malformed tag ${token}`).not.toBeNull();
    if (!tag) return;
    const [, closing, name, attributes, selfClosing] = tag;
    expect(attributes ?? '').not.toMatch(/NaN|Infinity/);
    if (closing === '/') expect(stack.pop()).toBe(name);
    else if (selfClosing !== '/') stack.push(name ?? '');
  }
  expect(stack).toEqual([]);
}

describe('lineChart', () => {
  it('writes a well-formed SVG with one polyline per series and a legend entry each', () => {
    const svg = lineChart({
      title: 'pods <waiting> & "free"',
      xLabel: 'seconds',
      yLabel: 'pods',
      series: [
        {
          name: 'eni-ipam',
          points: [
            [-5, 0],
            [0, 200],
            [6.5, 0],
          ],
        },
        {
          name: "baseline (VPC CNI's model)",
          points: [
            [-5, 0],
            [0, 200],
            [61, 100],
            [151, 0],
          ],
        },
      ],
    });
    checkWellFormed(svg);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.match(/<polyline [^>]*stroke-width="1.8"/g)).toHaveLength(2);
    expect(svg).toContain('pods &lt;waiting&gt; &amp; &quot;free&quot;');
    expect(svg).toContain('baseline (VPC CNI&apos;s model)');
  });

  it('stays well-formed with no series, an empty series, one point, or all-zero values', () => {
    checkWellFormed(lineChart({ title: 't', xLabel: 'x', yLabel: 'y', series: [] }));
    checkWellFormed(lineChart({ title: 't', xLabel: 'x', yLabel: 'y', series: [{ name: 'a', points: [] }] }));
    checkWellFormed(
      lineChart({ title: 't', xLabel: 'x', yLabel: 'y', series: [{ name: 'a', points: [[3, 7]] }] }),
    );
    checkWellFormed(
      lineChart({
        title: 't',
        xLabel: 'x',
        yLabel: 'y',
        series: [
          {
            name: 'a',
            points: [
              [0, 0],
              [1, 0],
            ],
          },
        ],
      }),
    );
  });

  it('keeps every point inside the plot area', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: -100, max: 1000 }), fc.integer({ min: 0, max: 5000 })), {
          minLength: 1,
          maxLength: 40,
        }),
        (raw) => {
          const points = [...raw].sort((a, b) => a[0] - b[0]);
          const svg = lineChart({
            title: 't',
            xLabel: 'x',
            yLabel: 'y',
            series: [{ name: 's', points }],
            width: 400,
            height: 200,
          });
          checkWellFormed(svg);
          const line = /<polyline points="([^"]*)" fill="none" stroke="#1f77b4"/.exec(svg)?.[1] ?? '';
          for (const pair of line.split(' ')) {
            const [x, y] = pair.split(',').map(Number);
            expect(x).toBeGreaterThanOrEqual(0);
            expect(x).toBeLessThanOrEqual(400);
            expect(y).toBeGreaterThanOrEqual(0);
            expect(y).toBeLessThanOrEqual(200);
          }
        },
      ),
    );
  });
});

describe('niceTicks', () => {
  it.each([
    [0, 200, [0, 50, 100, 150, 200]],
    [0, 9, [0, 2, 4, 6, 8, 10]],
    [0, 1, [0, 0.2, 0.4, 0.6, 0.8, 1]],
  ])('[%d, %d] -> %j', (min, max, expected) => {
    expect(niceTicks(min, max)).toEqual(expected);
  });

  it('covers the range with evenly spaced round steps (1, 2 or 5 times a power of ten)', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1e8, max: 1e8 }), fc.integer({ min: 1, max: 1e8 }), (a, b) => {
        // Chart data: hundredths over a range of at least a hundredth.
        const min = a / 100;
        const span = b / 100;
        const ticks = niceTicks(min, min + span);
        expect(ticks[0]).toBeLessThanOrEqual(min);
        expect(ticks[ticks.length - 1]).toBeGreaterThanOrEqual(min + span - 1e-6);
        const step = (ticks[1] ?? 0) - (ticks[0] ?? 0);
        const mantissa = step / 10 ** Math.floor(Math.log10(step));
        expect([1, 2, 5, 10].some((m) => Math.abs(mantissa - m) < 1e-6)).toBe(true);
        expect(ticks.length).toBeLessThanOrEqual(12);
      }),
    );
  });
});

describe('escapeXml', () => {
  it('escapes the five XML specials', () => {
    expect(escapeXml(`<a href="x">&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;');
  });
});
