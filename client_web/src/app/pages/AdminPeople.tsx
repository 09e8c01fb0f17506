/**
 * One organisation's people (GET /api/v1/orgs/ORG/users, administrators of ORG): names, email
 * addresses, roles here, whether two-factor authentication is set up, whether the account is
 * locked. Two actions, each confirmed first because each is felt at once by the person:
 * "sign out everywhere" (POST /users/ID/revoke-sessions: every session ends, sockets close)
 * and "reset two-factor authentication" (POST /users/ID/reset-2fa, audited: their sessions
 * end and they set up an authenticator again at their next sign-in). Below the people, the
 * organisation's invitations (AdminInvites.tsx), where a pending one can be cancelled.
 */
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import type { AdminUser, Api } from "../api";
import { BackLink, Button, WarningCallout, usePageTitle } from "../components";
import { setUpOrgKey } from "../orgKeyAdmin";
import type { PinStore } from "../pins";
import type { UnlockedKeys } from "../session";
import { keyId } from "../cryptoFacade";
import { LoadError, adminErrorMessage, kindLabel, roleLabel, useAdministered, useConfirmStep } from "./AdminCommon";
import { AdminInvites } from "./AdminInvites";
import { recordsKeyFingerprint } from "./AdminRecordsKey";

type Action = "revoke" | "reset";

const ACTION_TEXT: Record<Action, { button: string; confirm: (n: string) => string; effect: string }> = {
  revoke: {
    button: "Sign out everywhere",
    confirm: (n) => `Sign ${n} out on every device?`,
    effect: "They stay able to sign in again with their password and authenticator app.",
  },
  reset: {
    button: "Reset two-factor authentication",
    confirm: (n) => `Reset two-factor authentication for ${n}?`,
    effect: "They are signed out everywhere and must set up their authenticator app again when they next sign in. Do this only after checking who asked.",
  },
};

export function AdminPeople({ api, orgId, keys = null, pins = null }: { api: Api; orgId: string; keys?: UnlockedKeys | null; pins?: PinStore | null }): JSX.Element {
  const [orgKeyReload, setOrgKeyReload] = useState(0);
  const { data, error: loadError } = useAdministered(api, orgKeyReload);
  const [orgKeyBusy, setOrgKeyBusy] = useState(false);
  const [orgKeyStatus, setOrgKeyStatus] = useState<string | null>(null);
  const org = data?.orgs.find((o) => o.orgId === orgId) ?? null;
  const [users, setUsers] = useState<AdminUser[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const { pending, setPending, status, setStatus, busy, setBusy, reload, bumpReload, confirmRef, statusRef } =
    useConfirmStep<{ user: AdminUser; action: Action }>();
  usePageTitle(org ? `People in ${org.name}` : "People");
  // The records key the server holds, as a fingerprint the records officer can compare with
  // their file (`dermline-client records-key check` prints the same string).
  const [fingerprint, setFingerprint] = useState<string | null>(null);
  const recordsKey = org?.recordsPublicKey ?? null;
  useEffect(() => {
    setFingerprint(null);
    if (!recordsKey) return;
    keyId(recordsKey).then(
      (id) => setFingerprint(recordsKeyFingerprint(id)),
      () => setFingerprint(null),
    );
  }, [recordsKey]);

  useEffect(() => {
    api.users(orgId).then(
      (u) => setUsers([...u].sort((a, b) => a.displayName.localeCompare(b.displayName))),
      (e) => setError(adminErrorMessage(e)),
    );
  }, [api, orgId, reload]);

  async function act() {
    if (!pending) return;
    setBusy(true);
    setError(null);
    const { user, action } = pending;
    try {
      if (action === "revoke") {
        const n = await api.revokeSessions(user.userId);
        setStatus(`${user.displayName} is signed out everywhere (${n} ${n === 1 ? "session" : "sessions"} ended).`);
      } else {
        await api.resetTotp(user.userId);
        setStatus(`Two-factor authentication for ${user.displayName} is reset. They set it up again when they next sign in.`);
      }
      setPending(null);
      bumpReload();
    } catch (e) {
      setError(adminErrorMessage(e));
    } finally {
      setBusy(false);
    }
  }

  if (data && !org) {
    return (
      <>
        <BackLink href="#/admin">Back to administration</BackLink>
        <h1>People</h1>
        <LoadError message="You do not administer this organisation, or it does not exist." />
      </>
    );
  }
  return (
    <>
      <BackLink href="#/admin">Back to administration</BackLink>
      <h1>{org ? org.name : "People"}</h1>
      {org && <p class="nhsuk-caption-m">{kindLabel(org.kind)}</p>}
      {fingerprint && (
        <p>
          Records key fingerprint: <span class="dl-totp-key" data-testid="org-records-fingerprint">{fingerprint}</span>
        </p>
      )}
      <LoadError message={loadError ?? error} />
      {org && org.kind === "practice" && !org.recordsPublicKey && (
        <WarningCallout title="This practice has no records key">
          <p>GPs in this practice cannot send cases until it has one.</p>
          <p>
            <a href={`#/admin/orgs/${org.orgId}/records-key`}>Make the practice's records key</a>
          </p>
        </WarningCallout>
      )}
      {org && (
        <div data-testid="org-key">
          <h2 class="nhsuk-heading-m">Organisation key</h2>
          {org.orgKeyId ? (
            <p>
              Key id <span class="dl-totp-key">{org.orgKeyId.replace(/(.{4})/g, "$1 ").trim()}</span>. Invitations made here are certified with it, so
              the people you invite can check them.
            </p>
          ) : (
            <>
              <p>
                With an organisation key, the invitations you make carry a certificate that the server cannot forge, and the people you invite
                trust your organisation's members without asking. The key is made on this device and given only to the administrators.
              </p>
              {keys && pins && (
                <Button
                  type="button"
                  secondary
                  disabled={orgKeyBusy}
                  onClick={() => {
                    setOrgKeyBusy(true);
                    setOrgKeyStatus(null);
                    setUpOrgKey(api, keys, pins, org).then(
                      () => {
                        setOrgKeyStatus("The organisation key is set up. You are certified as an administrator with it.");
                        setOrgKeyReload((n) => n + 1);
                      },
                      (e) => setOrgKeyStatus(e instanceof Error && e.name === "Error" ? e.message : adminErrorMessage(e)),
                    ).finally(() => setOrgKeyBusy(false));
                  }}
                >
                  {orgKeyBusy ? "Setting up the organisation key…" : "Set up the organisation key"}
                </Button>
              )}
            </>
          )}
          {orgKeyStatus && (
            <p role="status" data-testid="org-key-status">
              {orgKeyStatus}
            </p>
          )}
        </div>
      )}
      <p>
        <a class="nhsuk-button" href={`#/admin/orgs/${orgId}/invite`} role="button" draggable={false}>
          Invite a person
        </a>
      </p>
      <p>
        <a href={`#/admin/orgs/${orgId}/passkeys`} data-testid="passkey-policy-link">
          Passkey requirement
        </a>
      </p>
      {status && (
        <div class="nhsuk-inset-text" role="status" data-testid="admin-status" tabIndex={-1} ref={statusRef}>
          <span class="nhsuk-u-visually-hidden">Information: </span>
          <p>{status}</p>
        </div>
      )}
      {pending && (
        <div class="nhsuk-inset-text" data-testid="admin-confirm">
          <h2 class="nhsuk-heading-s" tabIndex={-1} ref={confirmRef}>
            {ACTION_TEXT[pending.action].confirm(pending.user.displayName)}
          </h2>
          <p>{ACTION_TEXT[pending.action].effect}</p>
          <div class="nhsuk-button-group">
            <Button type="button" disabled={busy} onClick={() => void act()}>
              {pending.action === "revoke" ? "Yes, sign them out" : "Yes, reset it"}
            </Button>
            <Button type="button" secondary onClick={() => setPending(null)}>
              Cancel
            </Button>
          </div>
        </div>
      )}
      {users === null ? (
        !error && <p>Loading people…</p>
      ) : users.length === 0 ? (
        <p>No one has joined yet. Invite people and give them their link.</p>
      ) : (
        <table class="nhsuk-table-responsive" data-testid="admin-people">
          <caption class="nhsuk-table__caption">People and their roles</caption>
          <thead class="nhsuk-table__head">
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Roles here</th>
              <th scope="col">Account</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody class="nhsuk-table__body">
            {users.map((u) => {
              const roles = u.memberships.filter((m) => m.orgId === orgId).map((m) => roleLabel(m.role));
              const self = u.userId === data?.userId;
              return (
                <tr class="nhsuk-table__row" key={u.userId} data-testid="person">
                  <td class="nhsuk-table__cell">
                    <span class="nhsuk-table-responsive__heading" aria-hidden="true">Name </span>
                    <span>
                      {u.displayName}
                      {self && " (you)"}
                      <br />
                      <span class="nhsuk-body-s">{u.loginName}</span>
                    </span>
                  </td>
                  <td class="nhsuk-table__cell">
                    <span class="nhsuk-table-responsive__heading" aria-hidden="true">Roles here </span>
                    {roles.join(", ")}
                  </td>
                  <td class="nhsuk-table__cell">
                    <span class="nhsuk-table-responsive__heading" aria-hidden="true">Account </span>
                    {u.disabled ? "Disabled" : u.locked ? "Locked after failed sign-ins" : u.totpEnrolled ? "Active" : "Authenticator not set up"}
                  </td>
                  <td class="nhsuk-table__cell">
                    <span class="nhsuk-table-responsive__heading" aria-hidden="true">Actions </span>
                    {self ? (
                      "None"
                    ) : (
                      <span class="nhsuk-button-group">
                        {(["revoke", "reset"] as const).map((a) => (
                          <button
                            key={a}
                            type="button"
                            class="nhsuk-button nhsuk-button--secondary nhsuk-button--small"
                            aria-label={`${ACTION_TEXT[a].button}: ${u.displayName}`}
                            onClick={() => {
                              setStatus(null);
                              setPending({ user: u, action: a });
                            }}
                          >
                            {ACTION_TEXT[a].button}
                          </button>
                        ))}
                      </span>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {org && <AdminInvites api={api} orgId={orgId} />}
    </>
  );
}
