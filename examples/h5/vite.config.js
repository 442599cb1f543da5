// Vite configuration of the H5 demo.
//
// `npm run build` writes dist/, which wxpay-server serves at / in its demo (--demo).
// `npm run dev` serves the page with hot reload and forwards /api to a wxpay-server on :8080
// (start one with `cargo run -p wxpay-server`).
import { defineConfig } from 'vite';

export default defineConfig({
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2020',
  },
  // The package loads its .wasm next to its own module; pre-bundling would move the module
  // away from the file.
  optimizeDeps: { exclude: ['wxpay-client'] },
  server: {
    proxy: { '/api': 'http://127.0.0.1:8080' },
  },
});
