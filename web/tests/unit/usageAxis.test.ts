import { describe, expect, it } from 'vitest';
import { MIB_SCALE, PERCENT_SCALE, RATE_SCALE, tickLabel, valueAxis, type AxisScale } from '../../src/usage/axis';

const labels = (largest: number | null, scale: AxisScale) => valueAxis(largest, scale).ticks.map((tick) => tickLabel(tick, scale));

/** Every tick reads differently, the axis starts at zero and reaches above the largest value. */
function expectReadable(largest: number | null, scale: AxisScale) {
  const axis = valueAxis(largest, scale);
  const shown = axis.ticks.map((tick) => tickLabel(tick, scale));
  expect(new Set(shown).size, shown.join(', ')).toBe(shown.length);
  expect(axis.ticks[0]).toBe(0);
  expect(axis.ticks.at(-1)).toBe(axis.top);
  expect(axis.top).toBeGreaterThanOrEqual(largest ?? 0);
  expect(axis.ticks.length).toBeGreaterThanOrEqual(2);
  expect(axis.ticks.length).toBeLessThanOrEqual(6);
}

describe('a usage chart’s value axis', () => {
  it('spans a sensible range when nothing was sampled or everything is zero', () => {
    // Before: uPlot's decimal ticks from 0 to 1 MiB read "0 MiB, 0 MiB, 0 MiB, 1 MiB, 1 MiB".
    expect(labels(null, MIB_SCALE)).toEqual(['0', '256 MiB', '512 MiB', '768 MiB', '1 GiB']);
    expect(labels(0, MIB_SCALE)).toEqual(labels(null, MIB_SCALE));
    expect(labels(0, RATE_SCALE)).toEqual(['0', '256 B/s', '512 B/s', '768 B/s', '1 KiB/s']);
    expect(labels(0, PERCENT_SCALE)).toEqual(['0', '50 %', '100 %']);
  });

  it('steps sizes in powers of two, so they read as whole binary units', () => {
    expect(labels(256, MIB_SCALE)).toEqual(['0', '128 MiB', '256 MiB', '384 MiB']);
    expect(labels(3000, MIB_SCALE)).toEqual(['0', '1 GiB', '2 GiB', '3 GiB', '4 GiB']);
    expect(labels(1.5 * 1024 * 1024, RATE_SCALE)).toEqual(['0', '512 KiB/s', '1 MiB/s', '1.5 MiB/s', '2 MiB/s']);
  });

  it('never steps below what the format tells apart', () => {
    expect(labels(3, RATE_SCALE)).toEqual(['0', '1 B/s', '2 B/s', '3 B/s', '4 B/s']);
    expect(labels(0.3, PERCENT_SCALE)).toEqual(['0', '0.1 %', '0.2 %', '0.3 %', '0.4 %']);
    expect(labels(37, PERCENT_SCALE)).toEqual(['0', '10 %', '20 %', '30 %', '40 %']);
  });

  it('reads every tick differently for any largest value', () => {
    for (const scale of [MIB_SCALE, RATE_SCALE, PERCENT_SCALE]) {
      for (let largest = 0.01; largest < 1e10; largest *= 1.37) expectReadable(largest, scale);
    }
  });
});
