// The console is served by the appliance under /console/, from files embedded in the binary:
// everything is bundled (no CDN, no external font), nothing is inlined into the page (the
// Content-Security-Policy allows scripts and styles only from files of this origin), and the
// output depends on the sources alone, so CI can rebuild it and compare with the commit.
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/console/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    cssCodeSplit: false,
    reportCompressedSize: false,
  },
});
