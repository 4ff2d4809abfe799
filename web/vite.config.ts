/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// `npm run dev` proxies the API and the SFU to a local `xcord serve` (make run).
export default defineConfig({
  plugins: [react()],
  // livekit-client alone is about 600 kB minified
  build: { outDir: 'dist', sourcemap: false, chunkSizeWarningLimit: 1024 },
  server: {
    proxy: {
      '/api': { target: 'http://127.0.0.1:7880', ws: true },
      '/rtc': { target: 'ws://127.0.0.1:7880', ws: true },
    },
  },
  test: { environment: 'node', include: ['src/**/*.test.ts'] },
});
