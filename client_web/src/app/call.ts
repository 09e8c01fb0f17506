/**
 * One JSON request to the API with the session cookie and the CSRF header read from its
 * cookie (a session made by the passkey routes sets a new one), for the modules outside
 * api.ts (passkeys.ts, records.ts). Failures are ApiError with the server's stable code, or
 * ServerUnavailable when the request did not get through.
 */
import { ApiError, ServerUnavailable, retryAfterOf } from "./api";
import { noteSignInAnswer } from "./signinNotice";

function csrf(): string | null {
  const m = /(?:^|;\s*)dermline_csrf=([^;]+)/.exec(document.cookie);
  return m ? decodeURIComponent(m[1]!) : null;
}

export async function call(method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const token = csrf();
  if (method !== "GET" && token) headers["X-CSRF-Token"] = token;
  let res: Response;
  try {
    res = await fetch(`/api/v1${path}`, {
      method,
      headers,
      credentials: "same-origin",
      cache: "no-store",
      body: body === undefined ? null : JSON.stringify(body),
    });
  } catch {
    throw new ServerUnavailable();
  }
  if (res.status === 204) return {};
  let data: unknown = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  if (!res.ok) {
    const code = (data as { error?: { code?: unknown } } | null)?.error?.code;
    throw new ApiError(res.status, typeof code === "string" ? code : "internal", retryAfterOf(res));
  }
  const obj = (typeof data === "object" && data !== null ? data : {}) as Record<string, unknown>;
  noteSignInAnswer(obj); // a passkey sign-in answers failed_attempts
  return obj;
}
