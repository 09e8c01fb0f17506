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

/*
 * Web Push (docs/architecture.md, "Notifications"). The server's push holds, encrypted to
 * this browser (RFC 8291), {"v":1,"title":"Dermline","body":<one fixed sentence>,"n":<count>}:
 * no case, no name, no content. Only the sentences below are ever shown; anything else
 * shows the first one, so even a forged push cannot put words on the lock screen. Tag
 * "dermline": a newer notice replaces the older one (and the page's own notification).
 */
const NOTICES = [
  "A new reply in one of your cases",
  "A new case is waiting in your service's queue",
  "One of your cases has changed",
];

self.addEventListener("push", (event) => {
  let body = NOTICES[0];
  try {
    const data = event.data ? event.data.json() : null;
    if (data && NOTICES.includes(data.body)) body = data.body;
  } catch {
    // not JSON: the generic sentence
  }
  event.waitUntil(
    self.registration.showNotification("Dermline", {
      body,
      tag: "dermline",
      renotify: true,
      icon: "/icons/icon-192.png",
      badge: "/icons/icon-192.png",
    }),
  );
});

// A tap on the notification: bring an open Dermline tab forward, else open one.
self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((wins) => {
      const own = wins.find((w) => new URL(w.url).origin === self.location.origin);
      if (own) return own.focus();
      return self.clients.openWindow("/#/cases");
    }),
  );
});
