/**
 * One JSON request to the API with the session cookie and the CSRF header read from its
 * cookie (a session made by the passkey routes sets a new one), for the modules outside
 * api.ts (passkeys.ts, records.ts, push.ts); failures as `requestJson` throws them.
 */
import { csrfFromCookie, requestJson } from "./api";
import { noteSignInAnswer } from "./signinNotice";

export async function call(method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const obj = await requestJson(method, `/api/v1${path}`, csrfFromCookie(), body);
  noteSignInAnswer(obj); // a passkey sign-in answers failed_attempts
  return obj;
}
