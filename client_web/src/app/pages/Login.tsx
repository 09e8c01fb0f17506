import type { JSX } from "preact";
import { useState } from "preact/hooks";
import { type Api, ApiError, type NextStep, apiErrorMessage } from "../api";
import { Button, Checkboxes, ErrorSummary, type FieldError, TextInput, usePageTitle } from "../components";
import { getPasskey, passkeyApi, passkeyErrorMessage, passkeysSupported, unlockWithPasskey } from "../passkeys";
import { navigate } from "../router";
import type { Session } from "../session";
import { type PasswordKeys, openKeys, passwordKeys, rememberDevice } from "../unlock";
import { emailError, recoveryCodeError, totpCodeError } from "../validation";
import { PasskeyEnrol } from "./PasskeyEnrol";
import { TotpSetup } from "./TotpSetup";

export const RECOVERY_CODE_REFUSED = "The recovery code is not right or has already been used. Check it, or use another of your codes.";

/** The second-step choices of the page: the server's next steps, and a recovery code. */
type Step = "password" | NextStep | "recovery";

/**
 * Sign in (docs/api.md "Login"): email and password (PBKDF2 600,000 in WebCrypto, only the
 * derived auth key is sent), then the second step (a passkey, or the security code), then the
 * keys are unlocked in memory. The shortest path on a phone is "Sign in with a passkey": one
 * fingerprint both signs in and unlocks the keys (the passkey's USK wrap, docs/architecture.md
 * "Passkeys"); without a wrap for that passkey, the unlock page asks for the password.
 * Every second step offers a recovery code (one of those saved at enrolment, each once), also
 * under a passkey requirement; losing every factor goes through the administrator's reset.
 */
export function Login({ api, session, onSignedIn }: { api: Api; session: Session; onSignedIn: () => void }): JSX.Element {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [code, setCode] = useState("");
  const [recoveryCode, setRecoveryCode] = useState("");
  const [step, setStep] = useState<Step>("password");
  /** Where "Back" on the recovery-code step returns to. */
  const [before, setBefore] = useState<Step>("totp");
  const [keys, setKeys] = useState<PasswordKeys | null>(null);
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [busy, setBusy] = useState(false);
  const [remember, setRemember] = useState(new Set<string>());
  const title =
    step === "password"
      ? "Sign in"
      : step === "passkey" || step === "passkey_only"
        ? "Use your passkey"
        : step === "passkey_enrol"
          ? "Add a passkey to finish signing in"
          : step === "recovery"
            ? "Enter a recovery code"
            : "Enter your security code";
  usePageTitle(title, errors.length > 0);
  const err = (f: string) => errors.find((e) => e.field === f)?.message ?? null;

  async function finish(k: PasswordKeys) {
    const me = await api.me();
    session.unlock(await openKeys(me, k.kek));
    if (remember.has("yes")) await rememberDevice(me, k.kek);
    onSignedIn();
  }

  async function submitPassword(ev: Event) {
    ev.preventDefault();
    const found: FieldError[] = [];
    const e1 = emailError(email);
    if (e1) found.push({ field: "email", message: e1 });
    if (password.length === 0) found.push({ field: "password", message: "Enter your password" });
    setErrors(found);
    if (found.length > 0) return;
    setBusy(true);
    try {
      const name = email.trim();
      const k = await passwordKeys(await api.prelogin(name), password);
      const next = await api.login(name, k.authKey);
      setKeys(k);
      setPassword("");
      if (next === "done") await finish(k);
      else setStep(next);
    } catch (e) {
      setErrors([{ field: "email", message: apiErrorMessage(e) }]);
    } finally {
      setBusy(false);
    }
  }

  /** Sign in with a passkey alone (no name, no password). */
  async function passkeySignIn() {
    setErrors([]);
    setBusy(true);
    try {
      const result = await getPasskey(await passkeyApi.signInOptions());
      const used = await passkeyApi.signIn(result.credential);
      const me = await api.me();
      if (used.prfWrap && result.prfOutput) {
        session.unlock(await unlockWithPasskey(me, used.prfWrap, result));
        onSignedIn();
      } else {
        result.prfOutput?.fill(0);
        navigate({ name: "unlock" }); // signed in; this passkey cannot unlock: the password can
      }
    } catch (e) {
      setErrors([{ field: "email", message: passkeyErrorMessage(e) ?? apiErrorMessage(e) }]);
    } finally {
      setBusy(false);
    }
  }

  /** The second step by passkey, after the password. */
  async function passkeyStep() {
    setErrors([]);
    setBusy(true);
    try {
      const result = await getPasskey(await passkeyApi.secondFactorOptions());
      result.prfOutput?.fill(0); // the password unlocks here
      await passkeyApi.secondFactor(result.credential);
      await finish(keys!);
    } catch (e) {
      setErrors([{ field: "passkey", message: passkeyErrorMessage(e) ?? apiErrorMessage(e) }]);
    } finally {
      setBusy(false);
    }
  }

  async function submitCode(ev: Event) {
    ev.preventDefault();
    const e = totpCodeError(code);
    if (e) {
      setErrors([{ field: "code", message: e }]);
      return;
    }
    setBusy(true);
    try {
      const next = await api.totp(code.replace(/\s/g, ""));
      if (next === "passkey_enrol") setStep("passkey_enrol");
      else await finish(keys!);
    } catch (x) {
      setErrors([{ field: "code", message: apiErrorMessage(x) }]);
    } finally {
      setBusy(false);
    }
  }

  async function submitRecovery(ev: Event) {
    ev.preventDefault();
    const e = recoveryCodeError(recoveryCode);
    if (e) {
      setErrors([{ field: "recovery-code", message: e }]);
      return;
    }
    setBusy(true);
    try {
      const next = await api.recoveryCode(recoveryCode.trim());
      setRecoveryCode("");
      setErrors([]);
      if (next === "passkey_enrol") setStep("passkey_enrol");
      else await finish(keys!);
    } catch (x) {
      const wrong = x instanceof ApiError && x.code === "invalid_totp";
      setErrors([{ field: "recovery-code", message: wrong ? RECOVERY_CODE_REFUSED : apiErrorMessage(x) }]);
    } finally {
      setBusy(false);
    }
  }

  /** The "Use a recovery code" link of a second step. */
  const recoveryLink = (
    <p>
      <button type="button" class="dl-link-button" onClick={() => (setErrors([]), setBefore(step), setStep("recovery"))}>
        Use a recovery code
      </button>
    </p>
  );

  if (step === "passkey_enrol" && keys) return <PasskeyEnrol api={api} kek={keys.kek} onDone={() => finish(keys)} />;
  if (step === "enrol" && keys) {
    // Under a passkey requirement the enrolment leaves the session pending (next:
    // "passkey_enrol"): /me answers mfa_required, and the passkey step follows.
    const done = () =>
      void finish(keys).catch((e) => {
        if (e instanceof ApiError && e.code === "mfa_required") setStep("passkey_enrol");
        else setErrors([{ field: "email", message: apiErrorMessage(e) }]);
      });
    return <TotpSetup api={api} onDone={done} />;
  }
  return (
    <>
      <ErrorSummary errors={errors} />
      {step === "password" ? (
        <>
          <h1>Sign in</h1>
          <form onSubmit={submitPassword} noValidate>
            <TextInput id="email" label="Email address" type="email" autocomplete="username" inputMode="email" value={email} onInput={setEmail} error={err("email")} />
            <TextInput id="password" label="Password" type="password" autocomplete="current-password" value={password} onInput={setPassword} error={err("password")} />
            <Checkboxes
              id="remember"
              legend="This device"
              hint="Only on a device that only you use. Your keys stay encrypted on it, and signing out removes them."
              options={[["yes", "Remember this device"]]}
              value={remember}
              onChange={setRemember}
            />
            <Button disabled={busy}>{busy ? "Signing in…" : "Continue"}</Button>
          </form>
          {passkeysSupported() && (
            <>
              <h2 class="nhsuk-heading-s">Or use a passkey</h2>
              <p>Sign in with your phone’s fingerprint, face or screen lock, without your email address or password.</p>
              <Button type="button" secondary disabled={busy} onClick={() => void passkeySignIn()}>
                Sign in with a passkey
              </Button>
            </>
          )}
        </>
      ) : step === "passkey" || step === "passkey_only" ? (
        <>
          <h1>Use your passkey</h1>
          <p>Use the passkey on your phone or security key. Your device will ask for your fingerprint, face or screen lock.</p>
          <div id="passkey" tabIndex={-1}>
            <Button type="button" disabled={busy} onClick={() => void passkeyStep()}>
              {busy ? "Waiting for your passkey…" : "Continue with passkey"}
            </Button>
          </div>
          {step === "passkey" ? (
            <p>
              <button type="button" class="dl-link-button" onClick={() => (setErrors([]), setStep("totp"))}>
                Use a security code instead
              </button>
            </p>
          ) : (
            <p>Your organisation requires a passkey. If you have lost it, use one of your recovery codes.</p>
          )}
          {recoveryLink}
          {step === "passkey_only" && <p>If you have lost your passkey and your recovery codes, ask your administrator to reset your sign-in.</p>}
        </>
      ) : step === "recovery" ? (
        <>
          <h1>Enter a recovery code</h1>
          <p>Use one of the recovery codes you saved when you set up your account. Each code works once: cross it off after using it.</p>
          <form onSubmit={submitRecovery} noValidate>
            <TextInput id="recovery-code" label="Recovery code" hint="10 letters and numbers, for example k7m2q-xh9rt" autocomplete="off" width={20} value={recoveryCode} onInput={setRecoveryCode} error={err("recovery-code")} />
            <Button disabled={busy}>Sign in</Button>
          </form>
          <p>
            <button type="button" class="dl-link-button" onClick={() => (setErrors([]), setRecoveryCode(""), setStep(before))}>
              {before === "totp" ? "Use a security code instead" : "Use your passkey instead"}
            </button>
          </p>
          <p>If you have no recovery codes left, ask your administrator to reset your sign-in.</p>
        </>
      ) : (
        <>
          <h1>Enter your security code</h1>
          <form onSubmit={submitCode} noValidate>
            <TextInput id="code" label="Security code" hint="The 6-digit code from your authenticator app" autocomplete="one-time-code" inputMode="numeric" width={10} value={code} onInput={setCode} error={err("code")} />
            <Button disabled={busy}>Sign in</Button>
          </form>
          {recoveryLink}
        </>
      )}
    </>
  );
}
