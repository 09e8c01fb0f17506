// Administration pages for `npm run check:a11y` (scripts/a11y.mjs runs these states like its
// own, at 360x640 and 1280x800). The admin pages need a signed-in, UNLOCKED session, so the
// stubbed API answers with real key material made once by the Python client
// (`client_py.identity.enrol`): the page derives the key with PBKDF2 and unwraps the USK
// exactly as against a live server. Every other answer is canned. `npm run e2e`
// (scripts/e2e-admin.mjs) drives the same pages against a live server.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const repo = fileURLToPath(new URL("../..", import.meta.url));
const PASSWORD = "a11y administrator password";
const ME = JSON.parse(
  execFileSync(
    join(repo, ".venv", "bin", "python"),
    [
      "-c",
      "import base64, json, sys\nfrom client_py.identity import enrol\n" +
        "e = enrol(sys.argv[1])\nb = lambda v: base64.urlsafe_b64encode(v).rstrip(b'=').decode()\n" +
        "print(json.dumps({k: (v if isinstance(v, str) else b(v)) for k, v in e.request.items() if k not in ('auth_key', 'recovery_wrapped_usk')}))",
      PASSWORD,
    ],
    { cwd: repo },
  ).toString(),
);
const PRACTICE = "11111111-1111-4111-8111-111111111111";
const SERVICE = "22222222-2222-4222-8222-222222222222";
const ADMIN_ORG = "33333333-3333-4333-8333-333333333333";
const GP_ID = "44444444-4444-4444-8444-444444444444";
const memberships = [
  { org_id: ADMIN_ORG, role: "admin" },
  { org_id: PRACTICE, role: "admin" },
  { org_id: SERVICE, role: "admin" },
];
const me = {
  ...ME,
  display_name: "Ada Admin",
  login_name: "admin@example.nhs.uk",
  memberships,
  totp_enrolled: true,
};
const orgs = [
  { org_id: ADMIN_ORG, kind: "practice", name: "Administration", records_public_key: null },
  { org_id: PRACTICE, kind: "practice", name: "Riverside Surgery", records_public_key: ME.encryption_public_key },
  { org_id: SERVICE, kind: "service", name: "City Dermatology", records_public_key: null },
];
const user = (id, name, login, role, extra = {}) => ({
  user_id: id,
  display_name: name,
  login_name: login,
  memberships: [{ org_id: PRACTICE, role }],
  encryption_public_key: ME.encryption_public_key,
  signing_public_key: ME.signing_public_key,
  totp_enrolled: true,
  locked: false,
  disabled: false,
  ...extra,
});
const users = [
  user(ME.user_id, "Ada Admin", "admin@example.nhs.uk", "admin"),
  user(GP_ID, "Dr Grace Practitioner", "gp@riverside.nhs.uk", "gp"),
  user("55555555-5555-4555-8555-555555555555", "Rob Records", "records@riverside.nhs.uk", "records_officer", { totp_enrolled: false }),
  user("66666666-6666-4666-8666-666666666666", "Lee Locked", "locked@riverside.nhs.uk", "gp", { locked: true }),
];

// One invitation in each status (GET /orgs/ID/invites): the people page lists them.
const invite = (n, status, role, login, extra = {}) => ({
  invite_id: String(n).repeat(64),
  org_id: PRACTICE,
  role,
  login_name: login,
  created_at: `2026-11-2${n}T09:30:00+00:00`,
  expires_at: `2026-12-0${n}T09:30:00+00:00`,
  created_by: ME.user_id,
  used_at: null,
  revoked_at: null,
  status,
  ...extra,
});
const invites = [
  invite(4, "pending", "gp", "new.gp@riverside.nhs.uk"),
  invite(3, "pending", "records_officer", null),
  invite(2, "used", "gp", null, { used_at: "2026-11-22T10:00:00+00:00" }),
  invite(1, "revoked", "auditor", "audit@example.org", { revoked_at: "2026-11-21T10:00:00+00:00" }),
  invite(5, "expired", "admin", null, { created_at: "2026-10-01T09:30:00+00:00", expires_at: "2026-10-08T09:30:00+00:00" }),
];

/** The stubbed API for the admin states (page.route handler). */
export async function adminApi(r) {
  const req = r.request();
  const path = new URL(req.url()).pathname.replace(/^\/api\/v1/, "");
  const json = (body, status = 200) => r.fulfill({ status, contentType: "application/json", body: JSON.stringify(body) });
  if (path === "/auth/prelogin") return json({ kdf_params: ME.kdf_params });
  if (path === "/auth/login") return json({ next: "done", csrf_token: "csrf" });
  if (path === "/me") return json(me);
  if (path === "/cases") return json({ cases: [] });
  if (path === "/orgs" && req.method() === "GET") return json({ organisations: orgs });
  if (path === `/orgs/${PRACTICE}/users`) return json({ users });
  if (path.endsWith("/invites") && req.method() === "GET") return json({ invites: path === `/orgs/${PRACTICE}/invites` ? invites : [] });
  if (path.endsWith("/invites")) {
    return json({ token: "a11yInviteTokenA11yInviteTokenA11yInviteTok", org_id: PRACTICE, role: req.postDataJSON().role, expires_at: "2026-12-05T09:30:00+00:00" }, 201);
  }
  // Notification settings (the app reads them once signed in) and the directory (the records
  // key banner and the organisation key page read it); an answer without a key-log head is what
  // a server before the log gave, which the pages show without a warning.
  if (path === "/notifications/settings") return json({ sound: false, email: false, email_available: false, subscriptions: [] });
  const dir = /^\/orgs\/([^/]+)\/directory$/.exec(path);
  const dirOrg = dir && orgs.find((o) => o.org_id === dir[1]);
  if (dirOrg) return json({ org: { ...dirOrg, org_key: null, records_keys: [] }, members: [], removals: [] });
  return json({ error: { code: "not_found", message: "x" } }, 404);
}

async function signIn(p, hash) {
  // No live socket here: a mocked WebSocket that never answers keeps Socket.IO quiet.
  // Playwright mocks WebSockets through a script injected at page load: reload after routing.
  await p.routeWebSocket((url) => url.pathname.startsWith("/socket.io/"), () => undefined);
  await p.reload();
  await p.getByLabel("Email address").fill("admin@example.nhs.uk");
  await p.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await p.getByRole("button", { name: "Continue" }).click();
  await p.getByTestId("admin-entry").waitFor({ timeout: 30000 });
  await p.evaluate((h) => (location.hash = h), hash);
}

const practiceForm = async (p) => {
  await signIn(p, "#/admin/practices/new");
  await p.getByLabel("Name of the GP practice").fill("Riverside Surgery");
  await p.getByLabel("Passphrase for the records key file").fill("records officer's long passphrase");
  await p.getByLabel("Enter the passphrase again").fill("records officer's long passphrase");
  await p.getByRole("button", { name: "Make the records key" }).click();
  await p.getByTestId("records-fingerprint").waitFor({ timeout: 30000 });
};

export const ADMIN_STATES = [
  {
    name: "admin-home",
    route: "#/login",
    api: adminApi,
    steps: async (p) => {
      await signIn(p, "#/admin");
      await p.getByTestId("admin-orgs").waitFor();
    },
  },
  {
    name: "admin-practice-errors",
    route: "#/login",
    api: adminApi,
    errors: true,
    steps: async (p) => {
      await signIn(p, "#/admin/practices/new");
      await p.getByRole("button", { name: "Make the records key" }).click();
      await p.getByText("There is a problem").waitFor();
    },
  },
  { name: "admin-practice-save-key", route: "#/login", api: adminApi, steps: practiceForm },
  {
    name: "admin-practice-not-saved",
    route: "#/login",
    api: adminApi,
    errors: true,
    steps: async (p) => {
      await practiceForm(p);
      await p.getByRole("button", { name: "Create the practice" }).click();
      await p.getByText("There is a problem").waitFor();
    },
  },
  {
    name: "admin-service-errors",
    route: "#/login",
    api: adminApi,
    errors: true,
    steps: async (p) => {
      await signIn(p, "#/admin/services/new");
      await p.getByRole("button", { name: "Create service" }).click();
      await p.getByText("There is a problem").waitFor();
    },
  },
  {
    name: "admin-invite-errors",
    route: "#/login",
    api: adminApi,
    errors: true,
    steps: async (p) => {
      await signIn(p, `#/admin/orgs/${PRACTICE}/invite`);
      await p.getByLabel("Their email address (optional)").fill("not an email");
      await p.getByRole("button", { name: "Create invitation link" }).click();
      await p.getByText("There is a problem").waitFor();
    },
  },
  {
    name: "admin-invite-link",
    route: "#/login",
    api: adminApi,
    steps: async (p) => {
      await signIn(p, `#/admin/orgs/${PRACTICE}/invite`);
      await p.getByLabel(/^GP:/).check();
      await p.getByRole("button", { name: "Create invitation link" }).click();
      await p.getByTestId("invite-created").waitFor();
    },
  },
  {
    name: "admin-people-confirm",
    route: "#/login",
    api: adminApi,
    steps: async (p) => {
      await signIn(p, `#/admin/orgs/${PRACTICE}`);
      await p.getByTestId("admin-people").waitFor();
      await p.getByRole("button", { name: "Reset two-factor authentication: Dr Grace Practitioner" }).click();
      await p.getByTestId("admin-confirm").waitFor();
    },
  },
  {
    name: "admin-invite-cancel-confirm",
    route: "#/login",
    api: adminApi,
    steps: async (p) => {
      await signIn(p, `#/admin/orgs/${PRACTICE}`);
      await p.getByTestId("invite-list").waitFor();
      await p.getByRole("button", { name: "Cancel invite: GP for new.gp@riverside.nhs.uk" }).click();
      await p.getByTestId("invite-confirm").waitFor();
    },
  },
  {
    name: "admin-records-key-missing",
    route: "#/login",
    api: adminApi,
    steps: async (p) => {
      await signIn(p, `#/admin/orgs/${ADMIN_ORG}/records-key`);
      await p.getByLabel("Passphrase for the records key file").waitFor();
    },
  },
];
