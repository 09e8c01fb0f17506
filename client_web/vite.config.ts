import { createHash } from "node:crypto";
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, extname, join } from "node:path";
import { brotliCompressSync, constants as zlib, gzipSync } from "node:zlib";
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

/**
 * Subresource Integrity (docs/threat-model.md): every `<script src>`, `<link rel=stylesheet>` and
 * `<link rel=modulepreload>` of the built index.html gets `integrity="sha384-..."` (the hash of
 * the file as written, which is what the browser checks after undoing any Content-Encoding)
 * and `crossorigin`. A chunk that the code loads with `import()` (the QR code library, Node
 * shims) cannot carry a hash in the `import()` itself, so each JavaScript file not already in
 * the page is preloaded here with its hash: the module map then holds the checked module and
 * the later `import()` uses it. Runs on the written files, before `precompress` (order "pre").
 * tests/client_web/test_subresource_integrity.py checks the result; scripts/e2e-sri.mjs checks
 * in Chromium that a changed byte is refused.
 */
function subresourceIntegrity(): Plugin {
  let outDir = "dist";
  const sri = (path: string) => `sha384-${createHash("sha384").update(readFileSync(path)).digest("base64")}`;
  const local = (url: string) => join(outDir, url.replace(/^\//, ""));
  return {
    name: "dermline-subresource-integrity",
    apply: "build",
    configResolved(config) {
      outDir = config.build.outDir;
    },
    writeBundle: {
      order: "pre",
      handler(_options, bundle) {
        const indexPath = join(outDir, "index.html");
        let html = readFileSync(indexPath, "utf8");
        const tag = /<(script|link)\b[^>]*>/g;
        const attr = (t: string, name: string) => new RegExp(`\\s${name}=["']([^"']+)["']`).exec(t)?.[1];
        const inPage = new Set<string>();
        html = html.replace(tag, (t, kind: string) => {
          const url = kind === "script" ? attr(t, "src") : attr(t, "href");
          const rel = (attr(t, "rel") ?? "").toLowerCase().split(/\s+/);
          const loadsCode = kind === "script" || rel.includes("stylesheet") || rel.includes("modulepreload");
          if (!url || !loadsCode || !url.startsWith("/") || /\sintegrity=/.test(t)) return t;
          inPage.add(url);
          const extra = `${/\scrossorigin\b/.test(t) ? "" : " crossorigin"} integrity="${sri(local(url))}"`;
          return t.replace(/\s*\/?>$/, (end) => `${extra}${end}`);
        });
        const preloads = Object.keys(bundle)
          .filter((name) => name.endsWith(".js") && !inPage.has(`/${name}`))
          .sort()
          .map((name) => `    <link rel="modulepreload" crossorigin href="/${name}" integrity="${sri(local(name))}">\n`)
          .join("");
        html = html.replace(/( *)<\/head>/, (_m, indent: string) => `${preloads}${indent}</head>`);
        writeFileSync(indexPath, html);
      },
    },
  };
}

/**
 * Pre-compressed copies of every text file of the build (`x.js.br`, `x.js.gz` beside `x.js`).
 * The server's static handler (aiohttp FileResponse) sends the `.br` or `.gz` sibling when the
 * browser accepts that encoding, so a phone on a slow connection downloads about a third of
 * the bytes, and nothing is compressed per request. Files under 1 KiB are left alone. The
 * server never sends a copy older than its file (server/static.py).
 */
function precompress(): Plugin {
  const text = new Set([".js", ".css", ".html", ".svg", ".json", ".webmanifest"]);
  let outDir = "dist";
  const walk = (dir: string): string[] =>
    readdirSync(dir).flatMap((name) => {
      const path = join(dir, name);
      return statSync(path).isDirectory() ? walk(path) : [path];
    });
  return {
    name: "dermline-precompress",
    apply: "build",
    configResolved(config) {
      outDir = config.build.outDir;
    },
    writeBundle: {
      order: "post", // after subresourceIntegrity has written index.html
      handler() {
        for (const path of walk(outDir)) {
          if (!text.has(extname(path))) continue;
          const data = readFileSync(path);
          if (data.length < 1024) {
            // No copy, and none left from an earlier build: the server would send it instead.
            rmSync(`${path}.gz`, { force: true });
            rmSync(`${path}.br`, { force: true });
            continue;
          }
          writeFileSync(`${path}.gz`, gzipSync(data, { level: 9 }));
          writeFileSync(
            `${path}.br`,
            brotliCompressSync(data, { params: { [zlib.BROTLI_PARAM_QUALITY]: 11, [zlib.BROTLI_PARAM_SIZE_HINT]: data.length } }),
          );
        }
      },
    },
  };
}

// The server serves dist/ under a strict CSP (script-src 'self'; style-src 'self'), so the
// build must not inline any script or style: the modulepreload polyfill is off (it would be an
// inline script) and assetsInlineLimit is 0 (no data: URLs). File names carry content hashes
// so they can be cached immutably.
export default defineConfig({
  plugins: [preact({ prerender: { enabled: false } }), nhsukImages(), dropRemoteFonts(), subresourceIntegrity(), precompress()],
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
