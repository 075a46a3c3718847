// Provisioning: image, size, keyboard, the cloud-init user, start after create. The server
// validates; its messages appear on the field they concern. Only ready images are offered; with
// none, the page says where to add one.
import { useEffect, useMemo, useState, type FormEvent } from 'react';
import { Link, useNavigate } from 'react-router-dom';
import { useQuery } from 'urql';
import { client } from '../api/client';
import { describe, problemOf, splitByField, type ApiProblem, problemOfResult } from '../api/errors';
import { CreateVmMutation, ImagesQuery } from '../api/operations';
import { Field } from '../components/Field';
import { useNotify } from '../components/Notices';
import { FormError } from '../components/FormError';
import { untilVmSettles } from '../live/vmProgress';
import { DISK_GIB } from '../live/vmLimits';
import { useSession } from '../session';
import { VmSizeFields, type VmSize } from './VmSizeFields';

type Login = 'password' | 'sshKey';

/** The inputs this form shows: a refusal about any other goes to the summary line. */
const FIELDS = ['name', 'image', 'vcpus', 'memoryMib', 'diskGib', 'keyboardLayout', 'user', 'password', 'sshKeys'];

export function ProvisionPage() {
  const navigate = useNavigate();
  const notify = useNotify();
  const { can } = useSession();
  const [{ data, error: loadError }] = useQuery({ query: ImagesQuery });
  const [name, setName] = useState('');
  const [image, setImage] = useState('');
  const [size, setSize] = useState<VmSize>({ vcpus: 1, memoryMib: 1024, diskGib: 10 });
  const [keyboardLayout, setKeyboardLayout] = useState('en-us');
  const [user, setUser] = useState('');
  const [login, setLogin] = useState<Login>('password');
  const [password, setPassword] = useState('');
  const [sshKey, setSshKey] = useState('');
  const [start, setStart] = useState(true);
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [busy, setBusy] = useState(false);

  // Importing, failed and retired images are listed too, but only ready ones can be built on.
  const images = useMemo(() => (data?.images ?? []).filter((i) => i.status === 'READY'), [data]);
  const importing = useMemo(() => (data?.images ?? []).filter((i) => i.status === 'IMPORTING').length, [data]);
  const chosen = images.find((i) => i.id === image);
  useEffect(() => {
    if (!image && images.length) setImage(images[0].id);
  }, [image, images]);
  useEffect(() => {
    if (chosen) setSize((size) => (size.diskGib < chosen.minDiskGib ? { ...size, diskGib: chosen.minDiskGib } : size));
    // Only when the image changes: afterwards the number is the user's.
  }, [chosen?.id]); // eslint-disable-line

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setProblem(null);
    const result = await client
      .mutation(CreateVmMutation, {
        input: {
          name,
          image,
          ...size,
          keyboardLayout,
          start,
          user: user.trim() || null,
          password: user.trim() && login === 'password' ? password : null,
          sshKeys: user.trim() && login === 'sshKey' && sshKey.trim() ? [sshKey.trim()] : [],
        },
      })
      .toPromise();
    setBusy(false);
    if (result.error || !result.data) {
      setProblem(problemOfResult(result.error));
      return;
    }
    notify(`${result.data.createVm.name} is being created.`, 'info', { key: `vm:${result.data.createVm.id}`, until: untilVmSettles(result.data.createVm.id) });
    navigate(`/vms/${result.data.createVm.id}`);
  };

  if (data && images.length === 0) {
    return (
      <section className="panel narrow">
        <h1>New virtual machine</h1>
        <div className="stack">
          <div className="empty" data-testid="no-images">
            <p>
              {importing ? `No image is ready yet (${importing} importing)` : 'No images yet'}
              {' — '}
              {can('images:get') ? (
                <Link to="/images">{importing ? 'follow the import on the Images page' : 'add one on the Images page'}</Link>
              ) : (
                'ask an administrator to add one'
              )}
              .
            </p>
          </div>
          <div className="form-actions">
            <button type="button" className="button" onClick={() => navigate(-1)}>
              Back
            </button>
          </div>
        </div>
      </section>
    );
  }

  const { fields, general } = splitByField(problem, FIELDS);

  return (
    <section className="panel narrow">
      <h1>New virtual machine</h1>
      {loadError ? <FormError message={describe(problemOf(loadError))} /> : null}
      <form className="stack" onSubmit={submit} noValidate>
        <Field label="Name" error={fields.name}>
          {(props) => <input {...props} name="name" required maxLength={63} value={name} onChange={(e) => setName(e.target.value)} />}
        </Field>
        <Field label="Image" error={fields.image} help={chosen?.defaultUser ? `Its default user is ${chosen.defaultUser}.` : undefined}>
          {(props) => (
            <select {...props} name="image" value={image} onChange={(e) => setImage(e.target.value)}>
              {images.map((i) => (
                <option key={i.id} value={i.id}>
                  {i.name}
                </option>
              ))}
            </select>
          )}
        </Field>
        <VmSizeFields
          size={size}
          onChange={setSize}
          errors={fields}
          diskMin={chosen?.minDiskGib ?? DISK_GIB.min}
          diskHelp={chosen ? `At least ${chosen.minDiskGib} GiB for this image.` : undefined}
        />
        <Field label="Keyboard layout" error={fields.keyboardLayout}>
          {(props) => (
            <select {...props} name="keyboardLayout" value={keyboardLayout} onChange={(e) => setKeyboardLayout(e.target.value)}>
              {(data?.keyboardLayouts ?? ['en-us']).map((layout) => (
                <option key={layout} value={layout}>
                  {layout}
                </option>
              ))}
            </select>
          )}
        </Field>
        <fieldset className="stack">
          <legend>Guest user (cloud-init)</legend>
          <Field label="User name" error={fields.user} help="Leave empty to keep the image's own users.">
            {(props) => <input {...props} name="user" autoComplete="off" value={user} onChange={(e) => setUser(e.target.value)} />}
          </Field>
          {user.trim() ? (
            <>
              <div className="field radio-row" role="radiogroup" aria-label="How the user logs in">
                <label>
                  <input type="radio" name="login" checked={login === 'password'} onChange={() => setLogin('password')} /> Password
                </label>
                <label>
                  <input type="radio" name="login" checked={login === 'sshKey'} onChange={() => setLogin('sshKey')} /> SSH key
                </label>
              </div>
              {login === 'password' ? (
                <Field label="Password" error={fields.password}>
                  {(props) => (
                    <input {...props} name="password" type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} />
                  )}
                </Field>
              ) : (
                <Field label="SSH public key" error={fields.sshKeys}>
                  {(props) => (
                    <textarea {...props} name="sshKey" rows={3} placeholder="ssh-ed25519 AAAA… you@host" value={sshKey} onChange={(e) => setSshKey(e.target.value)} />
                  )}
                </Field>
              )}
            </>
          ) : null}
        </fieldset>
        <div className="field checkbox">
          <input id="start" type="checkbox" checked={start} onChange={(e) => setStart(e.target.checked)} />
          <label htmlFor="start">Start it once created</label>
        </div>
        <FormError message={general} />
        <div className="form-actions">
          <button type="button" className="button" onClick={() => navigate(-1)}>
            Cancel
          </button>
          <button type="submit" className="button primary" disabled={busy || !image}>
            {busy ? 'Creating…' : 'Create VM'}
          </button>
        </div>
      </form>
    </section>
  );
}
