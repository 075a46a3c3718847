// A line chart of samples over time, drawn by uPlot: made when shown, given new data as it
// arrives, sized to its container and destroyed when gone. Only pages loaded on demand import
// this module, so uPlot and its stylesheet stay out of the dashboard's first load.
import { useEffect, useMemo, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { tickLabel, valueAxis, type AxisScale } from './axis';

export interface ChartSeries {
  label: string;
  /** One value per time; null where nothing was sampled, drawn as a gap. */
  values: readonly (number | null)[];
}

export interface UsageChartProps {
  /** Names the chart for styles and tests (`data-chart`). */
  name: string;
  title: string;
  /** The buckets' starts, RFC 3339. */
  times: readonly string[];
  series: readonly ChartSeries[];
  /** How values read, on the axis and in the legend. */
  scale: AxisScale;
  height?: number;
}

/** The values whose neighbours are both gaps: a line needs two points, so a lone sample (a VM
 * that ran for a moment) is drawn as a dot instead. */
function lonely(plot: uPlot, seriesIdx: number): number[] {
  const values = plot.data[seriesIdx];
  const found: number[] = [];
  values.forEach((value, i) => {
    if (value != null && values[i - 1] == null && values[i + 1] == null) found.push(i);
  });
  return found;
}

/** The largest value drawn, or null with nothing sampled. */
function largest(plot: uPlot): number | null {
  let found: number | null = null;
  for (const values of plot.data.slice(1)) {
    for (const value of values) if (value != null && (found === null || value > found)) found = value;
  }
  return found;
}

/** Colours come from the stylesheet (`--chart-1`, `--chart-2`), so charts follow dark mode. */
function options(box: HTMLElement, { series, scale, height = 200 }: UsageChartProps): uPlot.Options {
  const style = getComputedStyle(box);
  const colour = (name: string) => style.getPropertyValue(name).trim();
  const lines = [colour('--chart-1'), colour('--chart-2')];
  const axis = { stroke: colour('--muted'), grid: { stroke: colour('--border'), width: 1 }, ticks: { stroke: colour('--border'), width: 1 } };
  return {
    width: box.clientWidth,
    height,
    // Usage starts at zero: an axis from the lowest sample would make small changes look large.
    // uPlot's own ticks are decimal, so sizes would read "1 MiB, 1 MiB, 0 MiB": the ticks are ours.
    scales: { y: { range: (plot) => [0, valueAxis(largest(plot), scale).top] } },
    axes: [
      axis,
      {
        ...axis,
        size: 80,
        splits: (plot) => valueAxis(largest(plot), scale).ticks,
        values: (_plot, ticks) => ticks.map((tick) => tickLabel(tick, scale)),
      },
    ],
    series: [
      {},
      ...series.map((line, i) => ({
        label: line.label,
        stroke: lines[i % lines.length],
        width: 2,
        points: { show: true, size: 6, filter: lonely },
        value: (_plot: uPlot, value: number | null) => (value == null ? '—' : scale.format(value)),
      })),
    ],
  };
}

export function UsageChart(props: UsageChartProps) {
  const { name, title, times, series, scale } = props;
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const data = useMemo<uPlot.AlignedData>(
    () => [times.map((at) => Date.parse(at) / 1000), ...series.map((line) => [...line.values])],
    [times, series],
  );
  const latest = useRef(data);
  latest.current = data;
  // A chart with other lines is a new chart; new values for the same lines are only new data.
  const shape = `${series.map((line) => line.label).join('\n')}\n${props.height}`;

  useEffect(() => {
    const element = box.current!;
    const chart = new uPlot(options(element, props), latest.current, element);
    plot.current = chart;
    const resize = new ResizeObserver(() => chart.setSize({ width: element.clientWidth, height: chart.height }));
    resize.observe(element);
    return () => {
      resize.disconnect();
      chart.destroy();
      plot.current = null;
    };
  }, [shape]); // eslint-disable-line

  useEffect(() => {
    plot.current?.setData(data);
  }, [data]);

  const sampled = times.filter((_, i) => series.some((line) => line.values[i] != null)).length;
  const peaks = series
    .map((line) => {
      const values = line.values.filter((value): value is number => value != null);
      return values.length ? `${line.label} peaked at ${scale.format(Math.max(...values))}` : `no ${line.label} samples`;
    })
    .join('; ');

  return (
    <figure className="usage-chart" data-chart={name} data-points={sampled}>
      <figcaption>{title}</figcaption>
      <div className="usage-chart-plot" ref={box} aria-hidden="true" />
      <p className="visually-hidden">{sampled ? `${peaks}.` : 'Nothing was sampled in this period.'}</p>
    </figure>
  );
}
