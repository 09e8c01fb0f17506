/*
 * Dermline service worker: caches the APPLICATION SHELL ONLY (issue 5, "Phone first").
 *
 * Cached: the start page ("/", network first so a new release is picked up), the hashed build
 * assets under /assets/ (immutable: their names change with their content), the icons and the
 * manifest. Never cached or even intercepted: /api/*, /socket.io/*, blobs, anything that is
 * not a same-origin GET of those paths. Clinical data therefore never lands in Cache Storage
 * (it is end-to-end encrypted anyway, but a shared device must not keep even ciphertext).
 */
const CACHE = "dermline-shell-v1";
const SHELL = ["/", "/manifest.webmanifest", "/icons/icon-192.png", "/icons/icon-512.png"];

function isShell(url) {
  return (
    url.origin === self.location.origin &&
    (url.pathname === "/" ||
      url.pathname === "/index.html" ||
      url.pathname === "/manifest.webmanifest" ||
      url.pathname.startsWith("/assets/") ||
      url.pathname.startsWith("/icons/"))
  );
}

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const req = event.request;
  if (req.method !== "GET") return;
  const url = new URL(req.url);
  if (!isShell(url)) return; // not ours: straight to the network, never cached
  if (req.mode === "navigate" || url.pathname === "/" || url.pathname === "/index.html") {
    // Network first for the page itself, the cached shell when offline.
    event.respondWith(
      fetch(req)
        .then((res) => {
          if (res.ok) {
            const copy = res.clone();
            caches.open(CACHE).then((c) => c.put("/", copy));
          }
          return res;
        })
        .catch(() => caches.match("/")),
    );
    return;
  }
  // Hashed assets and icons: cache first.
  event.respondWith(
    caches.match(req).then(
      (hit) =>
        hit ??
        fetch(req).then((res) => {
          if (res.ok) {
            const copy = res.clone();
            caches.open(CACHE).then((c) => c.put(req, copy));
          }
          return res;
        }),
    ),
  );
});
