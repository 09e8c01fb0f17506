import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { type Api, apiErrorMessage } from "../api";
import { unwrapUskWithKek } from "../cryptoFacade";
import { BackLink, Button, ErrorSummary, type FieldError, TextInput, usePageTitle } from "../components";
import { type PasskeyInfo, createPasskey, passkeyApi, passkeyErrorMessage, passkeysSupported, wrapForPasskey } from "../passkeys";
import { passwordKeys } from "../unlock";

const when = (iso: string): string =>
  new Date(iso).toLocaleString("en-GB", { day: "numeric", month: "long", year: "numeric", hour: "2-digit", minute: "2-digit" });

function message(e: unknown): string {
  if (e instanceof Error && e.name === "UskKekUnwrapError") return "The password is not right. Check it and try again.";
  if (e instanceof Error && e.name === "KdfParamsError") return "Dermline could not check your password. Try again.";
  return passkeyErrorMessage(e) ?? apiErrorMessage(e);
}

/**
 * Passkeys (docs/api.md "Passkeys"): add one (named; with the password it can also unlock
 * Dermline on this device, record 0x11), see when each was added and last used, rename,
 * remove (with its unlock wrap). NHS.UK summary list; every action reports in a status region.
 */
export function Security({ api }: { api: Api }): JSX.Element {
  const [passkeys, setPasskeys] = useState<PasskeyInfo[] | null>(null);
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [status, setStatus] = useState("");
  const [busy, setBusy] = useState(false);
  const [renaming, setRenaming] = useState<{ id: string; name: string } | null>(null);
  const [removing, setRemoving] = useState<string | null>(null);
  usePageTitle("Passkeys and security", errors.length > 0);
  const err = (f: string) => errors.find((e) => e.field === f)?.message ?? null;

  const reload = () => passkeyApi.list().then(setPasskeys, (e) => setErrors([{ field: "passkey-name", message: message(e) }]));
  useEffect(() => void reload(), []);

  async function add(ev: Event) {
    ev.preventDefault();
    const trimmed = name.trim();
    if (trimmed.length === 0 || trimmed.length > 100) {
      setErrors([{ field: "passkey-name", message: "Enter a name for the passkey, for example “Work phone”" }]);
      return;
    }
    setErrors([]);
    setStatus("");
    setBusy(true);
    let usk: Uint8Array | null = null;
    try {
      // The password first (checked here, before the passkey is made): it opens the USK so
      // the passkey's PRF output can wrap it. Without a password, a second factor only.
      if (password.length > 0) {
        const me = await api.me();
        const k = await passwordKeys(me.kdfParams, password);
        usk = await unwrapUskWithKek(me.wrappedUsk, k.kek, me.userId);
        setPassword("");
        const result = await createPasskey(await passkeyApi.registrationOptions());
        const wrap = await wrapForPasskey(usk, me.userId, result);
        await passkeyApi.register(result.credential, trimmed, wrap);
        setStatus(wrap ? `Passkey “${trimmed}” added. It can also unlock Dermline on this device.` : `Passkey “${trimmed}” added. This passkey cannot unlock Dermline, so you will still need your password to unlock.`);
      } else {
        const result = await createPasskey(await passkeyApi.registrationOptions());
        result.prfOutput?.fill(0);
        await passkeyApi.register(result.credential, trimmed, null);
        setStatus(`Passkey “${trimmed}” added.`);
      }
      setName("");
      await reload();
    } catch (e) {
      setErrors([{ field: password.length > 0 ? "passkey-password" : "passkey-name", message: message(e) }]);
    } finally {
      usk?.fill(0);
      setBusy(false);
    }
  }

  async function rename(ev: Event) {
    ev.preventDefault();
    if (!renaming) return;
    const trimmed = renaming.name.trim();
    if (trimmed.length === 0 || trimmed.length > 100) {
      setErrors([{ field: "rename", message: "Enter a name for the passkey" }]);
      return;
    }
    try {
      await passkeyApi.rename(renaming.id, trimmed);
      setErrors([]);
      setRenaming(null);
      setStatus(`Passkey renamed to “${trimmed}”.`);
      await reload();
    } catch (e) {
      setErrors([{ field: "rename", message: message(e) }]);
    }
  }

  async function remove(p: PasskeyInfo) {
    try {
      await passkeyApi.remove(p.passkeyId);
      setRemoving(null);
      setStatus(`Passkey “${p.name}” removed. It can no longer sign in or unlock Dermline.`);
      await reload();
    } catch (e) {
      setErrors([{ field: "passkey-name", message: message(e) }]);
    }
  }

  return (
    <>
      <BackLink href="#/cases">Back to cases</BackLink>
      <ErrorSummary errors={errors} />
      <h1>Passkeys and security</h1>
      <p>
        A passkey lets you sign in with your phone’s fingerprint, face or screen lock instead of a security code. It only works on
        Dermline, so it cannot be used on a fake website.
      </p>
      <div role="status" aria-live="polite" data-testid="passkey-status">
        {status && <p class="nhsuk-body nhsuk-u-font-weight-bold">{status}</p>}
      </div>
      <h2>Your passkeys</h2>
      {passkeys === null ? (
        <p>Loading your passkeys…</p>
      ) : passkeys.length === 0 ? (
        <p>You have no passkeys yet.</p>
      ) : (
        <dl class="nhsuk-summary-list" data-testid="passkey-list">
          {passkeys.map((p) => (
            <div class="nhsuk-summary-list__row" key={p.passkeyId} data-testid="passkey">
              <dt class="nhsuk-summary-list__key">{p.name}</dt>
              <dd class="nhsuk-summary-list__value">
                Added {when(p.createdAt)}
                <br />
                {p.lastUsedAt ? `Last used ${when(p.lastUsedAt)}` : "Not used yet"}
                <br />
                {p.prfWrap ? "Can unlock Dermline without your password" : "Second step of sign-in only"}
                {renaming?.id === p.passkeyId && (
                  <form onSubmit={rename} noValidate>
                    <TextInput id="rename" label={`New name for ${p.name}`} value={renaming.name} onInput={(v) => setRenaming({ id: p.passkeyId, name: v })} error={err("rename")} />
                    <Button>Save name</Button>{" "}
                    <Button type="button" secondary onClick={() => setRenaming(null)}>
                      Cancel
                    </Button>
                  </form>
                )}
                {removing === p.passkeyId && (
                  <div class="nhsuk-inset-text">
                    <p>Remove {p.name}? You will not be able to sign in or unlock Dermline with it.</p>
                    <Button type="button" onClick={() => void remove(p)}>
                      Yes, remove {p.name}
                    </Button>{" "}
                    <Button type="button" secondary onClick={() => setRemoving(null)}>
                      Keep it
                    </Button>
                  </div>
                )}
              </dd>
              <dd class="nhsuk-summary-list__actions">
                <ul class="nhsuk-summary-list__actions-list">
                  <li class="nhsuk-summary-list__actions-list-item">
                    <button type="button" class="dl-link-button" onClick={() => setRenaming({ id: p.passkeyId, name: p.name })}>
                      Rename<span class="nhsuk-u-visually-hidden"> {p.name}</span>
                    </button>
                  </li>
                  <li class="nhsuk-summary-list__actions-list-item">
                    <button type="button" class="dl-link-button" onClick={() => setRemoving(p.passkeyId)}>
                      Remove<span class="nhsuk-u-visually-hidden"> {p.name}</span>
                    </button>
                  </li>
                </ul>
              </dd>
            </div>
          ))}
        </dl>
      )}
      <h2>Add a passkey</h2>
      {passkeysSupported() ? (
        <form onSubmit={add} noValidate>
          <TextInput id="passkey-name" label="Name for this passkey" hint="For example “Work phone” or “Security key”" value={name} onInput={setName} error={err("passkey-name")} />
          <TextInput
            id="passkey-password"
            label="Your password (optional)"
            hint="With your password, this passkey can also unlock Dermline on this device, so you do not need to type the password."
            type="password"
            autocomplete="current-password"
            value={password}
            onInput={setPassword}
            error={err("passkey-password")}
          />
          <Button disabled={busy}>{busy ? "Adding passkey…" : "Add passkey"}</Button>
        </form>
      ) : (
        <p>This browser cannot use passkeys. Use a security code from your authenticator app.</p>
      )}
    </>
  );
}
