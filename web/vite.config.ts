import { defineConfig } from 'vitest/config';
import react from '@vitejs/plugin-react';

// The bundle is embedded into the `distribox` binary (api/src/http/web.rs), which serves it on
// its one port: every asset comes from here, nothing from a CDN. `npm run dev` proxies the API
// to a `distribox serve` on :3000.
export default defineConfig({
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    // Read by bench/budgets.mjs to sum what the dashboard's first load fetches.
    manifest: true,
    chunkSizeWarningLimit: 1500,
    rollupOptions: {
      input: { main: 'index.html', graphiql: 'graphiql.html' },
    },
  },
  server: {
    proxy: {
      '/graphql': { target: 'http://127.0.0.1:3000', ws: true },
      '/console/ws': { target: 'http://127.0.0.1:3000', ws: true },
      '/healthz': 'http://127.0.0.1:3000',
      '/usage/export': 'http://127.0.0.1:3000',
      '/images/upload': 'http://127.0.0.1:3000',
    },
  },
  test: {
    include: ['tests/unit/**/*.test.{ts,tsx}'],
    environment: 'jsdom',
    setupFiles: ['tests/unit/setup.ts'],
  },
});
