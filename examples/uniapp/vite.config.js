// uni-app (Vue 3 + Vite). `wxpay-client/vite` writes the wasm core into static/wxpay/ of the
// build output: uni does not copy .wasm files from node_modules, and the mp-weixin build
// needs the .wasm.br inside the code package for WXWebAssembly.
import { defineConfig } from 'vite';
import uni from '@dcloudio/vite-plugin-uni';
import wxpay from 'wxpay-client/vite';

export default defineConfig({
  plugins: [uni(), wxpay()],
});
