/**
 * Browser entry of the interop dispatcher: built by `vite.interop-page.config.ts` into
 * dist-node/interop-page.js (one classic script) and loaded by `interop.mjs --chromium` into a
 * page of headless Chromium, so the Python suite runs the port on Chromium's WebCrypto
 * (BoringSSL), the engine users have, and not only on Node's (OpenSSL).
 */
import { OPERATIONS, dispatch } from "./dispatch";

(globalThis as unknown as { dermlineInterop: unknown }).dermlineInterop = { dispatch, OPERATIONS };
