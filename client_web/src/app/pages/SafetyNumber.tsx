/**
 * The safety-number screen for one person (docs/protocol.md sections 7 and 18): the 60 digits
 * both people see, in 12 groups of 5, and a QR code of the same 60 digits that a phone camera
 * can scan (made here by @paulmillr/qr, shown through an <img> data URL as the other QR codes).
 * Two people compare them in person or on a call they trust; then "Mark as verified".
 *
 * When the person's keys changed since they were pinned, the screen shows the number for the
 * NEW keys and the warning naming them, with "I have checked, accept the new keys" (unverified
 * person) or, for a person verified before, only "We compared the numbers: mark as verified"
 * (a verified person's change is a hard stop until the numbers are compared again).
 *
 * Used as a page (#/people/USER, from a case: #/cases/CASE/people/USER) and inline in the new
 * case form (so the form is not lost).
 */
import type { JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { safetyNumber } from "../cryptoFacade";
import { type PersonPin, type PinStore, acceptChange, badge, changeWarning, markVerified } from "../pins";
import type { UnlockedKeys } from "../session";
import { BackLink, Button, usePageTitle } from "../components";
import { qrDataUrl } from "./TotpSetup";

/** The number for the keys that matter now: the changed ones if a change is pending. */
export function keysShown(pin: PersonPin): [Uint8Array, Uint8Array] {
  const k = pin.changed ?? pin;
  return [k.signingPublicKey, k.encryptionPublicKey];
}

export function SafetyNumberPanel(p: { pins: PinStore; keys: UnlockedKeys; userId: string; onDone?: () => void; headingLevel?: 1 | 2 }): JSX.Element {
  const [pin, setPin] = useState<PersonPin | null | undefined>(undefined);
  const [digits, setDigits] = useState<string | null>(null);
  const [qr, setQr] = useState<string | null>(null);
  const [status, setStatus] = useState<string | null>(null);
  const statusRef = useRef<HTMLDivElement>(null);
  const ours: [Uint8Array, Uint8Array] = [p.keys.signing.publicKey, p.keys.encryption.publicKey];

  async function refresh() {
    const pins = await p.pins.read();
    const found = pins.people[p.userId] ?? null;
    setPin(found);
    setDigits(found ? await safetyNumber(ours, keysShown(found)) : null);
  }
  useEffect(() => {
    void refresh();
  }, [p.userId]);
  useEffect(() => {
    setQr(null);
    if (!digits) return;
    let live = true;
    import("@paulmillr/qr").then(
      (m) => {
        // The same 60 digits, without spaces: a phone camera shows them as text to compare.
        const svg = m.default(digits.replace(/ /g, ""), "svg", { ecc: "medium", border: 4 });
        if (live) setQr(qrDataUrl(svg.replace(/^<svg\b/, '<svg shape-rendering="crispEdges"')));
      },
      () => undefined, // no QR code: the numbers are still there to read
    );
    return () => {
      live = false;
    };
  }, [digits]);
  useEffect(() => {
    if (status) statusRef.current?.focus();
  }, [status]);

  const H = p.headingLevel === 2 ? "h2" : "h1";
  if (pin === undefined) return <p>Loading…</p>;
  if (pin === null) {
    return (
      <>
        <H>Security keys</H>
        <p>Dermline has not used this person's keys on this device yet. Open a case with them first.</p>
      </>
    );
  }
  const b = badge(pin);
  const act = async (f: () => Promise<unknown>, done: string) => {
    await f();
    setStatus(done);
    await refresh();
    p.onDone?.();
  };
  const now = Date.now;
  return (
    <>
      <H>Check {pin.name}'s security keys</H>
      <p>
        <strong class={`nhsuk-tag ${b.tag}`} data-testid="person-badge">
          {b.text}
        </strong>
      </p>
      {status && (
        <div class="nhsuk-inset-text" role="status" tabIndex={-1} ref={statusRef} data-testid="safety-status">
          <p>{status}</p>
        </div>
      )}
      {pin.changed && (
        <div class="nhsuk-warning-callout" data-testid="key-change-warning">
          <h2 class="nhsuk-warning-callout__label">
            <span>
              <span class="nhsuk-u-visually-hidden">Important: </span>
              Security keys changed
            </span>
          </h2>
          <p>{changeWarning({ name: pin.name, state: pin.verified ? "changed_verified" : "changed" })}</p>
        </div>
      )}
      <h2 class="nhsuk-heading-m">Your safety number with {pin.name}</h2>
      <p>
        Compare these numbers with {pin.name}, in person or on a phone or video call you trust. They see the same numbers on their screen. If
        you are together, scan the QR code on their screen with your phone's camera: it shows the same numbers.
      </p>
      {digits && (
        <p class="dl-recovery-key dl-safety-number" data-testid="safety-number" aria-label={`Safety number: ${digits}`}>
          {digits.split(" ").map((g, i) => (
            <span key={i} class="dl-recovery-group">
              {g}
            </span>
          ))}
        </p>
      )}
      {qr && <img class="dl-qr" src={qr} alt={`QR code of your safety number with ${pin.name}`} width={196} height={196} data-testid="safety-qr" />}
      {pin.changed && !pin.verified && (
        <Button
          type="button"
          onClick={() => void act(() => p.pins.update((pins) => acceptChange(pins, pin.userId, false, now())), `You accepted ${pin.name}'s new security keys.`)}
        >
          I have checked, accept the new keys
        </Button>
      )}
      {pin.changed ? (
        <Button
          type="button"
          secondary={!pin.verified}
          onClick={() => void act(() => p.pins.update((pins) => acceptChange(pins, pin.userId, true, now())), `You verified ${pin.name}'s new security keys.`)}
        >
          We compared the numbers: mark as verified
        </Button>
      ) : pin.verified ? (
        <p data-testid="verified-note">You have verified {pin.name}'s security keys on this device.</p>
      ) : (
        <Button type="button" onClick={() => void act(() => p.pins.update((pins) => markVerified(pins, pin.userId)), `You verified ${pin.name}'s security keys.`)}>
          Mark as verified
        </Button>
      )}
    </>
  );
}

/** The page form: #/people/USER or #/cases/CASE/people/USER (back to the case). */
export function SafetyNumberPage(p: { pins: PinStore; keys: UnlockedKeys; userId: string; caseId: string | null }): JSX.Element {
  usePageTitle("Check security keys");
  return (
    <>
      <BackLink href={p.caseId ? `#/cases/${p.caseId}` : "#/cases"}>{p.caseId ? "Back to the case" : "Back to your cases"}</BackLink>
      <SafetyNumberPanel pins={p.pins} keys={p.keys} userId={p.userId} />
    </>
  );
}
