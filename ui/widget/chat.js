/*
 * Widget part 6 of 7: the conversation: opening it (greeting, restored history), asking a question
 * and showing the streamed answer (server-sent events over fetch + ReadableStream).
 */
function restore() {
  if (!state.conversationId) return Promise.resolve();
  return call("GET", "/v1/conversations/" + encodeURIComponent(state.conversationId)).then(function (r) {
    if (r.status === 404) { state.conversationId = null; write("conversation", null); return; }
    if (!r.ok) return failure(r).then(function (m) { setStatus(m, true); });
    return r.json().then(function (conv) {
      conv.messages.forEach(function (m) {
        if (m.seq) state.after = Math.max(state.after, m.seq);
        if (m.role === "agent") return showAgent(m);
        if (m.role === "assistant" && !m.content) return;  // silent while a person had the conversation
        var added = addMessage(m.role === "user" ? "user" : "bot", m.content);
        if (m.role === "assistant") { addSources(added.item, m.sources); addFeedback(added.item, m.id); }
      });
      if (conv.status === "handoff") startPolling();
    });
  });
}

// One start at a time: a question sent while the session is still opening waits for it, so the
// greeting and the restored history always sit above the new question (and never appear twice).
function start() {
  if (state.starting) return state.starting;
  setStatus("");
  state.starting = session().then(function () {
    state.ready = true;
    host.setAttribute("data-state", "ready");
    addMessage("bot", option("greeting", t("greeting")));
    return restore();
  }).catch(function (e) { if (!state.ready) state.starting = null; connectError(e); });
  return state.starting;
}

function parseEvent(block) {
  var name = "message", lines = [];
  block.split("\n").forEach(function (line) {
    if (line.indexOf("event:") === 0) name = line.slice(6).trim();
    else if (line.indexOf("data:") === 0) lines.push(line.slice(5).replace(/^ /, ""));
  });
  return lines.length ? { name: name, data: parseJSON(lines.join("\n")) } : null;
}

function ask(text) {
  if (state.busy || !text.trim()) return;
  if (!state.ready) {
    state.busy = true;
    return start().then(function () { state.busy = false; if (state.ready) return ask(text); });
  }
  state.busy = true;
  send.disabled = true;
  setStatus(t("thinking"));
  addMessage("user", text);
  var reply = addMessage("bot", "");
  reply.item.setAttribute("aria-busy", "true");
  var sources = [];
  var body = { message: text, stream: true };
  if (state.conversationId) body.conversation_id = state.conversationId;
  return call("POST", "/v1/chat", body, "text/event-stream").then(function (r) {
    if (!r.ok) return failure(r).then(function (m) { reply.item.remove(); setStatus(m, true); });
    var reader = r.body.getReader(), decoder = new TextDecoder(), buffer = "";
    var handle = function (ev) {
      if (!ev || !ev.data) return;
      if (ev.name === "classification") remember(ev.data.conversation_id);
      else if (ev.name === "sources") sources = ev.data.sources || [];
      else if (ev.name === "token") { reply.body.textContent += ev.data.text; scrollDown(); }
      else if (ev.name === "handoff") setStatus(t("handoff"));
      else if (ev.name === "error") setStatus(t("error", { m: ev.data.message }), true);
      else if (ev.name === "done") {
        var done = ev.data.reply;
        remember(done.conversation_id);
        if (done.route === "handoff" || done.route === "paused") startPolling();
        if (done.handoff && done.handoff.after_hours) askContact();
        if (done.route === "paused" && !done.answer) {
          reply.item.remove();  // a person has the conversation: the assistant says nothing
          setStatus("");
          return;
        }
        reply.body.textContent = done.answer;
        addSources(reply.item, done.sources || sources);
        addFeedback(reply.item, done.message_id);
        setStatus("");
      }
    };
    var pump = function () {
      return reader.read().then(function (chunk) {
        if (chunk.done) return;
        buffer += decoder.decode(chunk.value, { stream: true }).replace(/\r\n/g, "\n");
        var parts = buffer.split("\n\n");
        buffer = parts.pop();
        parts.forEach(function (block) { handle(parseEvent(block)); });
        return pump();
      });
    };
    return pump();
  }).catch(function (e) {
    if (e && e.status) connectError(e); else setStatus(t("offline"), true);
  }).then(function () {
    reply.item.removeAttribute("aria-busy");
    state.busy = false;
    send.disabled = state.refused;
    scrollDown();
  });
}
