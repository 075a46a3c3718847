// A chart's value axis: from zero to a round top, with ticks at round steps that read as
// different labels. Sizes step in powers of two (512 MiB, 1 GiB, 1.5 GiB), other quantities
// in 1, 2 or 5 times a power of ten. With nothing sampled or only zeros the axis still spans a
// sensible range instead of labelling every tick the same.
import { formatBytes, formatMib, formatPercent } from '../format';

export interface AxisScale {
  /** How a value reads on the axis and in the legend. */
  format(value: number): string;
  /** Steps in powers of two: the format shows sizes in binary units. */
  binary: boolean;
  /** The smallest step the format tells apart. */
  minStep: number;
  /** The axis's top when there is nothing above zero to show. */
  idleTop: number;
}

export const PERCENT_SCALE: AxisScale = { format: formatPercent, binary: false, minStep: 0.1, idleTop: 100 };
export const MIB_SCALE: AxisScale = { format: formatMib, binary: true, minStep: 1, idleTop: 1024 };
export const RATE_SCALE: AxisScale = { format: (value) => `${formatBytes(value)}/s`, binary: true, minStep: 1, idleTop: 1024 };

/** Ticks to aim for; the step is the round one just above top ÷ this. */
const TICKS = 4;
/** Room above the largest value, so a flat line is not drawn on the chart's edge. */
const HEADROOM = 1.05;

function roundStep(raw: number, scale: AxisScale): number {
  if (scale.binary) return Math.max(scale.minStep, 2 ** Math.ceil(Math.log2(raw)));
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((candidate) => candidate >= raw * (1 - 1e-9)) ?? 10 * power;
  return Math.max(scale.minStep, step);
}

export interface Axis {
  top: number;
  ticks: number[];
}

/** The axis for values up to `largest` (null or not above zero: nothing to show). */
export function valueAxis(largest: number | null, scale: AxisScale): Axis {
  const highest = largest !== null && largest > 0 ? largest * HEADROOM : scale.idleTop;
  const step = roundStep(highest / TICKS, scale);
  // Counted in steps, not summed, so float error cannot add or drop a tick.
  const count = Math.max(1, Math.ceil(highest / step - 1e-9));
  const ticks = Array.from({ length: count + 1 }, (_, i) => i * step);
  return { top: count * step, ticks };
}

/** A tick's label: zero is zero in any unit, so it reads "0" rather than "0.0 %" beside "20 %". */
export function tickLabel(value: number, scale: AxisScale): string {
  return value === 0 ? '0' : scale.format(value);
}
