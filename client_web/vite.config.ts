import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import preact from "@preact/preset-vite";
import { defineConfig, type Plugin } from "vite";

const require = createRequire(import.meta.url);
const nhsukDist = dirname(require.resolve("nhsuk-frontend/dist/nhsuk/nhsuk-frontend.min.css"));

/**
 * nhsuk-frontend's stylesheet refers to its icons by absolute URL (/assets/images/*.svg), which
 * Vite cannot rewrite. Emit those files at exactly that path so the same-origin URLs resolve
 * (CSP `img-src 'self'`).
 */
function nhsukImages(): Plugin {
  const icons = [
    "nhsuk-icon-arrow-down.svg",
    "nhsuk-icon-arrow-up-down.svg",
    "nhsuk-icon-arrow-up.svg",
    "nhsuk-icon-cross.svg",
  ];
  return {
    name: "dermline-nhsuk-images",
    apply: "build",
    generateBundle() {
      for (const name of icons) {
        this.emitFile({
          type: "asset",
          fileName: `assets/images/${name}`,
          source: readFileSync(join(nhsukDist, "assets", "images", name)),
        });
      }
    },
  };
}

/**
 * nhsuk-frontend's stylesheet loads the Frutiger web fonts from https://assets.nhs.uk. Under
 * the server's CSP (font-src 'self') those requests are refused, and a clinical app should not
 * tell a third party when it is opened anyway, so the @font-face rules are dropped and the
 * design system's own fallback stack (Arial) is used.
 */
function dropRemoteFonts(): Plugin {
  return {
    name: "dermline-drop-remote-fonts",
    enforce: "pre",
    transform(code, id) {
      if (!id.includes("nhsuk-frontend") || !id.split("?")[0]!.endsWith(".css")) return null;
      const out = code.replace(/@font-face\s*\{[^}]*assets\.nhs\.uk[^}]*\}/g, "");
      return { code: out, map: null };
    },
  };
}

// The server serves dist/ under a strict CSP (script-src 'self'; style-src 'self'), so the
// build must not inline any script or style: the modulepreload polyfill is off (it would be an
// inline script) and assetsInlineLimit is 0 (no data: URLs). File names carry content hashes
// so they can be cached immutably.
export default defineConfig({
  plugins: [preact({ prerender: { enabled: false } }), nhsukImages(), dropRemoteFonts()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    assetsInlineLimit: 0,
    // nhsuk-frontend ships minified CSS containing an IE hack (`@media screen\0`) that
    // lightningcss refuses to re-minify; the input is already minified, so skip that step.
    cssMinify: false,
    sourcemap: false,
    modulePreload: { polyfill: false },
    rollupOptions: {
      output: {
        entryFileNames: "assets/[name]-[hash].js",
        chunkFileNames: "assets/[name]-[hash].js",
        assetFileNames: "assets/[name]-[hash][extname]",
      },
    },
  },
});
