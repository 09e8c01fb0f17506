// Entry point. The NHS.UK frontend stylesheet is bundled by Vite into a hashed CSS file (no
// inline <style>, so the server's CSP `style-src 'self'` holds).
import "nhsuk-frontend/dist/nhsuk/nhsuk-frontend.min.css";
import "./app/app.css";
import { render } from "preact";
import { App } from "./app/App";
import { httpApi } from "./app/api";

const root = document.getElementById("app");
if (root === null) {
  throw new Error("missing #app root element");
}
// nhsuk-frontend styles enhanced elements only when this class is present.
document.body.classList.add("js-enabled", "nhsuk-frontend-supported");
render(<App api={httpApi()} />, root);

// The service worker caches the application shell only (public/sw.js). Service workers need a
// secure context (https, or localhost in development).
if ("serviceWorker" in navigator && window.isSecureContext) {
  navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => {
    // No offline shell; the app still works online. Nothing sensitive to report.
  });
}
