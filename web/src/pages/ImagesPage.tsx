// Base images, what VMs are built on: the list with each import's live progress, the curated
// catalogue of official cloud images, importing from a URL, uploading a file, and retiring,
// reinstating and deleting.
import { memo, useEffect, useMemo, useState } from 'react';
import { useQuery } from 'urql';
import { client } from '../api/client';
import { describe, problemOf, type ApiProblem, NO_ANSWER, problemOfResult } from '../api/errors';
import { DeleteImageMutation, ImageCatalogueQuery, ImportImageMutation, ReinstateImageMutation, RetireImageMutation, RetryImageImportMutation } from '../api/operations';
import { Confirm } from '../components/Confirm';
import { FormError } from '../components/FormError';
import { GatedButton } from '../components/Gate';
import { useNotify } from '../components/Notices';
import { formatBytes, formatDate, formatTime } from '../format';
import type { ImageCatalogueQuery as CatalogueData, ImageStatus } from '../gql/graphql';
import { progressShare, progressText, type ImageProgress } from '../live/imageProgress';
import { useImageUpload } from '../live/imageUpload';
import { useImages, type Image } from '../live/useImages';
import { useSession } from '../session';
import { ImportUrlForm, UploadForm } from './ImageImportForms';

type CatalogueEntry = CatalogueData['imageCatalogue'][number];

const STATUS_LABELS: Record<ImageStatus, string> = {
  IMPORTING: 'Importing',
  READY: 'Ready',
  FAILED: 'Failed',
  RETIRED: 'Retired',
};

/** "debian 12", or a dash. */
export function osText(osFamily: string | null | undefined, osVersion: string | null | undefined): string {
  return [osFamily, osVersion].filter(Boolean).join(' ') || '—';
}

/** "BIOS" or "UEFI" as people write them. */
export function firmwareText(firmware: string): string {
  return firmware === 'uefi' ? 'UEFI' : firmware === 'bios' ? 'BIOS' : firmware;
}

/** Whether a catalogue entry is already an image (any status): adding it again would be a copy. */
export function alreadyAdded(entry: { url: string }, images: readonly { source: string }[]): boolean {
  const url = entry.url.trim();
  return images.some((image) => image.source.trim() === url);
}

function ProgressBar({ label, share, text }: { label: string; share: number | null; text: string }) {
  return (
    <div className="import-progress">
      <progress aria-label={label} max={1} value={share ?? undefined} />
      <span className="import-progress-text">{text}</span>
    </div>
  );
}

type RowAction = 'retry' | 'retire' | 'reinstate' | 'delete';

const DONE: Record<RowAction, string> = {
  retry: 'is being imported again',
  retire: 'is retired: new VMs cannot use it',
  reinstate: 'is back: new VMs can use it',
  delete: 'is deleted',
};

async function runAction(action: RowAction, id: string): Promise<ApiProblem | null> {
  const result =
    action === 'retry'
      ? await client.mutation(RetryImageImportMutation, { id }).toPromise()
      : action === 'retire'
        ? await client.mutation(RetireImageMutation, { id }).toPromise()
        : action === 'reinstate'
          ? await client.mutation(ReinstateImageMutation, { id }).toPromise()
          : await client.mutation(DeleteImageMutation, { id }).toPromise();
  if (result.error) return problemOf(result.error);
  return result.data ? null : NO_ANSWER;
}

const ImageRow = memo(function ImageRow({ image, progress, onChanged }: { image: Image; progress: ImageProgress | undefined; onChanged(): void }) {
  const { can } = useSession();
  const notify = useNotify();
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [asking, setAsking] = useState(false);
  const mayImport = can('images:import');
  const mayDelete = can('images:delete');

  const act = async (action: RowAction) => {
    setBusy(true);
    setProblem(null);
    const refused = await runAction(action, image.id);
    setBusy(false);
    if (refused) setProblem(refused);
    else notify(`${image.name} ${DONE[action]}.`);
    onChanged();
  };

  const importing = image.status === 'IMPORTING';
  const failed = image.status === 'FAILED';
  return (
    <tr data-image-id={image.id} data-image-name={image.name} data-status={image.status}>
      <th scope="row">
        <span className="vm-name">{image.name}</span>
        <span className="image-source muted" title={image.source}>
          {image.sourceKind === 'url' ? 'from ' : image.sourceKind === 'upload' ? 'uploaded ' : 'in the images folder: '}
          {image.source}
        </span>
        {image.description ? <span className="image-description">{image.description}</span> : null}
        {importing ? (
          <ProgressBar
            label={`Import of ${image.name}`}
            share={progress ? progressShare(progress.bytes, progress.total) : null}
            text={progress ? progressText(progress) : 'Waiting for the importer…'}
          />
        ) : null}
        {failed && image.failure ? <p className="failure">{image.failure}</p> : null}
        {failed && image.sourceKind === 'upload' ? <p className="help">Upload the file again to try once more.</p> : null}
        {problem ? (
          <p className="form-error" role="alert" data-code={problem.code}>
            {problem.code === 'CONFLICT' ? `Not deleted: ${problem.message}` : describe(problem)}
          </p>
        ) : null}
      </th>
      <td data-label="Status">
        <span className="badge" data-state={image.status}>
          {STATUS_LABELS[image.status] ?? image.status}
        </span>
        <span className="cell-note" title={formatTime(image.createdAt)}>
          added {formatDate(image.createdAt)}
        </span>
      </td>
      <td data-label="OS">
        {osText(image.osFamily, image.osVersion)}
        <span className="cell-note">{firmwareText(image.firmware)} firmware</span>
      </td>
      <td data-label="Format">
        {image.format ?? '—'}
        {image.convertedFrom ? <span className="cell-note">converted from {image.convertedFrom}</span> : null}
      </td>
      <td data-label="Size" className="num">
        {image.sizeBytes != null ? formatBytes(image.sizeBytes) : '—'}
        {image.virtualSizeBytes != null ? <span className="cell-note">{formatBytes(image.virtualSizeBytes)} virtual</span> : null}
      </td>
      <td data-label="Used by" className="num">
        {image.usedBy} VM{image.usedBy === 1 ? '' : 's'}
      </td>
      <td className="actions-cell">
        <div className="actions">
          {failed && image.sourceKind === 'url' ? (
            <GatedButton allowed={mayImport} policy="images:import" disabled={busy} onClick={() => void act('retry')}>
              Retry
            </GatedButton>
          ) : null}
          {image.status === 'READY' ? (
            <GatedButton allowed={mayDelete} policy="images:delete" disabled={busy} onClick={() => void act('retire')}>
              Retire
            </GatedButton>
          ) : null}
          {image.status === 'RETIRED' ? (
            <GatedButton allowed={mayDelete} policy="images:delete" disabled={busy} onClick={() => void act('reinstate')}>
              Reinstate
            </GatedButton>
          ) : null}
          {!importing ? (
            <GatedButton allowed={mayDelete} policy="images:delete" className="button small danger-outline" disabled={busy} onClick={() => setAsking(true)}>
              Delete
            </GatedButton>
          ) : null}
        </div>
        {asking ? (
          <Confirm
            title={`Delete ${image.name}?`}
            message={
              <p>
                The image file is removed for good.
                {image.usedBy > 0
                  ? ` ${image.usedBy} VM${image.usedBy === 1 ? ' is' : 's are'} built on it, so it cannot be deleted while ${image.usedBy === 1 ? 'it exists' : 'they exist'}; retire it to keep new VMs off it.`
                  : ''}
              </p>
            }
            confirmLabel="Delete"
            onCancel={() => setAsking(false)}
            onConfirm={() => {
              setAsking(false);
              void act('delete');
            }}
          />
        ) : null}
      </td>
    </tr>
  );
});

function ImageTable({ images, progress, onChanged }: { images: readonly Image[]; progress: ReadonlyMap<string, ImageProgress>; onChanged(): void }) {
  return (
    <div className="table-wrap">
      <table className="vm-table image-table">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Status</th>
            <th scope="col">OS</th>
            <th scope="col">Format</th>
            <th scope="col" className="num">
              Size
            </th>
            <th scope="col" className="num">
              Used by
            </th>
            <th scope="col">
              <span className="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {images.map((image) => (
            <ImageRow key={image.id} image={image} progress={progress.get(image.id)} onChanged={onChanged} />
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Catalogue({ images, onImported }: { images: readonly Image[]; onImported(): void }) {
  const { can } = useSession();
  const notify = useNotify();
  const [{ data, error, fetching }] = useQuery({ query: ImageCatalogueQuery });
  const [adding, setAdding] = useState<string | null>(null);
  // Added here: shown as such before the list is read again.
  const [justAdded, setJustAdded] = useState<ReadonlySet<string>>(new Set());
  useEffect(() => setJustAdded(new Set()), [images]);
  const add = async (entry: CatalogueEntry) => {
    setAdding(entry.key);
    const result = await client
      .mutation(ImportImageMutation, {
        input: {
          url: entry.url,
          checksumUrl: entry.checksumUrl,
          name: entry.name,
          osFamily: entry.osFamily,
          osVersion: entry.osVersion,
          defaultUser: entry.defaultUser,
          firmware: entry.firmware,
          description: entry.description ?? null,
        },
      })
      .toPromise();
    setAdding(null);
    if (result.error || !result.data) notify(describe(problemOfResult(result.error)), 'error');
    else {
      setJustAdded((urls) => new Set(urls).add(entry.url));
      notify(`Importing ${result.data.importImage.name}…`);
    }
    onImported();
  };
  const entries = data?.imageCatalogue ?? [];
  return (
    <section className="panel" aria-labelledby="catalogue-title">
      <h2 id="catalogue-title">Official cloud images</h2>
      <p className="muted">Downloaded from each distribution's own servers and checked against the checksums it publishes.</p>
      {error ? <FormError message={describe(problemOf(error))} /> : null}
      {fetching && !data ? <p className="muted">Loading…</p> : null}
      <ul className="catalogue">
        {entries.map((entry) => {
          const added = justAdded.has(entry.url) || alreadyAdded(entry, images);
          return (
            <li key={entry.key} data-catalogue-key={entry.key}>
              <div className="catalogue-text">
                <strong>{entry.name}</strong>
                <span className="muted">
                  {osText(entry.osFamily, entry.osVersion)} · {firmwareText(entry.firmware)} · user {entry.defaultUser}
                </span>
                {entry.description ? <span className="help">{entry.description}</span> : null}
              </div>
              {added ? (
                <span className="badge" data-state="READY" title="An image from this URL is already in the list">
                  Added
                </span>
              ) : (
                <GatedButton allowed={can('images:import')} policy="images:import" disabled={adding !== null} onClick={() => void add(entry)}>
                  {adding === entry.key ? 'Adding…' : 'Add'}
                </GatedButton>
              )}
            </li>
          );
        })}
      </ul>
    </section>
  );
}

export function ImagesPage() {
  const { can } = useSession();
  const { images, progress, loading, problem, reload } = useImages();
  const upload = useImageUpload();
  const mayImport = can('images:import');
  // Suggestions for the OS family fields: what the list already says.
  const families = useMemo(() => [...new Set(images.map((image) => image.osFamily).filter((f): f is string => !!f))].sort(), [images]);

  // An upload that ended (here or while on another screen) changed the list.
  const uploadStage = upload?.stage;
  useEffect(() => {
    if (uploadStage === 'done' || uploadStage === 'failed' || uploadStage === 'cancelled') reload();
  }, [uploadStage, reload]);

  return (
    <>
      <section className="panel">
        <div className="page-head">
          <h1>Images</h1>
        </div>
        {problem ? <FormError message={describe(problem)} /> : null}
        {loading ? (
          <p className="muted">Loading…</p>
        ) : images.length === 0 ? (
          problem ? null : (
            <p className="empty">{mayImport ? 'No images yet. Add an official cloud image, import one from a URL, or upload a file below.' : 'No images yet.'}</p>
          )
        ) : (
          <ImageTable images={images} progress={progress} onChanged={reload} />
        )}
      </section>
      <Catalogue images={images} onImported={reload} />
      {mayImport ? (
        <div className="grid-2 image-forms">
          <ImportUrlForm families={families} onImported={reload} />
          <UploadForm families={families} />
        </div>
      ) : null}
    </>
  );
}
