// A logged-in account's console of one VM: /vms/:id/console?kind=vnc|serial&viewOnly=1
import { useCallback } from 'react';
import { Link, useParams, useSearchParams } from 'react-router-dom';
import { client } from '../api/client';
import { problemOf } from '../api/errors';
import { OpenConsoleMutation } from '../api/operations';
import { ConsoleScreen } from './ConsoleScreen';
import type { TicketResult } from './useConsoleConnection';

export default function VmConsolePage() {
  const { id = '' } = useParams();
  const [params, setParams] = useSearchParams();
  const kind = params.get('kind') === 'serial' ? 'serial' : 'vnc';
  const viewOnly = params.get('viewOnly') === '1';
  const requestTicket = useCallback(async (): Promise<TicketResult> => {
    const result = await client.mutation(OpenConsoleMutation, { vmId: id, kind: kind === 'vnc' ? 'VNC' : 'SERIAL', viewOnly }).toPromise();
    if (result.error || !result.data) return { problem: result.error ? problemOf(result.error) : { code: 'INTERNAL', message: 'No answer.' } };
    return { ticket: result.data.openConsole };
  }, [id, kind, viewOnly]);
  return (
    <ConsoleScreen
      key={`${id}-${kind}-${viewOnly}`}
      kind={kind}
      requestTicket={requestTicket}
      onSwitchKind={(next) => setParams({ kind: next, ...(viewOnly ? { viewOnly: '1' } : {}) }, { replace: true })}
      back={
        <Link className="back" to={`/vms/${id}`}>
          ← Back
        </Link>
      }
    />
  );
}
