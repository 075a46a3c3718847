// A VM's note and tags: shown on its page and editable by whoever may rename it. Tags are typed
// as one line, separated by spaces or commas; the server lower-cases, sorts and checks them.
import { useState, type FormEvent } from 'react';
import { client } from '../api/client';
import { splitByField, type ApiProblem, problemOfResult } from '../api/errors';
import { SetVmLabelsMutation } from '../api/operations';
import { Field } from '../components/Field';
import { FormError } from '../components/FormError';
import { GatedButton } from '../components/Gate';
import type { Vm } from '../live/vmList';

/** As the server limits them. */
const NOTE_MAX = 500;
const TAGS_MAX = 10;

function parseTags(text: string): string[] {
  return text.split(/[\s,]+/).filter(Boolean);
}

export function TagList({ tags }: { tags: readonly string[] }) {
  return tags.length ? (
    <ul className="tags" aria-label="Tags">
      {tags.map((tag) => (
        <li key={tag} className="tag">
          {tag}
        </li>
      ))}
    </ul>
  ) : null;
}

function LabelsForm({ vm, onSaved, onCancel }: { vm: Vm; onSaved(vm: Vm): void; onCancel(): void }) {
  const [note, setNote] = useState(vm.note ?? '');
  const [tags, setTags] = useState(vm.tags.join(' '));
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setProblem(null);
    const result = await client.mutation(SetVmLabelsMutation, { id: vm.id, note: note.trim() || null, tags: parseTags(tags) }).toPromise();
    setBusy(false);
    if (result.error || !result.data) {
      setProblem(problemOfResult(result.error));
      return;
    }
    onSaved(result.data.setVmLabels);
  };

  const { fields, general } = splitByField(problem, ['note', 'tags']);
  return (
    <form className="stack labels-form" onSubmit={submit} noValidate>
      <Field label="Note" error={fields.note} help={`${note.length} of ${NOTE_MAX} characters.`}>
        {(props) => <textarea {...props} name="note" rows={3} maxLength={NOTE_MAX} value={note} onChange={(e) => setNote(e.target.value)} />}
      </Field>
      <Field
        label="Tags"
        error={fields.tags}
        help={`Up to ${TAGS_MAX}, separated by spaces or commas; each 1–32 lower-case letters, digits, dots, dashes or underscores.`}
      >
        {(props) => <input {...props} name="tags" autoComplete="off" spellCheck={false} placeholder="e.g. lab-2 web" value={tags} onChange={(e) => setTags(e.target.value)} />}
      </Field>
      <FormError message={general} />
      <div className="form-actions">
        <button type="button" className="button" onClick={onCancel}>
          Cancel
        </button>
        <button type="submit" className="button primary" disabled={busy}>
          {busy ? 'Saving…' : 'Save labels'}
        </button>
      </div>
    </form>
  );
}

export function VmLabels({ vm, onSaved }: { vm: Vm; onSaved(vm: Vm): void }) {
  const [editing, setEditing] = useState(false);
  return (
    <section className="vm-labels" aria-labelledby="labels-title" data-testid="vm-labels">
      <div className="page-head">
        <h2 id="labels-title">Note and tags</h2>
        {editing ? null : (
          <GatedButton allowed={vm.allowed.includes('vms:rename')} policy="vms:rename" onClick={() => setEditing(true)}>
            Edit labels
          </GatedButton>
        )}
      </div>
      {editing ? (
        <LabelsForm
          vm={vm}
          onCancel={() => setEditing(false)}
          onSaved={(saved) => {
            setEditing(false);
            onSaved(saved);
          }}
        />
      ) : (
        <>
          <TagList tags={vm.tags} />
          {vm.note ? (
            <p className="vm-note-full" data-testid="vm-note">
              {vm.note}
            </p>
          ) : null}
          {!vm.tags.length && !vm.note ? <p className="muted">No note or tags.</p> : null}
        </>
      )}
    </section>
  );
}
