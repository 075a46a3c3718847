// The dashboard's frame: navigation (only to screens the account may use), the live link's
// status, and the account menu. On a narrow screen the navigation folds behind a Menu button.
import { useEffect, useRef, useState } from 'react';
import { NavLink, Outlet, useLocation, useNavigate } from 'react-router-dom';
import { onLinkStatus, type LinkStatus } from '../api/client';
import { useSession } from '../session';
import { ChangePasswordDialog } from './ChangePasswordDialog';
import { useNotify } from './Notices';

const STATUS_TEXT: Record<LinkStatus, string> = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
};

function LiveStatus() {
  const [status, setStatus] = useState<LinkStatus>('connecting');
  useEffect(() => onLinkStatus(setStatus), []);
  return (
    <span className="live" data-status={status} role="status" title="Updates arrive as they happen">
      <span className="live-dot" aria-hidden="true" />
      <span className="live-text">{STATUS_TEXT[status]}</span>
    </span>
  );
}

function AccountMenu() {
  const { account, can, logout } = useSession();
  const navigate = useNavigate();
  const notify = useNotify();
  const [open, setOpen] = useState(false);
  const [changing, setChanging] = useState(false);
  const menu = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!open) return;
    const close = (event: MouseEvent | KeyboardEvent) => {
      if (event instanceof KeyboardEvent ? event.key === 'Escape' : !menu.current?.contains(event.target as Node)) {
        setOpen(false);
      }
    };
    document.addEventListener('mousedown', close);
    document.addEventListener('keydown', close);
    return () => {
      document.removeEventListener('mousedown', close);
      document.removeEventListener('keydown', close);
    };
  }, [open]);
  if (!account) return null;
  return (
    <div className="account-menu" ref={menu}>
      <button type="button" className="button small" aria-haspopup="menu" aria-expanded={open} onClick={() => setOpen(!open)}>
        <span className="visually-hidden">Account menu for </span>
        <span id="whoami">{account.username}</span> ▾
      </button>
      {open ? (
        <div className="menu" role="menu">
          {can('auth:changePassword') ? (
            <button
              type="button"
              role="menuitem"
              onClick={() => {
                setOpen(false);
                setChanging(true);
              }}
            >
              Change password
            </button>
          ) : null}
          <button
            type="button"
            role="menuitem"
            onClick={async () => {
              setOpen(false);
              try {
                await logout();
                navigate('/login', { replace: true });
              } catch (err) {
                notify((err as Error).message, 'error');
              }
            }}
          >
            Log out
          </button>
        </div>
      ) : null}
      {changing ? <ChangePasswordDialog onClose={() => setChanging(false)} /> : null}
    </div>
  );
}

export function Layout() {
  const { can } = useSession();
  const { pathname } = useLocation();
  const [menuOpen, setMenuOpen] = useState(false);
  // Choosing a screen folds the menu again.
  useEffect(() => setMenuOpen(false), [pathname]);
  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <NavLink className="brand" to="/">
          <img src="/favicon.svg" alt="" width="22" height="22" />
          <span>Distribox</span>
        </NavLink>
        <button
          type="button"
          className="button small nav-toggle"
          aria-expanded={menuOpen}
          aria-controls="main-nav"
          onClick={() => setMenuOpen(!menuOpen)}
        >
          <span aria-hidden="true">☰</span> Menu
        </button>
        <nav id="main-nav" aria-label="Main" data-open={menuOpen || undefined}>
          <NavLink to="/" end>
            Overview
          </NavLink>
          {can('vms:screenshot') ? <NavLink to="/monitor">Monitor</NavLink> : null}
          {can('images:get') ? <NavLink to="/images">Images</NavLink> : null}
          {can('users:get') ? <NavLink to="/accounts">Accounts</NavLink> : null}
          {can('audit:get') ? <NavLink to="/audit">Audit log</NavLink> : null}
          {can('usage:get') ? <NavLink to="/usage">Usage</NavLink> : null}
          <a href="/graphiql">API</a>
        </nav>
        <div className="session">
          <LiveStatus />
          <AccountMenu />
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <Outlet />
      </main>
    </>
  );
}
