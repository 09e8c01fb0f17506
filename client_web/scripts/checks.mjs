// Page checks shared by `npm run check:a11y` and `npm run e2e` (run inside the page with
// page.evaluate, so they see the real layout).

/**
 * WCAG 2.2 SC 2.5.8 "Target Size (Minimum)": every pointer target at least 24 by 24 CSS px.
 * Checked on every visible interactive element. Exceptions taken from the SC: an inline link
 * inside a sentence ("Inline"), and targets the user agent draws itself are not ours (none
 * here). Returns a list of problems (empty when fine).
 */
export function touchTargetProblems() {
  const sel = 'a[href], button, input:not([type="hidden"]), select, textarea, summary, [role="button"], [tabindex]:not([tabindex="-1"])';
  const out = [];
  for (const el of document.querySelectorAll(sel)) {
    const cs = getComputedStyle(el);
    if (cs.display === "none" || cs.visibility === "hidden") continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    // The skip link is moved off-screen until it takes focus; it is 24 px+ when shown.
    if (el.classList.contains("nhsuk-skip-link") && document.activeElement !== el) continue;
    if (el.tagName === "A" && cs.display === "inline") {
      const block = el.closest("p, li, dd, span.nhsuk-hint, .nhsuk-hint");
      if (block && block.textContent.trim().length > el.textContent.trim().length) continue; // inline in a sentence
    }
    // A checkbox or radio input is hidden by nhsuk-frontend behind its drawn box; the input
    // itself is the 44 px target (opacity 0), so it is measured like any other.
    if (r.width < 24 || r.height < 24) {
      const name = (el.getAttribute("aria-label") || el.textContent || el.id || el.tagName).trim().slice(0, 40);
      out.push(`target ${el.tagName.toLowerCase()} "${name}" is ${Math.round(r.width)}x${Math.round(r.height)} px (< 24x24)`);
    }
  }
  return out;
}

/**
 * The NHS.UK error summary pattern after a form was submitted with errors: a summary titled
 * "There is a problem" that has focus, one link per error, each pointing at an input on the
 * page that is marked invalid with its own error message next to it.
 */
export function errorSummaryProblems() {
  const out = [];
  const summary = document.querySelector(".nhsuk-error-summary");
  if (!summary) return ["no error summary"];
  if (!/There is a problem/.test(summary.textContent)) out.push("error summary without its title");
  if (document.activeElement !== summary) out.push("error summary does not have focus");
  const links = [...summary.querySelectorAll("a[href^='#']")];
  if (links.length === 0) out.push("error summary lists no errors");
  for (const a of links) {
    const id = a.getAttribute("href").slice(1);
    const field = document.getElementById(id);
    if (!field) {
      out.push(`error summary link to missing field #${id}`);
      continue;
    }
    const group = field.closest(".nhsuk-form-group");
    if (!group || !group.querySelector(".nhsuk-error-message")) out.push(`field #${id} has no error message next to it`);
  }
  return out;
}
