/**
 * A minimal hash router (#/path). Hash routes need no server-side fallback: the server serves
 * index.html at "/" only, and every deep link still loads the same shell.
 */
import { useEffect, useState } from "preact/hooks";

export type Route =
  | { name: "start" }
  | { name: "login" }
  | { name: "invite"; token: string }
  | { name: "unlock" }
  /** #/security: the signed-in person's passkeys (pages/Security.tsx) */
  | { name: "security" }
  /** #/notifications: push on this device, sound, e-mail (pages/Notifications.tsx) */
  | { name: "notifications" }
  | { name: "cases" }
  | { name: "newCase" }
  | { name: "case"; caseId: string }
  /** #/people/USER or #/cases/CASE/people/USER: one person's safety number (pages/SafetyNumber.tsx) */
  | { name: "person"; userId: string; caseId: string | null }
  /** #/admin and below; pages/Admin.tsx routes the rest (`sub` is "" or "/...") */
  | { name: "admin"; sub: string }
  /** #/p/<token>.<drop-box public key>: the patient's photo page (no account) */
  | { name: "patient"; fragment: string }
  | { name: "notFound" };

export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, "") || "/";
  if (path === "/") return { name: "start" };
  if (path === "/login") return { name: "login" };
  if (path === "/unlock") return { name: "unlock" };
  if (path === "/security") return { name: "security" };
  if (path === "/notifications") return { name: "notifications" };
  if (path === "/cases") return { name: "cases" };
  if (path === "/cases/new") return { name: "newCase" };
  if (path === "/admin" || path.startsWith("/admin/")) return { name: "admin", sub: path.slice("/admin".length) };
  const c = /^\/cases\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/.exec(path);
  if (c) return { name: "case", caseId: c[1]! };
  const UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
  const person = new RegExp(`^(?:/cases/(${UUID}))?/people/(${UUID})$`).exec(path);
  if (person) return { name: "person", userId: person[2]!, caseId: person[1] ?? null };
  // Checked strictly by the page itself (parseLinkFragment), which explains a mistyped link.
  const patient = /^\/p\/([A-Za-z0-9_.-]{1,200})$/.exec(path);
  if (patient) return { name: "patient", fragment: patient[1]! };
  // A token, or a certified link's token.secret.keyid (checked by pages/Invite.tsx).
  const invite = /^\/invite\/([A-Za-z0-9_-]{8,128}(?:\.[A-Za-z0-9_-]{1,64}){0,2})$/.exec(path);
  if (invite) return { name: "invite", token: invite[1]! };
  return { name: "notFound" };
}

export function href(route: Route): string {
  switch (route.name) {
    case "start":
      return "#/";
    case "login":
      return "#/login";
    case "unlock":
      return "#/unlock";
    case "security":
      return "#/security";
    case "notifications":
      return "#/notifications";
    case "invite":
      return `#/invite/${route.token}`;
    case "cases":
      return "#/cases";
    case "newCase":
      return "#/cases/new";
    case "case":
      return `#/cases/${route.caseId}`;
    case "admin":
      return `#/admin${route.sub}`;
    case "person":
      return route.caseId ? `#/cases/${route.caseId}/people/${route.userId}` : `#/people/${route.userId}`;
    case "patient":
      return `#/p/${route.fragment}`;
    case "notFound":
      return "#/not-found";
  }
}

export function navigate(route: Route): void {
  window.location.hash = href(route).slice(1);
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(window.location.hash));
    window.addEventListener("hashchange", onChange);
    return () => window.removeEventListener("hashchange", onChange);
  }, []);
  return route;
}
