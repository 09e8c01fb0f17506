import type { JSX } from "preact";
import { useState } from "preact/hooks";
import { type Api, type NextStep, apiErrorMessage } from "../api";
import { Button, Checkboxes, ErrorSummary, type FieldError, TextInput, usePageTitle } from "../components";
import type { Session } from "../session";
import { type PasswordKeys, openKeys, passwordKeys, rememberDevice } from "../unlock";
import { emailError, totpCodeError } from "../validation";
import { TotpSetup } from "./TotpSetup";

/**
 * Sign in (docs/api.md "Login"): email and password (PBKDF2 600,000 in WebCrypto, only the
 * derived auth key is sent), then the security code, then the keys are unlocked in memory.
 */
export function Login({ api, session, onSignedIn }: { api: Api; session: Session; onSignedIn: () => void }): JSX.Element {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [code, setCode] = useState("");
  const [step, setStep] = useState<"password" | NextStep>("password");
  const [keys, setKeys] = useState<PasswordKeys | null>(null);
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [busy, setBusy] = useState(false);
  const [remember, setRemember] = useState(new Set<string>());
  usePageTitle(step === "password" ? "Sign in" : "Enter your security code", errors.length > 0);
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

  async function submitCode(ev: Event) {
    ev.preventDefault();
    const e = totpCodeError(code);
    if (e) {
      setErrors([{ field: "code", message: e }]);
      return;
    }
    setBusy(true);
    try {
      await api.totp(code.replace(/\s/g, ""));
      await finish(keys!);
    } catch (x) {
      setErrors([{ field: "code", message: apiErrorMessage(x) }]);
    } finally {
      setBusy(false);
    }
  }

  if (step === "enrol" && keys) {
    return <TotpSetup api={api} onDone={() => void finish(keys).catch((e) => setErrors([{ field: "email", message: apiErrorMessage(e) }]))} />;
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
        </>
      ) : (
        <>
          <h1>Enter your security code</h1>
          <form onSubmit={submitCode} noValidate>
            <TextInput id="code" label="Security code" hint="The 6-digit code from your authenticator app" autocomplete="one-time-code" inputMode="numeric" width={10} value={code} onInput={setCode} error={err("code")} />
            <Button disabled={busy}>Sign in</Button>
          </form>
        </>
      )}
    </>
  );
}
