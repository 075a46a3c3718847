// A report's rows as horizontal bars of one measure, largest first: which VM, account or
// credential used the most at a glance. The numbers are written beside the bars, so the chart
// reads without seeing it.
import { useId, useMemo, useState } from 'react';
import { bars, DEFAULT_MEASURE, MEASURES, type Measure, type UsageRow } from './measures';

export function UsageBars({ rows }: { rows: readonly UsageRow[] }) {
  const [measure, setMeasure] = useState<Measure>(DEFAULT_MEASURE);
  const shown = useMemo(() => bars(rows, measure), [rows, measure]);
  const title = useId();
  const { label, format } = MEASURES[measure];
  return (
    <figure className="usage-bars" aria-labelledby={title}>
      <figcaption className="page-head">
        <h2 id={title}>{label}</h2>
        <label>
          Show{' '}
          <select name="measure" value={measure} onChange={(e) => setMeasure(e.target.value as Measure)}>
            {Object.entries(MEASURES).map(([key, spec]) => (
              <option key={key} value={key}>
                {spec.label}
              </option>
            ))}
          </select>
        </label>
      </figcaption>
      <ol className="bars">
        {shown.map((bar) => (
          <li key={bar.key} data-key={bar.key}>
            <span className="bar-label">{bar.label}</span>
            <span className="bar-track" aria-hidden="true">
              <span className="bar" style={{ width: `${bar.share * 100}%` }} />
            </span>
            <span className="bar-value">{format(bar.value)}</span>
          </li>
        ))}
      </ol>
    </figure>
  );
}
