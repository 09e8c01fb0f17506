// The patient's photo page (#/p/<token>.<public key>) for `npm run check:a11y`
// (scripts/a11y.mjs runs these states like its own, at 360x640 and 1280x800). The link check is
// stubbed; `npm run e2e` (scripts/e2e-accounts.mjs step 9) drives the same page against a live
// server, through to sending photos.
import { generateKeyPairSync, randomBytes } from "node:crypto";

const { publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
const jwk = publicKey.export({ format: "jwk" });
const point = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x, "base64url"), Buffer.from(jwk.y, "base64url")]);
// 32 random bytes whose base64url form ends with a character that leaves the spare bits zero.
let token = randomBytes(32);
token[31] &= 0xfc;
const FRAGMENT = `${token.toString("base64url")}.${point.toString("base64url")}`;

function api(linkAnswer) {
  return (r) => {
    if (r.request().url().endsWith("/patient/link")) return linkAnswer(r);
    // Not signed in (the shell asks once on load): the same canned 503 as the other states.
    return r.fulfill({ status: 503, contentType: "application/json", body: JSON.stringify({ error: { code: "internal", message: "x" } }) });
  };
}
const valid = api((r) =>
  r.fulfill({
    status: 200,
    contentType: "application/json",
    body: JSON.stringify({ link_id: "0190a1b2-c3d4-4e5f-8a9b-0c1d2e3f4a5b", expires_at: "2026-12-01T09:00:00+00:00", max_photos: 6 }),
  }),
);
const used = api((r) => r.fulfill({ status: 410, contentType: "application/json", body: JSON.stringify({ error: { code: "link_invalid", message: "x" } }) }));

export const PATIENT_STATES = [
  {
    name: "patient-start",
    route: `#/p/${FRAGMENT}`,
    api: valid,
    steps: async (p) => {
      await p.getByRole("heading", { name: "Send photos to your GP practice" }).waitFor();
    },
  },
  {
    name: "patient-errors",
    route: `#/p/${FRAGMENT}`,
    api: valid,
    errors: true,
    steps: async (p) => {
      await p.getByRole("button", { name: "Send photos" }).click();
      await p.getByText("There is a problem").waitFor();
    },
  },
  {
    name: "patient-link-used",
    route: `#/p/${FRAGMENT}`,
    api: used,
    steps: async (p) => {
      await p.getByRole("heading", { name: "This link can no longer be used" }).waitFor();
    },
  },
  {
    name: "patient-link-mistyped",
    route: `#/p/${FRAGMENT.slice(0, -4)}`,
    api: valid,
    steps: async (p) => {
      await p.getByRole("heading", { name: "This link is not complete" }).waitFor();
    },
  },
];
