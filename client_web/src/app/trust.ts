/**
 * The keys a case may be read and written with (docs/protocol.md section 18): every participant
 * the server lists is checked against this device's pins before their keys are used.
 *
 * - First contact pins silently.
 * - A participant whose listed keys differ from the pinned ones is reported (KeyCheck "changed"
 *   or "changed_verified") and, until the user accepts the change, the PINNED keys stand in for
 *   the listed ones: their wraps and messages are verified against the keys this device knows,
 *   so a server that substitutes someone's signing key cannot slip in messages in their name
 *   (they show as unreadable), and the page sends nothing while anyone is blocked.
 * - The server listing ME with keys that are not mine is the same attack on everyone else; it
 *   is reported as `selfMismatch` and my own keys stand in.
 */
import type { CaseDetail, Participant } from "./api";
import { equalBytes } from "./cryptoFacade";
import { type KeyCheck, type PinStore, blocked } from "./pins";
import type { UnlockedKeys } from "./session";

export interface CaseTrust {
  /** The detail with every participant's keys as this device trusts them. */
  trusted: CaseDetail;
  checks: KeyCheck[];
  /** The people whose changed keys block sending (named in the warning). */
  blocked: KeyCheck[];
  /** The server lists other keys for the signed-in user. */
  selfMismatch: boolean;
}

export async function checkCaseTrust(pins: PinStore, keys: UnlockedKeys, detail: CaseDetail): Promise<CaseTrust> {
  const others = detail.participants.filter((p) => p.userId !== keys.userId);
  const checks = await pins.observe(
    others.map((p) => ({ userId: p.userId, name: p.displayName, signingPublicKey: p.signingPublicKey, encryptionPublicKey: p.encryptionPublicKey })),
  );
  const byId = new Map(checks.map((c) => [c.userId, c]));
  let selfMismatch = false;
  const participants = detail.participants.map((p): Participant => {
    if (p.userId === keys.userId) {
      const mine = equalBytes(p.signingPublicKey, keys.signing.publicKey) && equalBytes(p.encryptionPublicKey, keys.encryption.publicKey);
      if (!mine) selfMismatch = true;
      return { ...p, signingPublicKey: keys.signing.publicKey, encryptionPublicKey: keys.encryption.publicKey };
    }
    const c = byId.get(p.userId)!;
    return c.state === "changed" || c.state === "changed_verified"
      ? { ...p, signingPublicKey: c.pin.signingPublicKey, encryptionPublicKey: c.pin.encryptionPublicKey }
      : p;
  });
  return { trusted: { ...detail, participants }, checks, blocked: blocked(checks), selfMismatch };
}
