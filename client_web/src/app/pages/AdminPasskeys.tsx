import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import type { Api } from "../api";
import { BackLink, Button, Checkboxes, ErrorSummary, type FieldError, usePageTitle } from "../components";
import { passkeyPolicyApi } from "../passkeys";
import { ROLES_BY_KIND, adminErrorMessage, roleLabel, useAdministered } from "./AdminCommon";

const EVERYONE = "*";

/**
 * #/admin/orgs/ORG/passkeys: require passkeys of everyone in the organisation or of chosen
 * roles (docs/architecture.md "Passkeys"). People under a requirement who have no passkey add
 * one at their next sign-in, after their security code; then the security code is refused
 * for them (a passkey or a recovery code only).
 */
export function AdminPasskeys({ api, orgId }: { api: Api; orgId: string }): JSX.Element {
  const { data } = useAdministered(api);
  const org = data?.orgs.find((o) => o.orgId === orgId) ?? null;
  const [chosen, setChosen] = useState<Set<string> | null>(null);
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [status, setStatus] = useState("");
  const [busy, setBusy] = useState(false);
  usePageTitle("Passkey requirement", errors.length > 0);

  useEffect(() => {
    passkeyPolicyApi.get(orgId).then(
      (p) => setChosen(new Set(p.everyone ? [EVERYONE, ...p.roles] : p.roles)),
      (e) => setErrors([{ field: "required", message: adminErrorMessage(e) }]),
    );
  }, [orgId]);

  async function save(ev: Event) {
    ev.preventDefault();
    if (chosen === null) return;
    setBusy(true);
    try {
      const p = await passkeyPolicyApi.set(orgId, chosen.has(EVERYONE), [...chosen].filter((r) => r !== EVERYONE));
      setErrors([]);
      setStatus(
        p.everyone
          ? "Everyone in this organisation must now use a passkey."
          : p.roles.length
            ? `Passkeys are now required for: ${p.roles.map(roleLabel).join(", ")}.`
            : "Passkeys are no longer required. People may use a security code or a passkey.",
      );
    } catch (e) {
      setErrors([{ field: "required", message: adminErrorMessage(e) }]);
    } finally {
      setBusy(false);
    }
  }

  const roles = org ? (ROLES_BY_KIND[org.kind] ?? []) : [];
  return (
    <>
      <BackLink href={`#/admin/orgs/${orgId}`}>Back to the organisation</BackLink>
      <ErrorSummary errors={errors} />
      <h1>Passkey requirement{org ? `: ${org.name}` : ""}</h1>
      <p>
        A passkey cannot be used on a fake website, so people who must use one cannot be tricked into giving away their
        sign-in. People without a passkey add one the next time they sign in.
      </p>
      <div role="status" aria-live="polite" data-testid="passkey-policy-status">
        {status && <p class="nhsuk-body nhsuk-u-font-weight-bold">{status}</p>}
      </div>
      {chosen !== null && (
        <form onSubmit={save} noValidate>
          <Checkboxes
            id="required"
            legend="Who must sign in with a passkey"
            hint="The security code from an authenticator app is then refused for them; recovery codes still work."
            options={[[EVERYONE, "Everyone in this organisation"], ...roles.map((r): [string, string] => [r, roleLabel(r)])]}
            value={chosen}
            onChange={setChosen}
          />
          <Button disabled={busy}>Save requirement</Button>
        </form>
      )}
    </>
  );
}
