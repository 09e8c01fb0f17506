/**
 * What the administration pages share: labels, the organisations the signed-in person
 * administers, and error text. The server is the authority on every permission
 * (docs/api.md "Organisations and people"); these pages only avoid offering what it refuses.
 */
import type { JSX } from "preact";
import type { RefObject } from "preact";
import { type Dispatch, type StateUpdater, useEffect, useRef, useState } from "preact/hooks";
import { type Api, ApiError, type Organisation, apiErrorMessage } from "../api";

export const KIND_LABELS: Record<string, string> = {
  practice: "GP practice",
  service: "Dermatology service",
};

export const ROLE_LABELS: Record<string, string> = {
  gp: "GP",
  dermatologist: "Dermatologist",
  admin: "Administrator",
  records_officer: "Records officer",
  auditor: "Auditor",
};

/** Roles an organisation of each kind can hold (server/domain/policy.py ROLES_BY_KIND). */
export const ROLES_BY_KIND: Record<string, string[]> = {
  practice: ["gp", "records_officer", "admin", "auditor"],
  service: ["dermatologist", "records_officer", "admin", "auditor"],
};

export const roleLabel = (role: string): string => ROLE_LABELS[role] ?? role;
export const kindLabel = (kind: string): string => KIND_LABELS[kind] ?? kind;

/** Organisation names: the server accepts 1 to 200 characters after trimming. */
export function orgNameError(name: string, kind: string): string | null {
  const n = name.trim();
  if (n.length === 0) return kind === "practice" ? "Enter the name of the GP practice" : "Enter the name of the dermatology service";
  if ([...n].length > 200) return "The name must be 200 characters or fewer";
  return null;
}

/** User-facing text for a refused administration request. */
export function adminErrorMessage(e: unknown): string {
  if (e instanceof ApiError) {
    switch (e.code) {
      case "forbidden":
        return "You need to be an administrator of this organisation to do this.";
      case "not_found":
        return "This organisation or person was not found. Go back to administration and try again.";
      case "validation_failed":
        return "The server did not accept this. Check what you entered and try again.";
      case "conflict":
        return "This has changed since you opened the page. Go back to administration and try again.";
      default:
        break;
    }
  }
  return apiErrorMessage(e);
}

export interface Administered {
  /** organisations in which the signed-in person is an administrator, by name */
  orgs: Organisation[];
  userId: string;
}

/**
 * The organisations the signed-in person administers, read fresh from the server each time
 * (creating an organisation makes its creator an administrator of it).
 */
export function useAdministered(api: Api, reloadKey = 0): { data: Administered | null; error: string | null } {
  const [data, setData] = useState<Administered | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    Promise.all([api.me(), api.organisations()]).then(
      ([me, orgs]) => {
        if (!live) return;
        const mine = new Set((me.memberships ?? []).filter((m) => m.role === "admin").map((m) => m.orgId));
        setData({ userId: me.userId, orgs: orgs.filter((o) => mine.has(o.orgId)).sort((a, b) => a.name.localeCompare(b.name)) });
      },
      (e) => live && setError(adminErrorMessage(e)),
    );
    return () => {
      live = false;
    };
  }, [api, reloadKey]);
  return { data, error };
}

export function Panel({ title, children, testId }: { title: string; children?: JSX.Element | JSX.Element[] | string; testId?: string }): JSX.Element {
  return (
    <div class="nhsuk-panel" data-testid={testId}>
      <h2 class="nhsuk-panel__title">{title}</h2>
      {children && <div class="nhsuk-panel__body">{children}</div>}
    </div>
  );
}

/** A plain error line for failures that are not about one form field. */
export function LoadError({ message }: { message: string | null }): JSX.Element | null {
  if (!message) return null;
  return (
    <p class="nhsuk-error-message" role="alert">
      <span class="nhsuk-u-visually-hidden">Error:</span> {message}
    </p>
  );
}

/**
 * The state of an "ask, then confirm" action on an administration page (sign out everywhere,
 * reset 2FA, cancel an invitation): what is awaiting confirmation, the result to announce, a
 * busy flag, and a reload counter. Keyboard and screen-reader users land on the question the
 * button asked (`confirmRef`, a heading with tabIndex -1), then on the result (`statusRef`).
 */
export interface ConfirmStep<T> {
  pending: T | null;
  setPending: Dispatch<StateUpdater<T | null>>;
  status: string | null;
  setStatus: Dispatch<StateUpdater<string | null>>;
  busy: boolean;
  setBusy: Dispatch<StateUpdater<boolean>>;
  reload: number;
  bumpReload: () => void;
  confirmRef: RefObject<HTMLHeadingElement | null>;
  statusRef: RefObject<HTMLDivElement | null>;
}

export function useConfirmStep<T>(): ConfirmStep<T> {
  const [pending, setPending] = useState<T | null>(null);
  const [status, setStatus] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [reload, setReload] = useState(0);
  const confirmRef = useRef<HTMLHeadingElement>(null);
  const statusRef = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (pending) confirmRef.current?.focus();
  }, [pending]);
  useEffect(() => {
    if (status) statusRef.current?.focus();
  }, [status]);
  const bumpReload = () => setReload((r) => r + 1);
  return { pending, setPending, status, setStatus, busy, setBusy, reload, bumpReload, confirmRef, statusRef };
}
