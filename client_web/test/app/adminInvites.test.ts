/**
 * The invitations list of an organisation's page (pages/AdminInvites.tsx) and the API
 * mapping of its answers (api.ts inviteSummary): what may be cancelled, labels, order, and
 * the messages of a refused cancel.
 */
import { describe, expect, it } from "vitest";
import { ApiError, type InviteSummary, inviteSummary } from "../../src/app/api";
import { INVITE_STATUS, canCancel, cancelErrorMessage, inviteDate, inviteTitle, orderInvites } from "../../src/app/pages/AdminInvites";

const base: InviteSummary = {
  inviteId: "a".repeat(64),
  role: "gp",
  loginName: null,
  createdAt: "2026-11-28T09:00:00+00:00",
  expiresAt: "2026-12-05T09:00:00+00:00",
  createdBy: "u1",
  status: "pending",
};

describe("invitations list", () => {
  it("offers cancelling for pending invitations only", () => {
    expect(canCancel(base)).toBe(true);
    for (const status of ["used", "revoked", "expired"] as const) expect(canCancel({ ...base, status })).toBe(false);
  });

  it("labels every status, cancelled for revoked", () => {
    expect(INVITE_STATUS.revoked.label).toBe("Cancelled");
    expect(INVITE_STATUS.pending.label).toBe("Waiting to be used");
    expect(new Set(Object.values(INVITE_STATUS).map((s) => s.label)).size).toBe(4);
  });

  it("names an invitation by role and the bound email address", () => {
    expect(inviteTitle(base)).toBe("GP, anyone with the link");
    expect(inviteTitle({ ...base, role: "records_officer", loginName: "ro@example.org" })).toBe("Records officer for ro@example.org");
  });

  it("writes dates in UK English and passes anything else through", () => {
    expect(inviteDate("2026-12-05T09:00:00+00:00")).toMatch(/^\d{1,2} December 2026, \d\d:\d\d$/);
    expect(inviteDate("not a date")).toBe("not a date");
  });

  it("puts pending invitations first, then newest first", () => {
    const old = { ...base, inviteId: "1", createdAt: "2026-11-01T09:00:00+00:00" };
    const usedNew = { ...base, inviteId: "2", status: "used" as const, createdAt: "2026-11-27T09:00:00+00:00" };
    const pendingNew = { ...base, inviteId: "3", createdAt: "2026-11-20T09:00:00+00:00" };
    const revokedOld = { ...base, inviteId: "4", status: "revoked" as const, createdAt: "2026-10-01T09:00:00+00:00" };
    expect(orderInvites([revokedOld, old, usedNew, pendingNew]).map((i) => i.inviteId)).toEqual(["3", "1", "2", "4"]);
  });

  it("explains a refused cancel", () => {
    expect(cancelErrorMessage(new ApiError(409, "conflict"))).toMatch(/already been used or cancelled/);
    expect(cancelErrorMessage(new ApiError(404, "not_found"))).toMatch(/not found/);
    expect(cancelErrorMessage(new ApiError(403, "forbidden"))).toMatch(/administrator/);
  });

  it("maps the server's answer and refuses an unknown status", () => {
    const wire = {
      invite_id: "b".repeat(64),
      org_id: "o",
      role: "dermatologist",
      login_name: "d@example.org",
      created_at: base.createdAt,
      expires_at: base.expiresAt,
      created_by: null,
      used_at: null,
      revoked_at: null,
      status: "revoked",
    };
    expect(inviteSummary(wire)).toEqual({
      inviteId: "b".repeat(64),
      role: "dermatologist",
      loginName: "d@example.org",
      createdAt: base.createdAt,
      expiresAt: base.expiresAt,
      createdBy: null,
      status: "revoked",
    });
    expect(() => inviteSummary({ ...wire, status: "active" })).toThrow(ApiError);
  });
});
