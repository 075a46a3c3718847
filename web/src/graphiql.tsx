// GraphiQL for API users, bundled (no CDN). Requests carry the dashboard's session cookie, from
// the schema's introspection on: logged in to the dashboard in this browser, everything works
// without a header, and the token stays out of the page. Without a login, paste
// `{"Authorization": "Bearer …"}` into the headers (a bearer token wins over the cookie).
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { GraphiQL } from 'graphiql';
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import 'graphiql/style.css';

const wsUrl = new URL('/graphql/ws', window.location.href);
wsUrl.protocol = wsUrl.protocol === 'https:' ? 'wss:' : 'ws:';

const fetcher = createGraphiQLFetcher({
  url: '/graphql',
  // The websocket's upgrade request carries the cookie; headers typed into the editor are sent
  // as `connection_init`'s payload instead.
  subscriptionUrl: wsUrl.toString(),
  fetch: (input, init) => window.fetch(input, { ...init, credentials: 'same-origin' }),
});

createRoot(document.getElementById('graphiql')!).render(
  <StrictMode>
    <GraphiQL
      fetcher={fetcher}
      defaultQuery={
        '# Distribox API. Logged in to the dashboard, requests use its session;\n' +
        '# otherwise add {"Authorization": "Bearer <token>"} under Headers. Try:\n' +
        '{\n  me {\n    username\n    policies\n  }\n}\n'
      }
    />
  </StrictMode>,
);
