import { defineConfig } from 'vitest/config';

// Assets are served by the tianshu binary at /assets/; `npm run dev` proxies the API to a
// tianshu on :9090.
export default defineConfig({
  base: '/',
  build: { target: 'es2020', sourcemap: false, chunkSizeWarningLimit: 1000 },
  server: {
    proxy: { '/api': 'http://127.0.0.1:9090' },
  },
  test: { include: ['src/**/*.test.ts'], environment: 'node' },
});
