/*
 * Support chat widget: one tag on any page, no build step.
 *
 *   <script src="https://HOST/widget.js" data-site-key="pk_..." async></script>
 *
 * Options (data-* on the tag): data-title, data-color (#hex), data-position (right|left),
 * data-greeting, data-lang (auto|en|zh), data-show-sources (true|false), data-strings (JSON:
 * {"en": {"send": "Ask"}}), data-open (true: open on load), data-api (API origin; default: the
 * script's origin). The site's settings from the server apply first; data-* attributes win.
 *
 * Renders in a shadow DOM, streams answers over fetch + ReadableStream (server-sent events),
 * and keeps the conversation across reloads (localStorage session + conversation ids).
 * After a handoff a person answers: the widget polls GET /v1/conversations/{id}/messages about once
 * a second while the conversation is with a person, and shows their replies under their name.
 *
 * The script is served from the parts listed in ui/widget/__init__.py (setup, strings, view, api, handoff,
 * chat and this file, the behaviour), joined into one function scope; this part wires the events and mounts.
 */
function openPanel() {
  panel.hidden = false;
  launcher.setAttribute("aria-expanded", "true");
  host.setAttribute("data-open", "true");
  write("open", "1");
  start().then(function () { if (!input.disabled) input.focus(); });
}
function closePanel() {
  panel.hidden = true;
  launcher.setAttribute("aria-expanded", "false");
  host.removeAttribute("data-open");
  write("open", null);
  launcher.focus();
}

launcher.addEventListener("click", function () { if (panel.hidden) openPanel(); else closePanel(); });
closeBtn.addEventListener("click", closePanel);
// On the document, not the panel: focus may sit on a button that a pending request disabled.
document.addEventListener("keydown", function (e) { if (e.key === "Escape" && !panel.hidden) closePanel(); });
input.addEventListener("keydown", function (e) {
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); form.requestSubmit(); }
});
form.addEventListener("submit", function (e) {
  e.preventDefault();
  var text = input.value;
  input.value = "";
  ask(text);
});
person.addEventListener("click", handoff);

function mount() {
  applyLook();
  document.body.appendChild(host);
  if (data.open === "true" || read("open") === "1") openPanel();
}
if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
