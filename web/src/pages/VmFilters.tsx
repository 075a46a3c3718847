// The VM table's search, filters and order. Every change goes to the address at once (the table
// reads it from there), so what is shown survives a reload and can be sent as a link.
import { useMemo } from 'react';
import { stateLabel } from '../format';
import type { VmState } from '../gql/graphql';
import type { Vm } from '../live/vmList';
import { DEFAULT_VIEW, SORT_LABELS, filterChoices, isFiltered, nextSort, type SortKey, type VmView } from '../live/vmView';

export interface VmFiltersProps {
  vms: readonly Vm[];
  view: VmView;
  onView(view: VmView): void;
}

function Choice({ label, name, value, options, onChange }: { label: string; name: string; value: string | null; options: readonly { value: string; label: string }[]; onChange(value: string | null): void }) {
  return (
    <label className="filter">
      <span>{label}</span>
      <select name={name} value={value ?? ''} onChange={(e) => onChange(e.target.value || null)}>
        <option value="">Any</option>
        {options.map((option) => (
          <option key={option.value} value={option.value}>
            {option.label}
          </option>
        ))}
      </select>
    </label>
  );
}

const plain = (values: readonly string[]) => values.map((value) => ({ value, label: value }));

export function VmFilters({ vms, view, onView }: VmFiltersProps) {
  const choices = useMemo(() => filterChoices(vms, view), [vms, view]);
  return (
    <div className="vm-filters" role="search">
      <label className="filter search">
        <span className="visually-hidden">Search VMs</span>
        <input
          type="search"
          name="q"
          placeholder="Search name, owner, image, tag, note or id"
          value={view.search}
          onChange={(e) => onView({ ...view, search: e.target.value })}
          autoComplete="off"
        />
      </label>
      <Choice
        label="State"
        name="state"
        value={view.state}
        options={choices.states.map((state) => ({ value: state, label: stateLabel(state) }))}
        onChange={(state) => onView({ ...view, state: state as VmState | null })}
      />
      <Choice label="Owner" name="owner" value={view.owner} options={plain(choices.owners)} onChange={(owner) => onView({ ...view, owner })} />
      <Choice label="Image" name="image" value={view.image} options={plain(choices.images)} onChange={(image) => onView({ ...view, image })} />
      <label className="filter">
        <span>Sort by</span>
        <span className="sort-choice">
          <select name="sort" value={view.sort} onChange={(e) => onView(nextSort(view, e.target.value as SortKey))}>
            {Object.entries(SORT_LABELS).map(([key, label]) => (
              <option key={key} value={key}>
                {label}
              </option>
            ))}
          </select>
          <button
            type="button"
            className="button small"
            aria-label={view.descending ? 'Descending; sort ascending instead' : 'Ascending; sort descending instead'}
            title={view.descending ? 'Descending' : 'Ascending'}
            data-order={view.descending ? 'desc' : 'asc'}
            onClick={() => onView({ ...view, descending: !view.descending })}
          >
            <span aria-hidden="true">{view.descending ? '↓' : '↑'}</span>
          </button>
        </span>
      </label>
    </div>
  );
}

/** How many VMs the filters let through, with a way back to all of them. */
export function VmCount({ total, shown, view, onView }: { total: number; shown: number; view: VmView; onView(view: VmView): void }) {
  return (
    <p className="muted vm-count" aria-live="polite" data-testid="vm-count">
      {isFiltered(view) ? (
        <>
          {shown} of {total} VMs shown.{' '}
          <button type="button" className="link-button" onClick={() => onView({ ...DEFAULT_VIEW, sort: view.sort, descending: view.descending })}>
            Show all
          </button>
        </>
      ) : (
        `${total} VM${total === 1 ? '' : 's'}.`
      )}
    </p>
  );
}
