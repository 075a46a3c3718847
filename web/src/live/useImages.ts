// The image list with its imports' live progress. `imageProgress` pushes how far each import
// got; when one is over (or one the list does not know starts), the list is read again, since
// only the list says what became of it. After the live link reconnects the list is read again
// too, and while an import is under way a slow timer reads it in case an outcome was missed.
import { useCallback, useEffect, useRef, useState } from 'react';
import { useQuery } from 'urql';
import { onReconnected, subscribeLive } from '../api/client';
import { problemOf, type ApiProblem } from '../api/errors';
import { ImageListQuery, ImageProgressSubscription } from '../api/operations';
import type { ImageFieldsFragment } from '../gql/graphql';
import { applyProgress, listIsBehind, pruneProgress, type ProgressById } from './imageProgress';
import { useVisibleInterval } from './useVisibleInterval';

export type Image = ImageFieldsFragment;

const NO_IMAGES: readonly Image[] = [];
const NO_PROGRESS: ProgressById = new Map();
/** Reads of a list that is still behind the progress before leaving it to the slow timer. */
const CATCH_UP_TRIES = 10;
const CATCH_UP_MS = 1_000;
const IMPORTING_REFRESH_MS = 15_000;

export interface LiveImages {
  images: readonly Image[];
  progress: ProgressById;
  loading: boolean;
  problem: ApiProblem | null;
  reload(): void;
}

export function useImages(): LiveImages {
  const [{ data, error, fetching }, refetch] = useQuery({ query: ImageListQuery });
  const reload = useCallback(() => refetch({ requestPolicy: 'network-only' }), [refetch]);
  const [progress, setProgress] = useState<ProgressById>(NO_PROGRESS);
  // A failed read keeps what the list showed.
  const last = useRef<readonly Image[] | null>(null);
  if (data?.images) last.current = data.images;
  const images = last.current ?? NO_IMAGES;

  useEffect(
    () =>
      subscribeLive(ImageProgressSubscription, { id: null }, ({ imageProgress }) =>
        setProgress((current) => applyProgress(current, imageProgress)),
      ),
    [],
  );
  useEffect(() => onReconnected(reload), [reload]);
  useEffect(() => setProgress((current) => pruneProgress(current, images)), [images]);

  // Behind: an outcome the list does not show yet. Read it again soon, then every second for a
  // while (the list may be written a moment after the progress says the import is over).
  const behind = last.current !== null && listIsBehind(progress, images);
  const tries = useRef(0);
  useEffect(() => {
    if (!behind) {
      tries.current = 0;
      return;
    }
    if (tries.current >= CATCH_UP_TRIES) return;
    const timer = setTimeout(
      () => {
        tries.current++;
        reload();
      },
      tries.current === 0 ? 100 : CATCH_UP_MS,
    );
    return () => clearTimeout(timer);
    // Again after each read (`data`), not on each progress update.
  }, [behind, data]); // eslint-disable-line react-hooks/exhaustive-deps

  useVisibleInterval(IMPORTING_REFRESH_MS, () => {
    if (images.some((image) => image.status === 'IMPORTING')) reload();
  });

  return {
    images,
    progress,
    loading: fetching && last.current === null,
    problem: error ? problemOf(error) : null,
    reload,
  };
}
