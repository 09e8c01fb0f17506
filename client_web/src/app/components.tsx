/**
 * NHS.UK design system components as Preact components (markup per nhsuk-frontend 10):
 * error summary, text/password inputs with label, hint and error message, buttons, back link.
 * Accessibility: every input has a visible label; errors are linked with aria-describedby and
 * listed in an error summary that takes focus (NHS.UK "Error summary" pattern).
 */
import type { ComponentChildren, JSX } from "preact";
import { useEffect, useRef } from "preact/hooks";

export interface FieldError {
  field: string;
  message: string;
}

export function ErrorSummary({ errors }: { errors: FieldError[] }): JSX.Element | null {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (errors.length > 0) ref.current?.focus();
  }, [errors]);
  if (errors.length === 0) return null;
  return (
    <div class="nhsuk-error-summary" aria-labelledby="error-summary-title" role="alert" tabIndex={-1} ref={ref}>
      <h2 class="nhsuk-error-summary__title" id="error-summary-title">
        There is a problem
      </h2>
      <div class="nhsuk-error-summary__body">
        <ul class="nhsuk-list nhsuk-error-summary__list">
          {errors.map((e) => (
            <li key={e.field}>
              <a href={`#${e.field}`} onClick={(ev) => focusField(ev, e.field)}>
                {e.message}
              </a>
            </li>
          ))}
        </ul>
      </div>
    </div>
  );
}

function focusField(ev: Event, id: string): void {
  // Hash routing uses the fragment, so move focus ourselves instead of following the link.
  ev.preventDefault();
  document.getElementById(id)?.focus();
}

interface InputProps {
  id: string;
  label: string;
  value: string;
  onInput: (v: string) => void;
  hint?: string;
  error?: string | null;
  type?: "text" | "password" | "email";
  autocomplete?: string;
  inputMode?: "numeric" | "text" | "email";
  width?: 10 | 20 | 30;
  spellcheck?: boolean;
}

export function TextInput(p: InputProps): JSX.Element {
  const describedBy = [p.hint ? `${p.id}-hint` : "", p.error ? `${p.id}-error` : ""].filter(Boolean).join(" ");
  return (
    <div class={`nhsuk-form-group${p.error ? " nhsuk-form-group--error" : ""}`}>
      <label class="nhsuk-label" for={p.id}>
        {p.label}
      </label>
      {p.hint && (
        <div class="nhsuk-hint" id={`${p.id}-hint`}>
          {p.hint}
        </div>
      )}
      {p.error && (
        <span class="nhsuk-error-message" id={`${p.id}-error`}>
          <span class="nhsuk-u-visually-hidden">Error:</span> {p.error}
        </span>
      )}
      <input
        class={`nhsuk-input${p.width ? ` nhsuk-input--width-${p.width}` : ""}${p.error ? " nhsuk-input--error" : ""}`}
        id={p.id}
        name={p.id}
        {...({ type: p.type ?? "text" } as Record<string, string>)}
        value={p.value}
        autocomplete={p.autocomplete}
        inputMode={p.inputMode}
        spellcheck={p.spellcheck ?? false}
        aria-describedby={describedBy || undefined}
        onInput={(e) => p.onInput((e.currentTarget as HTMLInputElement).value)}
      />
    </div>
  );
}

export function Button(p: {
  children: ComponentChildren;
  type?: "submit" | "button";
  secondary?: boolean;
  disabled?: boolean;
  onClick?: () => void;
}): JSX.Element {
  return (
    <button
      class={`nhsuk-button${p.secondary ? " nhsuk-button--secondary" : ""}`}
      type={p.type ?? "submit"}
      disabled={p.disabled}
      aria-disabled={p.disabled ? "true" : undefined}
      onClick={p.onClick}
    >
      {p.children}
    </button>
  );
}

export function BackLink({ href, children }: { href: string; children: ComponentChildren }): JSX.Element {
  return (
    <a class="nhsuk-back-link" href={href}>
      {children}
    </a>
  );
}

export function WarningCallout({ title, children }: { title: string; children: ComponentChildren }): JSX.Element {
  return (
    <div class="nhsuk-warning-callout">
      <h2 class="nhsuk-warning-callout__label">
        <span>
          <span class="nhsuk-u-visually-hidden">Important: </span>
          {title}
        </span>
      </h2>
      {children}
    </div>
  );
}

/** Sets document.title the NHS.UK way: "Page – Dermline", with "Error: " when invalid. */
export function usePageTitle(title: string, hasErrors = false): void {
  useEffect(() => {
    document.title = `${hasErrors ? "Error: " : ""}${title} – Dermline`;
  }, [title, hasErrors]);
}

function errorBits(id: string, error?: string | null) {
  return error ? (
    <span class="nhsuk-error-message" id={`${id}-error`}>
      <span class="nhsuk-u-visually-hidden">Error:</span> {error}
    </span>
  ) : null;
}

/** The NHS.UK form group around a set of choices: fieldset, legend, hint and error message. */
function ChoiceFieldset(p: {
  id: string;
  legend: string;
  hint?: string | undefined;
  error?: string | null | undefined;
  children: ComponentChildren;
}): JSX.Element {
  const described = [p.hint ? `${p.id}-hint` : "", p.error ? `${p.id}-error` : ""].filter(Boolean).join(" ");
  return (
    <div class={`nhsuk-form-group${p.error ? " nhsuk-form-group--error" : ""}`}>
      <fieldset class="nhsuk-fieldset" aria-describedby={described || undefined}>
        <legend class="nhsuk-fieldset__legend nhsuk-fieldset__legend--s">{p.legend}</legend>
        {p.hint && (
          <div class="nhsuk-hint" id={`${p.id}-hint`}>
            {p.hint}
          </div>
        )}
        {errorBits(p.id, p.error)}
        {p.children}
      </fieldset>
    </div>
  );
}

/** Radios in a fieldset with a legend (NHS.UK "Radios"). */
export function Radios(p: {
  id: string;
  legend: string;
  options: [value: string, label: string][];
  value: string;
  onChange: (v: string) => void;
  hint?: string;
  error?: string | null;
  inline?: boolean;
}): JSX.Element {
  return (
    <ChoiceFieldset id={p.id} legend={p.legend} hint={p.hint} error={p.error}>
        <div class={`nhsuk-radios${p.inline ? " nhsuk-radios--inline" : ""}`}>
          {p.options.map(([value, label], i) => (
            <div class="nhsuk-radios__item" key={value}>
              <input
                class="nhsuk-radios__input"
                id={i === 0 ? p.id : `${p.id}-${i + 1}`}
                name={p.id}
                type="radio"
                value={value}
                checked={p.value === value}
                onChange={() => p.onChange(value)}
              />
              <label class="nhsuk-label nhsuk-radios__label" for={i === 0 ? p.id : `${p.id}-${i + 1}`}>
                {label}
              </label>
            </div>
          ))}
        </div>
    </ChoiceFieldset>
  );
}

/** Checkboxes in a fieldset (NHS.UK "Checkboxes"); value is the set of checked keys. */
export function Checkboxes(p: {
  id: string;
  legend: string;
  options: [value: string, label: string][];
  value: Set<string>;
  onChange: (v: Set<string>) => void;
  hint?: string;
  error?: string | null;
}): JSX.Element {
  return (
    <ChoiceFieldset id={p.id} legend={p.legend} hint={p.hint} error={p.error}>
        <div class="nhsuk-checkboxes">
          {p.options.map(([value, label], i) => (
            <div class="nhsuk-checkboxes__item" key={value}>
              <input
                class="nhsuk-checkboxes__input"
                id={i === 0 ? p.id : `${p.id}-${i + 1}`}
                name={p.id}
                type="checkbox"
                value={value}
                checked={p.value.has(value)}
                onChange={(e) => {
                  const next = new Set(p.value);
                  if ((e.currentTarget as HTMLInputElement).checked) next.add(value);
                  else next.delete(value);
                  p.onChange(next);
                }}
              />
              <label class="nhsuk-label nhsuk-checkboxes__label" for={i === 0 ? p.id : `${p.id}-${i + 1}`}>
                {label}
              </label>
            </div>
          ))}
        </div>
    </ChoiceFieldset>
  );
}

export function Textarea(p: {
  id: string;
  label: string;
  value: string;
  onInput: (v: string) => void;
  hint?: string;
  error?: string | null;
  rows?: number;
}): JSX.Element {
  const described = [p.hint ? `${p.id}-hint` : "", p.error ? `${p.id}-error` : ""].filter(Boolean).join(" ");
  return (
    <div class={`nhsuk-form-group${p.error ? " nhsuk-form-group--error" : ""}`}>
      <label class="nhsuk-label" for={p.id}>
        {p.label}
      </label>
      {p.hint && (
        <div class="nhsuk-hint" id={`${p.id}-hint`}>
          {p.hint}
        </div>
      )}
      {errorBits(p.id, p.error)}
      <textarea
        class={`nhsuk-textarea${p.error ? " nhsuk-textarea--error" : ""}`}
        id={p.id}
        name={p.id}
        rows={p.rows ?? 4}
        value={p.value}
        aria-describedby={described || undefined}
        onInput={(e) => p.onInput((e.currentTarget as HTMLTextAreaElement).value)}
      />
    </div>
  );
}

export function Select(p: {
  id: string;
  label: string;
  options: [value: string, label: string][];
  value: string;
  onChange: (v: string) => void;
  error?: string | null;
}): JSX.Element {
  return (
    <div class={`nhsuk-form-group${p.error ? " nhsuk-form-group--error" : ""}`}>
      <label class="nhsuk-label" for={p.id}>
        {p.label}
      </label>
      {errorBits(p.id, p.error)}
      <select
        class={`nhsuk-select${p.error ? " nhsuk-select--error" : ""}`}
        id={p.id}
        name={p.id}
        value={p.value}
        aria-describedby={p.error ? `${p.id}-error` : undefined}
        onChange={(e) => p.onChange((e.currentTarget as HTMLSelectElement).value)}
      >
        {p.options.map(([v, l]) => (
          <option value={v} key={v}>
            {l}
          </option>
        ))}
      </select>
    </div>
  );
}
