/**
 * Passkeys in the browser (docs/api.md "Passkeys", docs/protocol.md section 25): the WebAuthn
 * ceremonies with the PRF extension, the passkey routes, and unlocking the keys with a
 * passkey's USK wrap (record 0x11) instead of the password.
 *
 * Rules:
 * - every ceremony asks for user verification (the server refuses an answer without it);
 * - every ceremony asks for the PRF output of PASSKEY_PRF_INPUT; an authenticator without PRF
 *   still works as a second factor, it just cannot unlock;
 * - the PRF output is used once, to wrap or unwrap the USK, and then zeroed; it never leaves
 *   the page (the server gets the 63-byte wrap only);
 * - the USK is unwrapped straight into a non-extractable key (unwrapUskWithPasskeyAsKey).
 * Options and answers travel in the WebAuthn Level 3 JSON forms, converted here by hand (so no
 * browser-specific parse/toJSON helper is needed).
 */
import { fromBase64Url, toBase64Url } from "../crypto/bytes";
import { PASSKEY_PRF_INPUT, unwrapUskWithPasskeyAsKey, wrapUskWithPasskey } from "../crypto/usk";
import { ApiError, type Me } from "./api";
import { call } from "./call";
import { openWithUsk } from "./unlock";
import type { UnlockedKeys } from "./session";

export interface PasskeyInfo {
  passkeyId: string;
  name: string;
  credentialId: Uint8Array;
  createdAt: string;
  lastUsedAt: string | null;
  backedUp: boolean;
  prfWrap: Uint8Array | null;
}

/** What a ceremony gave: the JSON answer for the server, and the PRF output if any. */
export interface CeremonyResult {
  credential: Record<string, unknown>;
  credentialId: Uint8Array;
  prfOutput: Uint8Array | null;
}

/** The person dismissed the browser's passkey dialog, or it timed out. */
export class PasskeyCancelled extends Error {
  constructor() {
    super("the passkey request was cancelled");
    this.name = "PasskeyCancelled";
  }
}

export function passkeysSupported(): boolean {
  return typeof window !== "undefined" && typeof window.PublicKeyCredential === "function" && !!navigator.credentials;
}

// ------------------------------------------------------------------ the API

function passkeyOf(r: Record<string, unknown>): PasskeyInfo {
  return {
    passkeyId: String(r.passkey_id),
    name: String(r.name),
    credentialId: fromBase64Url(String(r.credential_id)),
    createdAt: String(r.created_at),
    lastUsedAt: typeof r.last_used_at === "string" ? r.last_used_at : null,
    backedUp: r.backed_up === true,
    prfWrap: typeof r.prf_wrap === "string" ? fromBase64Url(r.prf_wrap) : null,
  };
}

const options = async (path: string) => (await call("POST", path)).options as Record<string, unknown>;

export const passkeyApi = {
  async list(): Promise<PasskeyInfo[]> {
    const r = await call("GET", "/auth/passkeys");
    return (Array.isArray(r.passkeys) ? r.passkeys : []).map((p) => passkeyOf(p as Record<string, unknown>));
  },
  registrationOptions: () => options("/auth/passkeys/options"),
  /** Store a new passkey; `done` when it finished a sign-in under a passkey requirement. */
  async register(credential: Record<string, unknown>, name: string, prfWrap: Uint8Array | null): Promise<{ passkey: PasskeyInfo; done: boolean }> {
    const r = await call("POST", "/auth/passkeys", { credential, name, prf_wrap: prfWrap ? toBase64Url(prfWrap) : null });
    return { passkey: passkeyOf(r.passkey as Record<string, unknown>), done: r.next === "done" };
  },
  async rename(id: string, name: string): Promise<PasskeyInfo> {
    return passkeyOf(await call("PUT", `/auth/passkeys/${encodeURIComponent(id)}/name`, { name }));
  },
  async setUnlock(id: string, prfWrap: Uint8Array | null): Promise<PasskeyInfo> {
    return passkeyOf(await call("PUT", `/auth/passkeys/${encodeURIComponent(id)}/unlock`, { prf_wrap: prfWrap ? toBase64Url(prfWrap) : null }));
  },
  async remove(id: string): Promise<void> {
    await call("DELETE", `/auth/passkeys/${encodeURIComponent(id)}`);
  },
  secondFactorOptions: () => options("/auth/passkey/options"),
  async secondFactor(credential: Record<string, unknown>): Promise<PasskeyInfo> {
    return passkeyOf((await call("POST", "/auth/passkey", { credential })).passkey as Record<string, unknown>);
  },
  signInOptions: () => options("/auth/passkey/sign-in/options"),
  async signIn(credential: Record<string, unknown>): Promise<PasskeyInfo> {
    return passkeyOf((await call("POST", "/auth/passkey/sign-in", { credential })).passkey as Record<string, unknown>);
  },
};

// ------------------------------------------------------------------ the ceremonies

const b64 = (v: ArrayBuffer | Uint8Array): string => toBase64Url(v instanceof Uint8Array ? v : new Uint8Array(v));
const buf = (s: unknown): Uint8Array<ArrayBuffer> => fromBase64Url(String(s));

function descriptors(list: unknown): PublicKeyCredentialDescriptor[] {
  return (Array.isArray(list) ? list : []).map((d: { id: string; transports?: string[] }) => ({
    type: "public-key" as const,
    id: buf(d.id),
    ...(d.transports ? { transports: d.transports as AuthenticatorTransport[] } : {}),
  }));
}

const PRF_EXTENSION = { prf: { eval: { first: PASSKEY_PRF_INPUT as Uint8Array<ArrayBuffer> } } };

function prfOf(cred: PublicKeyCredential): Uint8Array | null {
  const ext = cred.getClientExtensionResults() as { prf?: { results?: { first?: ArrayBuffer | Uint8Array } } };
  const first = ext.prf?.results?.first;
  if (!first) return null;
  const out = new Uint8Array(first instanceof Uint8Array ? first : new Uint8Array(first));
  return out.length === 32 ? out : null;
}

async function ceremony<T>(f: () => Promise<T | null>): Promise<T> {
  try {
    const r = await f();
    if (r === null) throw new PasskeyCancelled();
    return r;
  } catch (e) {
    // NotAllowedError: dismissed, timed out, or no matching passkey (the browser hides which).
    if (e instanceof DOMException && (e.name === "NotAllowedError" || e.name === "AbortError")) throw new PasskeyCancelled();
    throw e;
  }
}

/** navigator.credentials.get() with the server's options (or a local challenge for unlocking). */
export async function getPasskey(opts: Record<string, unknown>): Promise<CeremonyResult> {
  const cred = await ceremony(
    async () =>
      (await navigator.credentials.get({
        publicKey: {
          challenge: buf(opts.challenge),
          ...(typeof opts.rpId === "string" ? { rpId: opts.rpId } : {}),
          ...(typeof opts.timeout === "number" ? { timeout: opts.timeout } : {}),
          allowCredentials: descriptors(opts.allowCredentials),
          userVerification: "required",
          extensions: PRF_EXTENSION as AuthenticationExtensionsClientInputs,
        },
      })) as PublicKeyCredential | null,
  );
  const r = cred.response as AuthenticatorAssertionResponse;
  return {
    credentialId: new Uint8Array(cred.rawId),
    prfOutput: prfOf(cred),
    credential: {
      id: cred.id,
      rawId: b64(cred.rawId),
      type: "public-key",
      authenticatorAttachment: cred.authenticatorAttachment,
      response: {
        clientDataJSON: b64(r.clientDataJSON),
        authenticatorData: b64(r.authenticatorData),
        signature: b64(r.signature),
        ...(r.userHandle ? { userHandle: b64(r.userHandle) } : {}),
      },
      clientExtensionResults: {},
    },
  };
}

/**
 * navigator.credentials.create() with the server's options, asking for PRF. If the
 * authenticator enables PRF but gives no output at creation, one get() of the new credential
 * (local challenge: nothing for the server to verify) reads it.
 */
export async function createPasskey(opts: Record<string, unknown>): Promise<CeremonyResult> {
  const rp = opts.rp as { id?: string; name: string };
  const user = opts.user as { id: string; name: string; displayName: string };
  const sel = (opts.authenticatorSelection ?? {}) as AuthenticatorSelectionCriteria;
  const cred = await ceremony(
    async () =>
      (await navigator.credentials.create({
        publicKey: {
          challenge: buf(opts.challenge),
          rp,
          user: { id: buf(user.id), name: user.name, displayName: user.displayName },
          pubKeyCredParams: opts.pubKeyCredParams as PublicKeyCredentialParameters[],
          ...(typeof opts.timeout === "number" ? { timeout: opts.timeout } : {}),
          excludeCredentials: descriptors(opts.excludeCredentials),
          authenticatorSelection: { ...sel, userVerification: "required" },
          attestation: "none",
          extensions: PRF_EXTENSION as AuthenticationExtensionsClientInputs,
        },
      })) as PublicKeyCredential | null,
  );
  const r = cred.response as AuthenticatorAttestationResponse;
  const credentialId = new Uint8Array(cred.rawId);
  let prfOutput = prfOf(cred);
  const enabled = (cred.getClientExtensionResults() as { prf?: { enabled?: boolean } }).prf?.enabled === true;
  if (prfOutput === null && enabled) {
    const local = crypto.getRandomValues(new Uint8Array(32));
    const again = await getPasskey({ challenge: toBase64Url(local), rpId: rp.id, allowCredentials: [{ id: b64(credentialId) }] });
    prfOutput = again.prfOutput;
  }
  return {
    credentialId,
    prfOutput,
    credential: {
      id: cred.id,
      rawId: b64(cred.rawId),
      type: "public-key",
      authenticatorAttachment: cred.authenticatorAttachment,
      response: {
        clientDataJSON: b64(r.clientDataJSON),
        attestationObject: b64(r.attestationObject),
        transports: typeof r.getTransports === "function" ? r.getTransports() : [],
      },
      clientExtensionResults: {},
    },
  };
}

// ------------------------------------------------------------------ unlock

/** The 0x11 wrap of `usk` for the ceremony's passkey, or null without a PRF output. */
export async function wrapForPasskey(usk: Uint8Array, userId: string, result: CeremonyResult): Promise<Uint8Array | null> {
  if (result.prfOutput === null) return null;
  try {
    return await wrapUskWithPasskey(usk, result.prfOutput, userId, result.credentialId);
  } finally {
    result.prfOutput.fill(0);
  }
}

/** Open the keys with the passkey's wrap and the PRF output of the same ceremony. */
export async function unlockWithPasskey(me: Me, wrap: Uint8Array, result: CeremonyResult): Promise<UnlockedKeys> {
  if (result.prfOutput === null) throw new PasskeyCancelled();
  try {
    const usk = await unwrapUskWithPasskeyAsKey(wrap, result.prfOutput, me.userId, result.credentialId);
    return await openWithUsk(me, usk);
  } finally {
    result.prfOutput.fill(0);
  }
}

/** The "Unlock with a passkey" ceremony: the user's passkeys that carry a wrap. */
export async function unlockByPasskey(me: Me, passkeys: PasskeyInfo[]): Promise<UnlockedKeys> {
  const wrapped = passkeys.filter((p) => p.prfWrap !== null);
  const local = crypto.getRandomValues(new Uint8Array(32));
  const result = await getPasskey({ challenge: toBase64Url(local), allowCredentials: wrapped.map((p) => ({ id: toBase64Url(p.credentialId) })) });
  const used = wrapped.find((p) => p.credentialId.length === result.credentialId.length && p.credentialId.every((b, i) => b === result.credentialId[i]));
  if (!used?.prfWrap) throw new PasskeyCancelled();
  return unlockWithPasskey(me, used.prfWrap, result);
}

/** NHS.UK-style text for a passkey failure. */
export function passkeyErrorMessage(e: unknown): string | null {
  if (e instanceof PasskeyCancelled) return "The passkey was not used. Try again, or use another way to sign in.";
  if (e instanceof ApiError && e.code === "passkey_invalid") return "Dermline could not accept this passkey. Try again, or use another way to sign in.";
  if (e instanceof ApiError && e.code === "passkey_required") return "Your organisation requires you to sign in with a passkey. If you lost it, use a recovery code.";
  if (e instanceof Error && e.name === "UskPasskeyUnwrapError") return "This passkey cannot unlock Dermline on this device. Use your password.";
  return null;
}

// ------------------------------------------------------------------ the requirement (admins)

export interface PasskeyPolicy {
  everyone: boolean;
  roles: string[];
}

export const passkeyPolicyApi = {
  async get(orgId: string): Promise<PasskeyPolicy> {
    const r = await call("GET", `/orgs/${encodeURIComponent(orgId)}/passkey-policy`);
    return { everyone: r.everyone === true, roles: Array.isArray(r.roles) ? r.roles.map(String) : [] };
  },
  async set(orgId: string, everyone: boolean, roles: string[]): Promise<PasskeyPolicy> {
    const r = await call("PUT", `/orgs/${encodeURIComponent(orgId)}/passkey-policy`, { everyone, roles });
    return { everyone: r.everyone === true, roles: Array.isArray(r.roles) ? r.roles.map(String) : [] };
  },
};
