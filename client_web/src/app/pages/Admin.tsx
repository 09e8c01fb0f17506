/**
 * Administration in the browser (the first user's path after the setup link; README "What the
 * first user does next"): the organisations I administer, a new GP practice with its records
 * key made in this browser, a new dermatology service, people and their roles, invitations,
 * and revoking sessions or resetting two-factor authentication. Routes under #/admin:
 *
 *   #/admin                          organisations I administer
 *   #/admin/practices/new            create a GP practice (records key made here)
 *   #/admin/services/new             create a dermatology service
 *   #/admin/orgs/ORG                 people of ORG; sign out everywhere; reset 2FA; invitations
 *   #/admin/orgs/ORG/invite          invite a person to a role (the link is shown once)
 *   #/admin/orgs/ORG/records-key     give a practice that has none its records key
 *   #/admin/orgs/ORG/passkeys        require passkeys of everyone or of chosen roles
 *   #/admin/orgs/ORG/retention       records officers: minimum retention, legal holds
 *
 * Records officers who are not administrators see only their organisations' retention pages.
 */
import type { JSX } from "preact";
import type { Api, Me } from "../api";
import { BackLink, usePageTitle } from "../components";
import { AdminInvite } from "./AdminInvite";
import type { PinStore } from "../pins";
import type { UnlockedKeys } from "../session";
import { AdminPasskeys } from "./AdminPasskeys";
import { AdminPeople } from "./AdminPeople";
import { AdminRecordsKey } from "./AdminRecordsKey";
import { AdminRetention, RecordsOrgs } from "./AdminRetention";
import { AdminService } from "./AdminService";
import { LoadError, kindLabel, useAdministered } from "./AdminCommon";

const UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";

export type AdminRoute =
  | { page: "home" }
  | { page: "newPractice" }
  | { page: "newService" }
  | { page: "org"; orgId: string }
  | { page: "invite"; orgId: string }
  | { page: "recordsKey"; orgId: string }
  | { page: "passkeys"; orgId: string }
  | { page: "retention"; orgId: string }
  | { page: "notFound" };

/** The part of the hash after "#/admin" ("" or "/..."). */
export function parseAdminRoute(sub: string): AdminRoute {
  if (sub === "" || sub === "/") return { page: "home" };
  if (sub === "/practices/new") return { page: "newPractice" };
  if (sub === "/services/new") return { page: "newService" };
  const m = new RegExp(`^/orgs/(${UUID})(/invite|/records-key|/passkeys|/retention)?$`).exec(sub);
  if (m) {
    const orgId = m[1]!;
    if (m[2] === "/retention") return { page: "retention", orgId };
    if (m[2] === "/passkeys") return { page: "passkeys", orgId };
    if (m[2] === "/invite") return { page: "invite", orgId };
    if (m[2] === "/records-key") return { page: "recordsKey", orgId };
    return { page: "org", orgId };
  }
  return { page: "notFound" };
}

export const isAdmin = (me: Me | null): boolean => (me?.memberships ?? []).some((m) => m.role === "admin");
export const isRecordsOfficer = (me: Me | null): boolean => (me?.memberships ?? []).some((m) => m.role === "records_officer");

/** The way in from the case list, for administrators and records officers. */
export function AdminEntryLink({ me }: { me: Me | null }): JSX.Element | null {
  if (!isAdmin(me) && !isRecordsOfficer(me)) return null;
  return (
    <p>
      <a class="nhsuk-button nhsuk-button--secondary" href="#/admin" role="button" draggable={false} data-testid="admin-entry">
        {isAdmin(me) ? "Administration: organisations and people" : "Records retention and legal holds"}
      </a>
    </p>
  );
}

/** #/admin for a records officer who administers nothing: their organisations' retention. */
function RecordsHome({ api, me }: { api: Api; me: Me }): JSX.Element {
  usePageTitle("Records retention");
  return (
    <>
      <BackLink href="#/cases">Back to your cases</BackLink>
      <h1>Records retention</h1>
      <p>Set how long your organisations keep closed cases, and keep chosen cases on legal hold.</p>
      <RecordsOrgs api={api} me={me} />
    </>
  );
}

function AdminHome({ api, me }: { api: Api; me: Me }): JSX.Element {
  usePageTitle("Administration");
  const { data, error } = useAdministered(api);
  return (
    <>
      <BackLink href="#/cases">Back to your cases</BackLink>
      <h1>Administration</h1>
      <p>Create GP practices and dermatology services, and invite the people who work in them.</p>
      <div class="nhsuk-button-group">
        <a class="nhsuk-button" href="#/admin/practices/new" role="button" draggable={false}>
          Create a GP practice
        </a>
        <a class="nhsuk-button nhsuk-button--secondary" href="#/admin/services/new" role="button" draggable={false}>
          Create a dermatology service
        </a>
      </div>
      <LoadError message={error} />
      {data === null ? (
        !error && <p>Loading your organisations…</p>
      ) : data.orgs.length === 0 ? (
        <p>You do not administer any organisation yet.</p>
      ) : (
        <table class="nhsuk-table-responsive" data-testid="admin-orgs">
          <caption class="nhsuk-table__caption">Organisations you administer</caption>
          <thead class="nhsuk-table__head">
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Kind</th>
              <th scope="col">Records key</th>
            </tr>
          </thead>
          <tbody class="nhsuk-table__body">
            {data.orgs.map((o) => (
              <tr class="nhsuk-table__row" key={o.orgId}>
                <td class="nhsuk-table__cell">
                  <span class="nhsuk-table-responsive__heading" aria-hidden="true">Name </span>
                  <a class="dl-target" href={`#/admin/orgs/${o.orgId}`}>
                    {o.name}
                  </a>
                </td>
                <td class="nhsuk-table__cell">
                  <span class="nhsuk-table-responsive__heading" aria-hidden="true">Kind </span>
                  {kindLabel(o.kind)}
                </td>
                <td class="nhsuk-table__cell">
                  <span class="nhsuk-table-responsive__heading" aria-hidden="true">Records key </span>
                  {o.kind !== "practice" ? (
                    "Not needed"
                  ) : o.recordsPublicKey ? (
                    <strong class="nhsuk-tag nhsuk-tag--green">Set</strong>
                  ) : (
                    <strong class="nhsuk-tag nhsuk-tag--red">Missing</strong>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <RecordsOrgs api={api} me={me} />
    </>
  );
}

function AdminNotFound(): JSX.Element {
  usePageTitle("Page not found");
  return (
    <>
      <h1>Page not found</h1>
      <p>
        <a href="#/admin">Go to administration</a>
      </p>
    </>
  );
}

/**
 * #/admin...: administrators, and records officers for the retention pages (the server checks
 * every request again: retention is for records officers of the organisation only).
 */
export function Admin({ api, me, sub, keys = null, pins = null }: { api: Api; me: Me; sub: string; keys?: UnlockedKeys | null; pins?: PinStore | null }): JSX.Element {
  const route = parseAdminRoute(sub);
  if (route.page === "retention" && (isRecordsOfficer(me) || isAdmin(me))) return <AdminRetention api={api} me={me} orgId={route.orgId} />;
  if (!isAdmin(me)) {
    return route.page === "home" && isRecordsOfficer(me) ? <RecordsHome api={api} me={me} /> : <NotAnAdmin />;
  }
  switch (route.page) {
    case "home":
      return <AdminHome api={api} me={me} />;
    case "newPractice":
      return <AdminRecordsKey api={api} orgId={null} />;
    case "recordsKey":
      return <AdminRecordsKey api={api} orgId={route.orgId} />;
    case "newService":
      return <AdminService api={api} />;
    case "org":
      return <AdminPeople api={api} orgId={route.orgId} keys={keys} pins={pins} />;
    case "invite":
      return <AdminInvite api={api} orgId={route.orgId} keys={keys} pins={pins} />;
    case "passkeys":
      return <AdminPasskeys api={api} orgId={route.orgId} />;
    default:
      return <AdminNotFound />;
  }
}

function NotAnAdmin(): JSX.Element {
  usePageTitle("You cannot use administration");
  return (
    <>
      <h1>You cannot use administration</h1>
      <p>Only administrators can create organisations and invite people. Ask your administrator.</p>
      <p>
        <a href="#/cases">Go to your cases</a>
      </p>
    </>
  );
}
