// GraphiQL for API users, bundled (no CDN). Logged in to the dashboard in this tab, the
// session's token is filled into the headers; otherwise paste `{"Authorization": "Bearer …"}`.
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { GraphiQL } from 'graphiql';
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import 'graphiql/style.css';
import { getToken } from './api/token';

const token = getToken();
const wsUrl = new URL('/graphql/ws', window.location.href);
wsUrl.protocol = wsUrl.protocol === 'https:' ? 'wss:' : 'ws:';

const fetcher = createGraphiQLFetcher({
  url: '/graphql',
  subscriptionUrl: wsUrl.toString(),
  wsConnectionParams: token ? { authorization: `Bearer ${token}` } : undefined,
});

createRoot(document.getElementById('graphiql')!).render(
  <StrictMode>
    <GraphiQL
      fetcher={fetcher}
      defaultHeaders={token ? JSON.stringify({ Authorization: `Bearer ${token}` }, null, 2) : undefined}
      defaultQuery={'# Distribox API. Try:\n{\n  me {\n    username\n    policies\n  }\n}\n'}
    />
  </StrictMode>,
);
