// A confirmation in a <dialog>, never window.confirm (which blocks the page and the live link).
import type { ReactNode } from 'react';
import { useModal } from './useModal';

export interface ConfirmProps {
  title: string;
  message: ReactNode;
  confirmLabel: string;
  danger?: boolean;
  onConfirm(): void;
  onCancel(): void;
}

export function Confirm({ title, message, confirmLabel, danger = true, onConfirm, onCancel }: ConfirmProps) {
  const dialog = useModal();
  return (
    <dialog ref={dialog} aria-labelledby="confirm-title" onCancel={onCancel}>
      <form method="dialog" className="stack" onSubmit={(e) => e.preventDefault()}>
        <h2 id="confirm-title">{title}</h2>
        <div>{message}</div>
        <div className="dialog-actions">
          {/* Focus on Cancel: Enter must not delete anything by accident. */}
          <button type="button" className="button" onClick={onCancel} autoFocus>
            Cancel
          </button>
          <button type="button" className={`button ${danger ? 'danger' : 'primary'}`} onClick={onConfirm}>
            {confirmLabel}
          </button>
        </div>
      </form>
    </dialog>
  );
}
