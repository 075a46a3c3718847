// Adding an image by hand: import one from a URL (checked against a SHA-256 or a checksum file),
// or upload a disk image file from this computer with a progress bar and a Cancel button.
import { useEffect, useId, useState, type FormEvent } from 'react';
import { client } from '../api/client';
import { splitByField, type ApiProblem, problemOfResult } from '../api/errors';
import { ImportImageMutation, MeQuery } from '../api/operations';
import { nameFromFile } from '../api/upload';
import { Field } from '../components/Field';
import { FormError } from '../components/FormError';
import { useNotify } from '../components/Notices';
import { progressShare, progressText } from '../live/imageProgress';
import { cancelUpload, dismissUpload, startUpload, uploading, useImageUpload } from '../live/imageUpload';

export interface Metadata {
  name: string;
  osFamily: string;
  osVersion: string;
  defaultUser: string;
  firmware: string;
  description: string;
}

const NO_METADATA: Metadata = { name: '', osFamily: '', osVersion: '', defaultUser: '', firmware: 'bios', description: '' };

/** Empty text as null, the way the API takes optional fields. */
function optional(value: string): string | null {
  return value.trim() || null;
}

/** The fields both forms share: what the image is, for people and for provisioning. */
function MetadataFields({
  value,
  onChange,
  fields,
  families,
  withDescription,
}: {
  value: Metadata;
  onChange(next: Metadata): void;
  fields: Record<string, string>;
  families: readonly string[];
  withDescription: boolean;
}) {
  const familyList = useId();
  const set = (key: keyof Metadata) => (e: { target: { value: string } }) => onChange({ ...value, [key]: e.target.value });
  return (
    <>
      <Field label="Name" error={fields.name} help="How the image is listed when creating a VM.">
        {(props) => <input {...props} name="name" required maxLength={64} autoComplete="off" value={value.name} onChange={set('name')} />}
      </Field>
      <div className="grid-3">
        <Field label="OS family" error={fields.osFamily}>
          {(props) => <input {...props} name="osFamily" list={familyList} autoComplete="off" placeholder="debian" value={value.osFamily} onChange={set('osFamily')} />}
        </Field>
        <Field label="OS version" error={fields.osVersion}>
          {(props) => <input {...props} name="osVersion" autoComplete="off" placeholder="12" value={value.osVersion} onChange={set('osVersion')} />}
        </Field>
        <Field label="Firmware" error={fields.firmware}>
          {(props) => (
            <select {...props} name="firmware" value={value.firmware} onChange={set('firmware')}>
              <option value="bios">BIOS</option>
              <option value="uefi">UEFI</option>
            </select>
          )}
        </Field>
      </div>
      <datalist id={familyList}>
        {families.map((family) => (
          <option key={family} value={family} />
        ))}
      </datalist>
      <Field label="Default user" error={fields.defaultUser} help="The login its cloud-init creates (debian, ubuntu, fedora…), if any.">
        {(props) => <input {...props} name="defaultUser" autoComplete="off" value={value.defaultUser} onChange={set('defaultUser')} />}
      </Field>
      {withDescription ? (
        <Field label="Description" error={fields.description}>
          {(props) => <textarea {...props} name="description" rows={2} value={value.description} onChange={set('description')} />}
        </Field>
      ) : null}
    </>
  );
}

const URL_FIELDS = ['url', 'sha256', 'checksumUrl', 'name', 'osFamily', 'osVersion', 'defaultUser', 'firmware', 'description'];

export function ImportUrlForm({ families, onImported }: { families: readonly string[]; onImported(): void }) {
  const notify = useNotify();
  const [url, setUrl] = useState('');
  const [sha256, setSha256] = useState('');
  const [checksumUrl, setChecksumUrl] = useState('');
  const [metadata, setMetadata] = useState<Metadata>(NO_METADATA);
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (busy) return;
    setProblem(null);
    setBusy(true);
    const result = await client
      .mutation(ImportImageMutation, {
        input: {
          url: url.trim(),
          sha256: optional(sha256),
          checksumUrl: optional(checksumUrl),
          name: metadata.name.trim(),
          osFamily: optional(metadata.osFamily),
          osVersion: optional(metadata.osVersion),
          defaultUser: optional(metadata.defaultUser),
          firmware: metadata.firmware,
          description: optional(metadata.description),
        },
      })
      .toPromise();
    setBusy(false);
    if (result.error || !result.data) {
      setProblem(problemOfResult(result.error));
      return;
    }
    notify(`Importing ${result.data.importImage.name}…`);
    setUrl('');
    setSha256('');
    setChecksumUrl('');
    setMetadata(NO_METADATA);
    onImported();
  };

  const { fields, general } = splitByField(problem, URL_FIELDS);
  return (
    <section className="panel" aria-labelledby="import-url-title">
      <h2 id="import-url-title">Import from a URL</h2>
      <form className="stack import-form" onSubmit={submit} noValidate>
        <Field label="URL" error={fields.url} help="A qcow2 or raw disk image (vmdk, vhdx and vdi are converted).">
          {(props) => (
            <input
              {...props}
              name="url"
              type="url"
              required
              autoComplete="off"
              placeholder="https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-genericcloud-amd64.qcow2"
              value={url}
              onChange={(e) => setUrl(e.target.value)}
              onBlur={() => {
                if (url.trim() && !metadata.name.trim()) setMetadata({ ...metadata, name: nameFromFile(url) });
              }}
            />
          )}
        </Field>
        <div className="grid-2">
          <Field label="SHA-256" error={fields.sha256} help="The file's checksum, if you know it…">
            {(props) => <input {...props} name="sha256" autoComplete="off" spellCheck={false} value={sha256} onChange={(e) => setSha256(e.target.value)} />}
          </Field>
          <Field label="Checksum file URL" error={fields.checksumUrl} help="…or where the distribution publishes it (SHA256SUMS).">
            {(props) => <input {...props} name="checksumUrl" type="url" autoComplete="off" value={checksumUrl} onChange={(e) => setChecksumUrl(e.target.value)} />}
          </Field>
        </div>
        <MetadataFields value={metadata} onChange={setMetadata} fields={fields} families={families} withDescription />
        <FormError message={general} />
        <div className="form-actions">
          <button type="submit" className="button primary" disabled={busy}>
            {busy ? 'Starting…' : 'Import'}
          </button>
        </div>
      </form>
    </section>
  );
}

const UPLOAD_FIELDS = ['file', 'name', 'osFamily', 'osVersion', 'defaultUser', 'firmware', 'sha256'];
const DISK_FILES = '.qcow2,.img,.raw,.vmdk,.vhdx,.vdi';

/** The upload under way (or just over): a progress bar, then "verifying", then the outcome. */
function UploadStatus() {
  const upload = useImageUpload();
  if (!upload) return null;
  const sending = upload.stage === 'sending' || upload.stage === 'verifying';
  return (
    <div className="upload-status stack" data-stage={upload.stage} data-testid="upload-status">
      <p>
        <strong>{upload.name}</strong> <span className="muted">({upload.fileName})</span>
      </p>
      {sending ? (
        <div className="import-progress">
          <progress
            data-testid="upload-progress"
            aria-label={`Upload of ${upload.name}`}
            max={1}
            value={upload.stage === 'verifying' ? undefined : (progressShare(upload.sent, upload.total) ?? undefined)}
          />
          <span className="import-progress-text" role="status">
            {upload.stage === 'verifying'
              ? 'All sent: the server is verifying the file…'
              : progressText({ phase: 'UPLOADING', bytes: upload.sent, total: upload.total, rate: upload.rate })}
          </span>
        </div>
      ) : null}
      {upload.stage === 'done' ? (
        <p className="notice-inline" role="status">
          {upload.name} is uploaded and ready to use.
        </p>
      ) : null}
      {upload.stage === 'cancelled' ? <p role="status">The upload was cancelled.</p> : null}
      {upload.stage === 'failed' ? <p className="field-error">The upload failed.</p> : null}
      <div className="form-actions">
        {sending ? (
          <button type="button" className="button danger-outline" onClick={cancelUpload}>
            Cancel upload
          </button>
        ) : (
          <button type="button" className="button small" onClick={dismissUpload}>
            Dismiss
          </button>
        )}
      </div>
    </div>
  );
}

export function UploadForm({ families }: { families: readonly string[] }) {
  const notify = useNotify();
  const upload = useImageUpload();
  const [file, setFile] = useState<File | null>(null);
  const [sha256, setSha256] = useState('');
  const [metadata, setMetadata] = useState<Metadata>(NO_METADATA);
  // The name as last filled in from a file: replaced when another file is chosen.
  const [suggested, setSuggested] = useState('');
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [inputKey, setInputKey] = useState(0);
  const busy = upload?.stage === 'sending' || upload?.stage === 'verifying';

  // A failed upload's refusal shows on its field; one from before leaving the screen too.
  useEffect(() => {
    if (upload?.stage === 'failed') setProblem(upload.problem);
  }, [upload?.stage, upload?.problem]);

  const choose = (chosen: File | null) => {
    setFile(chosen);
    if (chosen && (!metadata.name.trim() || metadata.name === suggested)) {
      const name = nameFromFile(chosen.name);
      setSuggested(name);
      setMetadata({ ...metadata, name });
    }
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (busy || uploading()) return;
    setProblem(null);
    if (!file) {
      setProblem({ code: 'BAD_INPUT', field: 'file', message: 'Choose the disk image file to upload.' });
      return;
    }
    if (!metadata.name.trim()) {
      setProblem({ code: 'BAD_INPUT', field: 'name', message: 'The image needs a name.' });
      return;
    }
    const outcome = await startUpload(file, {
      name: metadata.name,
      fileName: file.name,
      osFamily: metadata.osFamily,
      osVersion: metadata.osVersion,
      defaultUser: metadata.defaultUser,
      firmware: metadata.firmware,
      sha256,
    });
    if (outcome.stage === 'done') {
      notify(`${outcome.name} is uploaded.`);
      setFile(null);
      setSha256('');
      setMetadata(NO_METADATA);
      setSuggested('');
      setInputKey((key) => key + 1);
    } else if (outcome.stage === 'failed' && outcome.problem?.code === 'UNAUTHENTICATED') {
      // Asking `me` ends the session here too if the server ended it.
      void client.query(MeQuery, {}).toPromise();
    }
  };

  const { fields, general } = splitByField(problem, UPLOAD_FIELDS);
  const fileError = fields.file ?? fields.fileName;
  return (
    <section className="panel" aria-labelledby="upload-title">
      <h2 id="upload-title">Upload a file</h2>
      <form className="stack upload-form" onSubmit={submit} noValidate>
        <fieldset className="stack" disabled={busy}>
          <legend>Disk image from this computer</legend>
          <Field label="File" error={fileError} help="qcow2 or raw; vmdk, vhdx and vdi are converted.">
            {(props) => (
              <input {...props} key={inputKey} name="file" type="file" accept={DISK_FILES} onChange={(e) => choose(e.target.files?.[0] ?? null)} />
            )}
          </Field>
          <MetadataFields value={metadata} onChange={setMetadata} fields={fields} families={families} withDescription={false} />
          <Field label="SHA-256" error={fields.sha256} help="Optional: the upload is refused if the file does not match.">
            {(props) => <input {...props} name="sha256" autoComplete="off" spellCheck={false} value={sha256} onChange={(e) => setSha256(e.target.value)} />}
          </Field>
        </fieldset>
        <FormError message={general} />
        <UploadStatus />
        <div className="form-actions">
          <button type="submit" className="button primary" disabled={busy}>
            {busy ? 'Uploading…' : 'Upload'}
          </button>
        </div>
      </form>
    </section>
  );
}
