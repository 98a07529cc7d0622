/*
 * Widget part 4 of 7: the server: a widget session from the site's public key, authorised calls
 * (one fresh session on a 401), and what a refused or failed call tells the visitor.
 */
function session() {
  if (state.token && Date.now() < state.expires) return Promise.resolve(state.token);
  return fetch(api + "/v1/widget/session", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify(state.sessionId ? { site_key: siteKey, session_id: state.sessionId } : { site_key: siteKey })
  }).then(function (r) {
    return r.json().catch(function () { return {}; }).then(function (body) {
      var err = body.error || {}, e = new Error(err.message || r.statusText);
      if (!r.ok) { e.status = r.status; e.code = err.code; throw e; }
      state.token = body.token;
      state.expires = Date.now() + (body.expires_in - 15) * 1000;
      state.sessionId = body.session_id;
      state.settings = body.widget || {};
      write("session", body.session_id);
      applyLook();
      return state.token;
    });
  });
}

function call(method, path, body, accept) {
  return session().then(function (token) {
    var go = function (tok) {
      var headers = { Authorization: "Bearer " + tok, Accept: accept || "application/json" };
      if (body) headers["Content-Type"] = "application/json";
      return fetch(api + path, { method: method, headers: headers, body: body ? JSON.stringify(body) : undefined });
    };
    return go(token).then(function (r) {
      if (r.status !== 401) return r;
      state.token = null;  // expired or rotated secret: one fresh session, then give up
      return session().then(go);
    });
  });
}

function failure(r) {
  return r.json().catch(function () { return {}; }).then(function (body) {
    var err = body.error || {};
    if (r.status === 429 && err.code === "rate_limited") return t("busy", { s: r.headers.get("Retry-After") || "60" });
    if (r.status === 403 && err.code === "origin_not_allowed") return t("notAllowed");
    if (r.status === 401 || r.status === 403) return t("refused");
    return err.message || t("error", { m: r.status });
  });
}

// A refused page (unknown key, or an origin the site does not allow) can never chat: say why and lock the
// input; anything else (network down, server starting) may pass, so the visitor can try again.
function connectError(e) {
  state.refused = e && (e.status === 401 || e.status === 403);
  var notAllowed = state.refused && e.code === "origin_not_allowed";
  setStatus(notAllowed ? t("notAllowed") : state.refused ? t("refused") : t("offline"), true);
  host.setAttribute("data-state", state.refused ? "refused" : "offline");
  input.disabled = send.disabled = person.disabled = state.refused;
}

function remember(conversationId) {
  if (conversationId && conversationId !== state.conversationId) {
    state.conversationId = conversationId;
    state.after = 0;  // a new conversation: its messages are numbered from 1
    write("conversation", conversationId);
  }
}
