/*
 * Widget part 5 of 7: a person has the conversation: asking for one ("Talk to a person"), polling
 * GET /v1/conversations/{id}/messages about once a second for their replies, shown under their name,
 * and, outside the site's opening hours, a field where the visitor leaves an e-mail address.
 */
function showAgent(m) {
  if (state.shown[m.id]) return;
  state.shown[m.id] = true;
  addMessage("agent", m.content, m.author);
}

function startPolling() {
  if (state.polling || !state.conversationId) return;
  host.setAttribute("data-handoff", "true");
  state.polling = setTimeout(poll, POLL_MS);
}
function stopPolling() {
  clearTimeout(state.polling);
  state.polling = null;
  host.removeAttribute("data-handoff");
}
function poll() {
  var id = state.conversationId;
  if (!id) return stopPolling();
  var path = "/v1/conversations/" + encodeURIComponent(id) + "/messages?after=" + state.after;
  call("GET", path).then(function (r) {
    if (r.status === 404) { stopPolling(); return; }
    if (!r.ok) { state.polling = setTimeout(poll, POLL_RETRY_MS); return; }  // busy (429) or down: later
    return r.json().then(function (out) {
      if (id !== state.conversationId) { state.polling = null; return startPolling(); }  // a new one began
      state.after = Math.max(state.after, out.last_seq || 0);
      out.messages.forEach(function (m) { if (m.role === "agent") showAgent(m); });
      if (out.status === "handoff") { state.polling = setTimeout(poll, POLL_MS); return; }
      stopPolling();
      setStatus(t("handedBack"));
    });
  }).catch(function () { if (state.polling) state.polling = setTimeout(poll, POLL_RETRY_MS); });
}

function handoff() {
  person.disabled = true;
  var body = state.conversationId ? { conversation_id: state.conversationId } : {};
  addMessage("user", t("person"));
  return call("POST", "/v1/handoff", body).then(function (r) {
    if (!r.ok) return failure(r).then(function (m) { setStatus(m, true); });
    return r.json().then(function (out) {
      remember(out.conversation_id);
      addMessage("bot", out.message || t("handoff"));
      setStatus(t("handoff"));
      if (out.status === "handoff") startPolling();
      if (out.after_hours) askContact();
    });
  }).catch(function () { setStatus(t("offline"), true); }).then(function () { person.disabled = state.refused; });
}

// Outside opening hours nobody answers now: offer a field for an e-mail address, once per conversation,
// under the handoff reply (POST /v1/conversations/{id}/contact; a malformed address is the server's 400).
function askContact() {
  if (!state.conversationId || log.querySelector(".contact") || read("contact") === state.conversationId) return;
  var box = el("form", { class: "msg bot contact", "aria-label": t("contactLabel") });
  var field = el("input", { type: "email", name: "email", required: "", maxlength: "254",
                            autocomplete: "email", "aria-label": t("contactLabel"), placeholder: t("contactLabel") });
  var button = el("button", { type: "submit", class: "contact-send" }, t("contactSend"));
  box.appendChild(field);
  box.appendChild(button);
  box.addEventListener("submit", function (e) {
    e.preventDefault();
    button.disabled = true;
    var path = "/v1/conversations/" + encodeURIComponent(state.conversationId) + "/contact";
    call("POST", path, { email: field.value }).then(function (r) {
      if (!r.ok) return failure(r).then(function (m) { setStatus(m, true); field.focus(); });
      return r.json().then(function (out) {
        write("contact", state.conversationId);
        box.replaceWith(addMessage("bot", t("contactThanks", { email: out.email })).item);
        setStatus("");
      });
    }).catch(function () { setStatus(t("offline"), true); }).then(function () { button.disabled = false; });
  });
  log.appendChild(box);
  scrollDown();
}
