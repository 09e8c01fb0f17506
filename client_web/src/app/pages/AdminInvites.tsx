/**
 * The invitations of one organisation (GET /api/v1/orgs/ORG/invites, administrators of ORG),
 * shown on its people page: role, the email address it is bound to (if any), when it was
 * made and when it expires, and its status. A pending invitation can be cancelled, after a
 * confirmation (POST /api/v1/orgs/ORG/invites/ID/revoke): its link stops working at once.
 * The server never returns the token; an invitation is named by an opaque id.
 */
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { type Api, ApiError, type InviteSummary } from "../api";
import { Button } from "../components";
import { LoadError, adminErrorMessage, roleLabel, useConfirmStep } from "./AdminCommon";

/** Status label and NHS.UK tag colour. */
export const INVITE_STATUS: Record<InviteSummary["status"], { label: string; tag: string }> = {
  pending: { label: "Waiting to be used", tag: "nhsuk-tag--blue" },
  used: { label: "Used", tag: "nhsuk-tag--green" },
  revoked: { label: "Cancelled", tag: "nhsuk-tag--grey" },
  expired: { label: "Expired", tag: "nhsuk-tag--white" },
};

/** Only an invitation nobody has used, not cancelled and not expired, is offered for cancelling. */
export const canCancel = (i: InviteSummary): boolean => i.status === "pending";

/** "GP for ann@example.org" or "GP, anyone with the link": what a person reads to tell them apart. */
export function inviteTitle(i: InviteSummary): string {
  return i.loginName ? `${roleLabel(i.role)} for ${i.loginName}` : `${roleLabel(i.role)}, anyone with the link`;
}

/** "5 December 2026, 14:05" in UK English; the raw text when it is not a date. */
export function inviteDate(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.toLocaleDateString("en-GB", { day: "numeric", month: "long", year: "numeric" })}, ${d.toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit" })}`;
}

/** Pending invitations first (what an administrator acts on), otherwise newest first. */
export function orderInvites(list: InviteSummary[]): InviteSummary[] {
  const rank = (i: InviteSummary) => (i.status === "pending" ? 0 : 1);
  return [...list].sort((a, b) => rank(a) - rank(b) || b.createdAt.localeCompare(a.createdAt));
}

/** User-facing text for a refused cancel. */
export function cancelErrorMessage(e: unknown): string {
  if (e instanceof ApiError && e.code === "conflict") return "This invitation has already been used or cancelled. The list below is up to date.";
  if (e instanceof ApiError && e.code === "not_found") return "This invitation was not found. The list below is up to date.";
  return adminErrorMessage(e);
}

export function AdminInvites({ api, orgId }: { api: Api; orgId: string }): JSX.Element {
  const [invites, setInvites] = useState<InviteSummary[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const { pending, setPending, status, setStatus, busy, setBusy, reload, bumpReload, confirmRef, statusRef } =
    useConfirmStep<InviteSummary>();
  useEffect(() => {
    let live = true;
    api.invites(orgId).then(
      (list) => live && setInvites(orderInvites(list)),
      (e) => live && setError(adminErrorMessage(e)),
    );
    return () => {
      live = false;
    };
  }, [api, orgId, reload]);

  async function cancel() {
    if (!pending) return;
    setBusy(true);
    setError(null);
    try {
      await api.revokeInvite(orgId, pending.inviteId);
      setStatus(`The invitation (${inviteTitle(pending)}) is cancelled. Its link no longer works.`);
    } catch (e) {
      setError(cancelErrorMessage(e));
    } finally {
      setPending(null);
      setBusy(false);
      bumpReload();
    }
  }

  return (
    <section aria-labelledby="invites-heading" data-testid="admin-invites">
      <h2 id="invites-heading">Invitations</h2>
      {status && (
        <div class="nhsuk-inset-text" role="status" data-testid="invite-status" tabIndex={-1} ref={statusRef}>
          <span class="nhsuk-u-visually-hidden">Information: </span>
          <p>{status}</p>
        </div>
      )}
      <LoadError message={error} />
      {pending && (
        <div class="nhsuk-inset-text" data-testid="invite-confirm">
          <h3 class="nhsuk-heading-s" tabIndex={-1} ref={confirmRef}>
            Cancel the invitation ({inviteTitle(pending)})?
          </h3>
          <p>Its link stops working at once. You can invite the person again later.</p>
          <div class="nhsuk-button-group">
            <Button type="button" disabled={busy} onClick={() => void cancel()}>
              Yes, cancel the invitation
            </Button>
            <Button type="button" secondary onClick={() => setPending(null)}>
              No, keep it
            </Button>
          </div>
        </div>
      )}
      {invites === null ? (
        !error && <p>Loading invitations…</p>
      ) : invites.length === 0 ? (
        <p>No invitations yet.</p>
      ) : (
        <table class="nhsuk-table-responsive" data-testid="invite-list">
          <caption class="nhsuk-table__caption nhsuk-u-visually-hidden">Invitations and their status</caption>
          <thead class="nhsuk-table__head">
            <tr>
              <th scope="col">Invitation</th>
              <th scope="col">Made</th>
              <th scope="col">Expires</th>
              <th scope="col">Status</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody class="nhsuk-table__body">
            {invites.map((i) => {
              const s = INVITE_STATUS[i.status];
              return (
                <tr class="nhsuk-table__row" key={i.inviteId} data-testid="invite" data-status={i.status}>
                  <td class="nhsuk-table__cell">
                    <span class="nhsuk-table-responsive__heading" aria-hidden="true">Invitation </span>
                    {inviteTitle(i)}
                  </td>
                  <td class="nhsuk-table__cell">
                    <span class="nhsuk-table-responsive__heading" aria-hidden="true">Made </span>
                    {inviteDate(i.createdAt)}
                  </td>
                  <td class="nhsuk-table__cell">
                    <span class="nhsuk-table-responsive__heading" aria-hidden="true">Expires </span>
                    {inviteDate(i.expiresAt)}
                  </td>
                  <td class="nhsuk-table__cell">
                    <span class="nhsuk-table-responsive__heading" aria-hidden="true">Status </span>
                    <strong class={`nhsuk-tag ${s.tag}`}>{s.label}</strong>
                  </td>
                  <td class="nhsuk-table__cell">
                    <span class="nhsuk-table-responsive__heading" aria-hidden="true">Actions </span>
                    {canCancel(i) ? (
                      <button
                        type="button"
                        class="nhsuk-button nhsuk-button--secondary nhsuk-button--small"
                        aria-label={`Cancel invite: ${inviteTitle(i)}`}
                        onClick={() => {
                          setStatus(null);
                          setError(null);
                          setPending(i);
                        }}
                      >
                        Cancel invite
                      </button>
                    ) : (
                      "None"
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}
