// uni-app (Vue 3 + Vite), laid out as DCloud's template (a CommonJS project: Vite bundles this
// config as CommonJS, and `wxpay-client/vite` ships a CommonJS build for it).
// `wxpay-client/vite` writes the wasm core into static/wxpay/ of the build output (uni does
// not copy .wasm files from node_modules, and the mp-weixin build needs the .wasm.br inside
// the code package for WXWebAssembly); for mp-weixin and H5 builds it also leaves out the
// pure-JS core that only the App needs.
import { defineConfig } from 'vite';
import uni from '@dcloudio/vite-plugin-uni';
import wxpay from 'wxpay-client/vite';

export default defineConfig({
  plugins: [uni(), wxpay()],
});
