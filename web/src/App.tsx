// Routes. The dashboard needs a session; the credential console (/connect) does not. Console
// pages load noVNC and xterm.js, and the usage page uPlot, only when opened, so the dashboard's
// first load stays small.
import { lazy, Suspense, type ReactNode } from 'react';
import { BrowserRouter, Navigate, Route, Routes, useLocation } from 'react-router-dom';
import { Layout } from './components/Layout';
import { NoticesProvider } from './components/Notices';
import { AccountsPage } from './pages/AccountsPage';
import { AuditPage } from './pages/AuditPage';
import { ImagesPage } from './pages/ImagesPage';
import { LoginPage } from './pages/LoginPage';
import { MonitorPage } from './pages/MonitorPage';
import { NotFoundPage } from './pages/NotFoundPage';
import { OverviewPage } from './pages/OverviewPage';
import { ProvisionPage } from './pages/ProvisionPage';
import { VmDetailPage } from './pages/VmDetailPage';
import { SessionProvider, useSession } from './session';

const VmConsolePage = lazy(() => import('./console/VmConsolePage'));
const CredentialConsolePage = lazy(() => import('./console/CredentialConsolePage'));
const UsagePage = lazy(() => import('./usage/UsagePage'));

function RequireSession({ children }: { children: ReactNode }) {
  const { account, checking } = useSession();
  const location = useLocation();
  if (checking && !account) return <p className="panel narrow muted">Loading…</p>;
  if (!account) {
    const next = location.pathname === '/' ? '' : `?next=${encodeURIComponent(location.pathname + location.search)}`;
    return <Navigate to={`/login${next}`} replace />;
  }
  return <>{children}</>;
}

const loadingConsole = <p className="panel narrow muted">Loading the console…</p>;

export function App() {
  return (
    <BrowserRouter>
      <NoticesProvider>
        <SessionProvider>
          <Routes>
            <Route path="/login" element={<LoginPage />} />
            <Route
              path="/connect"
              element={
                <Suspense fallback={loadingConsole}>
                  <CredentialConsolePage />
                </Suspense>
              }
            />
            <Route
              path="/vms/:id/console"
              element={
                <RequireSession>
                  <Suspense fallback={loadingConsole}>
                    <VmConsolePage />
                  </Suspense>
                </RequireSession>
              }
            />
            <Route
              element={
                <RequireSession>
                  <Layout />
                </RequireSession>
              }
            >
              <Route index element={<OverviewPage />} />
              <Route path="/vms/new" element={<ProvisionPage />} />
              <Route path="/vms/:id" element={<VmDetailPage />} />
              <Route path="/monitor" element={<MonitorPage />} />
              <Route path="/images" element={<ImagesPage />} />
              <Route path="/accounts" element={<AccountsPage />} />
              <Route path="/audit" element={<AuditPage />} />
              <Route
                path="/usage"
                element={
                  <Suspense fallback={<p className="panel narrow muted">Loading…</p>}>
                    <UsagePage />
                  </Suspense>
                }
              />
              <Route path="*" element={<NotFoundPage />} />
            </Route>
          </Routes>
        </SessionProvider>
      </NoticesProvider>
    </BrowserRouter>
  );
}
