// Policies as grouped checkboxes, each with what it lets an account do.
import { groupPolicies, type PolicyInfo } from './policyGroups';

export interface PolicyChecklistProps {
  catalogue: readonly PolicyInfo[];
  chosen: readonly string[];
  onToggle(policy: string, on: boolean): void;
  /** Names the checkboxes' group for assistive technology, e.g. "Global policies". */
  label: string;
}

export function PolicyChecklist({ catalogue, chosen, onToggle, label }: PolicyChecklistProps) {
  return (
    <div className="policy-groups" role="group" aria-label={label}>
      {groupPolicies(catalogue).map((group) => (
        <fieldset key={group.title} className="policy-group">
          <legend>{group.title}</legend>
          {group.policies.map((policy) => (
            <label key={policy.name} className="policy-option">
              <input type="checkbox" value={policy.name} checked={chosen.includes(policy.name)} onChange={(e) => onToggle(policy.name, e.target.checked)} />
              <span>
                <code>{policy.name}</code>
                {policy.description ? <span className="help">{policy.description}</span> : null}
              </span>
            </label>
          ))}
        </fieldset>
      ))}
    </div>
  );
}
