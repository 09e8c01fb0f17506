/**
 * Invite a person to a role in one organisation (POST /api/v1/orgs/ORG/invites). The answer's
 * token is shown ONCE, as the link `ORIGIN/#/invite/TOKEN` (a fragment never reaches server
 * logs, docs/api.md): the server keeps only its hash, so the link cannot be shown again. It
 * works once and expires (DERMLINE_INVITE_TTL). Roles offered are those the organisation's
 * kind allows (server/domain/policy.py ROLES_BY_KIND); the server checks again.
 *
 * The link is also drawn as a QR code (so the person can open it on their phone from the
 * admin's screen), made here by @paulmillr/qr (no dependencies, loaded only on this page) as an
 * SVG shown through an <img> data URL, like the TOTP code: an <img> never runs script, and
 * the CSP allows `img-src data:`.
 */
import type { JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import type { Api, CreatedInvite } from "../api";
import { BackLink, Button, ErrorSummary, type FieldError, Radios, TextInput, usePageTitle } from "../components";
import { emailError } from "../validation";
import { createCertifiedInvite } from "../orgKeyAdmin";
import type { PinStore } from "../pins";
import type { UnlockedKeys } from "../session";
import { qrDataUrl } from "./TotpSetup";
import { LoadError, Panel, ROLES_BY_KIND, adminErrorMessage, roleLabel, useAdministered } from "./AdminCommon";

const ROLE_HINTS: Record<string, string> = {
  gp: "Sends cases from the practice",
  dermatologist: "Works the service's triage queue and answers cases",
  records_officer: "Keeps the records key file; approves audit exports and account recovery",
  admin: "Creates organisations and invites people",
  auditor: "Receives exports of closed cases and service figures",
};

export function inviteLink(origin: string, token: string): string {
  return `${origin}/#/invite/${token}`;
}

function expiryText(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "in 7 days";
  return `on ${d.toLocaleDateString("en-GB", { day: "numeric", month: "long", year: "numeric" })} at ${d.toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit" })}`;
}

export function AdminInvite({ api, orgId, keys = null, pins = null }: { api: Api; orgId: string; keys?: UnlockedKeys | null; pins?: PinStore | null }): JSX.Element {
  const { data, error: loadError } = useAdministered(api);
  const org = data?.orgs.find((o) => o.orgId === orgId) ?? null;
  const [role, setRole] = useState("");
  const [email, setEmail] = useState("");
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [busy, setBusy] = useState(false);
  const [invite, setInvite] = useState<CreatedInvite | null>(null);
  const [copied, setCopied] = useState<string | null>(null);
  const linkRef = useRef<HTMLInputElement>(null);
  const headingRef = useRef<HTMLHeadingElement>(null);
  const [qr, setQr] = useState<string | null>(null);
  usePageTitle(invite ? "Invitation created" : org ? `Invite a person to ${org.name}` : "Invite a person", errors.length > 0);
  const err = (f: string) => errors.find((e) => e.field === f)?.message ?? null;
  useEffect(() => {
    if (invite) headingRef.current?.focus();
    setQr(null);
    if (!invite) return;
    let live = true;
    // Quiet zone of 4 modules and level M, as ISO/IEC 18004 recommends for screens.
    import("@paulmillr/qr").then(
      (m) => {
        const svg = m.default(inviteLink(window.location.origin, invite.token), "svg", { ecc: "medium", border: 4 });
        // One rect per module: crisp edges, or anti-aliasing draws hairlines between them.
        if (live) setQr(qrDataUrl(svg.replace(/^<svg\b/, '<svg shape-rendering="crispEdges"')));
      },
      () => undefined, // no QR code: the link and the copy button still work
    );
    return () => {
      live = false;
    };
  }, [invite]);

  async function submit(ev: Event) {
    ev.preventDefault();
    const found: FieldError[] = [];
    if (!role) found.push({ field: "role", message: "Select the person's role" });
    if (email.trim()) {
      const e = emailError(email);
      if (e) found.push({ field: "invite-email", message: e });
    }
    setErrors(found);
    if (found.length > 0) return;
    setBusy(true);
    try {
      if (org?.orgKeyId && keys && pins) {
        // The organisation has a key: the invite is certified with it, and the link carries
        // the secret and the key's id in its fragment (docs/protocol.md section 21).
        const c = await createCertifiedInvite(api, keys, pins, org, role, email.trim() || null);
        setInvite({ token: c.fragment, orgId: c.orgId, role: c.role, expiresAt: c.expiresAt });
      } else {
        setInvite(await api.invite(orgId, role, email.trim() || null));
      }
      setCopied(null);
    } catch (x) {
      // A check of the organisation key failed (a plain Error with its reason), or the server refused.
      setErrors([{ field: "role", message: x instanceof Error && x.name === "Error" ? x.message : adminErrorMessage(x) }]);
    } finally {
      setBusy(false);
    }
  }

  async function copy(link: string) {
    try {
      await navigator.clipboard.writeText(link);
      setCopied("The link is copied. Paste it into a message to the person.");
    } catch {
      // No clipboard permission (or no secure context): select it for a manual copy.
      linkRef.current?.select();
      setCopied("Copying is not allowed here. The link is selected: copy it with your device's copy command.");
    }
  }

  if (data && !org) {
    return (
      <>
        <BackLink href="#/admin">Back to administration</BackLink>
        <h1>Invite a person</h1>
        <LoadError message="You do not administer this organisation, or it does not exist." />
      </>
    );
  }

  if (invite && org) {
    const link = inviteLink(window.location.origin, invite.token);
    return (
      <>
        <h1 tabIndex={-1} ref={headingRef}>
          Invitation created
        </h1>
        <Panel title={`${roleLabel(invite.role)} in ${org.name}`} testId="invite-created" />
        <div class="nhsuk-form-group">
          <label class="nhsuk-label" for="invite-link">
            Invitation link
          </label>
          <div class="nhsuk-hint" id="invite-link-hint">
            Shown only this once. It works once and expires {expiryText(invite.expiresAt)}.
          </div>
          <input class="nhsuk-input" id="invite-link" ref={linkRef} type="text" readOnly value={link} aria-describedby="invite-link-hint" spellcheck={false} onFocus={(e) => e.currentTarget.select()} />
        </div>
        <Button type="button" onClick={() => void copy(link)}>
          Copy link
        </Button>
        {copied && (
          <p role="status" data-testid="copy-status">
            {copied}
          </p>
        )}
        {qr && (
          <>
            <p>If the person is with you, they can scan this code with their phone's camera instead.</p>
            <img class="dl-qr" src={qr} width={220} height={220} alt="QR code of the invitation link" data-testid="invite-qr" />
          </>
        )}
        <p>
          Send it by a way you trust, such as NHSmail to the person's own address. Anyone who has the link can use it to create the account.
          {invite.role === "gp" && !org.recordsPublicKey ? " This practice has no records key yet: the GP cannot send cases until it has one." : ""}
        </p>
        <div class="nhsuk-button-group">
          <Button
            type="button"
            secondary
            onClick={() => {
              setInvite(null);
              setRole("");
              setEmail("");
            }}
          >
            Invite someone else
          </Button>
          <a class="nhsuk-button nhsuk-button--secondary" href={`#/admin/orgs/${orgId}`} role="button" draggable={false}>
            Back to people
          </a>
        </div>
      </>
    );
  }

  const roles = org ? (ROLES_BY_KIND[org.kind] ?? []) : [];
  return (
    <>
      <BackLink href={`#/admin/orgs/${orgId}`}>Back</BackLink>
      <ErrorSummary errors={errors} />
      <h1>{org ? `Invite a person to ${org.name}` : "Invite a person"}</h1>
      <LoadError message={loadError} />
      {!org ? (
        !loadError && <p>Loading…</p>
      ) : (
        <form onSubmit={submit} noValidate>
          <Radios id="role" legend="Role" options={roles.map((r) => [r, `${roleLabel(r)}: ${ROLE_HINTS[r] ?? ""}`])} value={role} onChange={setRole} error={err("role")} />
          <TextInput
            id="invite-email"
            label="Their email address (optional)"
            hint="If you give it, only this email address can be used with the invitation."
            type="email"
            inputMode="email"
            autocomplete="off"
            value={email}
            onInput={setEmail}
            error={err("invite-email")}
          />
          <Button disabled={busy}>{busy ? "Creating the invitation…" : "Create invitation link"}</Button>
        </form>
      )}
    </>
  );
}
