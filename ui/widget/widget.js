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
 */
(function () {
  "use strict";

  var script = document.currentScript ||
    document.querySelector('script[data-site-key][src*="widget.js"]');
  if (!script || window.__supportAssistantWidget) return;
  window.__supportAssistantWidget = true;

  var STRINGS = {
    en: {
      open: "Chat with support", close: "Close chat", title: "Support",
      greeting: "Hi! Ask me about orders, delivery, returns and refunds.",
      placeholder: "Type your question", send: "Send", person: "Talk to a person",
      sources: "Sources", you: "You", assistant: "Assistant", thinking: "Thinking…",
      handoff: "A member of our team will take over this conversation.",
      refused: "This chat is not available on this website.",
      notAllowed: "This site is not allowed to embed the chat.",
      offline: "The chat could not connect. Please try again later.",
      busy: "Too many messages. Please wait {s} seconds.", error: "Something went wrong: {m}",
      helpful: "Helpful", notHelpful: "Not helpful", thanks: "Thanks for your feedback.",
      agent: "Support team", handedBack: "The assistant is answering again."
    },
    zh: {
      open: "联系客服", close: "关闭对话", title: "客服",
      greeting: "您好！可以问我订单、配送、退货和退款的问题。",
      placeholder: "请输入您的问题", send: "发送", person: "转人工客服",
      sources: "参考来源", you: "您", assistant: "助手", thinking: "正在思考…",
      handoff: "我们的客服人员将接手本次对话。",
      refused: "此网站无法使用本聊天服务。",
      notAllowed: "此网站未获准嵌入本聊天窗口。",
      offline: "无法连接聊天服务，请稍后再试。",
      busy: "消息过于频繁，请 {s} 秒后再试。", error: "出错了：{m}",
      helpful: "有帮助", notHelpful: "没有帮助", thanks: "感谢您的反馈。",
      agent: "客服人员", handedBack: "助手已恢复回答。"
    }
  };

  var data = script.dataset;
  var siteKey = data.siteKey || "";
  var api = (data.api || new URL(script.src, location.href).origin).replace(/\/$/, "");
  var storeKey = "support-assistant:" + siteKey + ":";
  var state = { token: null, expires: 0, sessionId: read("session"), conversationId: read("conversation"),
                settings: {}, busy: false, ready: false, starting: null, refused: false,
                after: 0, polling: null, shown: {} };  // shown: the agent messages on screen, by id
  var POLL_MS = 1000, POLL_RETRY_MS = 3000;

  function read(name) { try { return localStorage.getItem(storeKey + name); } catch (e) { return null; } }
  function write(name, value) {
    try { if (value) localStorage.setItem(storeKey + name, value); else localStorage.removeItem(storeKey + name); }
    catch (e) { /* private mode: the conversation just won't survive a reload */ }
  }
  function parseJSON(text) { try { return JSON.parse(text); } catch (e) { return null; } }

  function option(name, fallback) {
    var attr = data[name];
    if (attr !== undefined && attr !== "") return attr;
    var server = state.settings[{ showSources: "show_sources", lang: "language" }[name] || name];
    return server !== undefined && server !== null ? server : fallback;
  }
  function language() {
    var lang = String(option("lang", "auto"));
    if (lang === "auto") lang = (navigator.language || "en").toLowerCase().indexOf("zh") === 0 ? "zh" : "en";
    return STRINGS[lang] ? lang : "en";
  }
  function t(key, vars) {
    var lang = language();
    var own = (parseJSON(data.strings || "") || {})[lang] || {};
    var site = (state.settings.strings || {})[lang] || {};
    var text = own[key] || site[key] || STRINGS[lang][key] || STRINGS.en[key] || key;
    Object.keys(vars || {}).forEach(function (k) { text = text.replace("{" + k + "}", vars[k]); });
    return text;
  }
  function showSources() { return String(option("showSources", "true")) !== "false"; }

  // -- DOM -------------------------------------------------------------------------------
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  var ICONS = {
    chat: "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z",
    up: "M2 21h4V9H2v12zm20-11a2 2 0 0 0-2-2h-6.3l1-4.6V3a1.5 1.5 0 0 0-.4-1L13 1 6.6 7.4A2 2 0 0 0 6 8.8V19a2 2 0 0 0 2 2h9a2 2 0 0 0 1.8-1.2l3-7.1c.1-.2.2-.5.2-.7v-2z",
    down: "M22 3h-4v12h4V3zM2 14a2 2 0 0 0 2 2h6.3l-1 4.6v.4a1.5 1.5 0 0 0 .4 1l1.3 1 6.4-6.4A2 2 0 0 0 18 15.2V5a2 2 0 0 0-2-2H7a2 2 0 0 0-1.8 1.2l-3 7.1c-.1.2-.2.5-.2.7v2z"
  };
  function icon(name) {
    var svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    var path = document.createElementNS("http://www.w3.org/2000/svg", "path");
    path.setAttribute("d", ICONS[name]);
    svg.appendChild(path);
    return svg;
  }

  // A custom element name and inline position: generic page rules (div, *) cannot move or restyle it.
  var host = el("support-assistant-widget", { id: "support-assistant-widget" });
  host.style.cssText = "position:fixed;bottom:20px;right:20px;z-index:2147483000;display:block;";
  var shadow = host.attachShadow({ mode: "open" });
  var root = el("div", { class: "root" });
  var css = el("link", { rel: "stylesheet", href: api + "/widget.css" });
  var launcher = el("button", { class: "launcher", type: "button", "aria-haspopup": "dialog",
                                "aria-expanded": "false", "aria-controls": "sa-panel" });
  launcher.appendChild(icon("chat"));
  var launcherLabel = el("span", { class: "sr-only" });
  launcher.appendChild(launcherLabel);
  var panel = el("section", { id: "sa-panel", class: "panel", role: "dialog", "aria-modal": "false",
                              "aria-labelledby": "sa-title", hidden: "" });
  var header = el("header", { class: "header" });
  var title = el("h2", { id: "sa-title" });
  var closeBtn = el("button", { class: "close", type: "button" }, "×");
  header.appendChild(title);
  header.appendChild(closeBtn);
  var log = el("div", { class: "log", role: "log", "aria-live": "polite", "aria-relevant": "additions", tabindex: "0" });
  var status = el("p", { class: "status", role: "status" });
  var form = el("form", { class: "composer" });
  var input = el("textarea", { rows: "1", maxlength: "4000", name: "message" });
  var send = el("button", { class: "send", type: "submit" });
  var person = el("button", { class: "person", type: "button" });
  form.appendChild(input);
  form.appendChild(send);
  panel.appendChild(header);
  panel.appendChild(log);
  panel.appendChild(status);
  panel.appendChild(form);
  panel.appendChild(person);
  root.appendChild(launcher);
  root.appendChild(panel);
  shadow.appendChild(css);
  shadow.appendChild(root);

  function applyLook() {
    var color = option("color", "");
    if (/^#[0-9a-fA-F]{3,8}$/.test(String(color))) host.style.setProperty("--sa-color", color);
    var left = option("position", "right") === "left";
    host.setAttribute("data-position", left ? "left" : "right");
    host.style.left = left ? "20px" : "";
    host.style.right = left ? "" : "20px";
    panel.setAttribute("lang", language());
    title.textContent = option("title", t("title"));
    launcherLabel.textContent = t("open");
    launcher.setAttribute("aria-label", t("open"));
    closeBtn.setAttribute("aria-label", t("close"));
    input.setAttribute("placeholder", t("placeholder"));
    input.setAttribute("aria-label", t("placeholder"));
    send.textContent = t("send");
    person.textContent = t("person");
  }

  function setStatus(text, alert) {
    status.textContent = text || "";
    status.setAttribute("role", alert ? "alert" : "status");
  }
  function scrollDown() { log.scrollTop = log.scrollHeight; }

  function safeUrl(url) {
    try { var u = new URL(url, location.href); return /^https?:$/.test(u.protocol) ? u.href : null; }
    catch (e) { return null; }
  }

  // role: user | bot (the assistant) | agent (a person: `author` is their display name)
  function addMessage(role, text, author) {
    var item = el("div", { class: "msg " + role });
    if (role === "agent") {
      item.appendChild(el("span", { class: "author" }, author || t("agent")));
      item.appendChild(el("span", { class: "sr-only" }, ": "));
    } else {
      item.appendChild(el("span", { class: "sr-only" }, (role === "user" ? t("you") : t("assistant")) + ": "));
    }
    var body = el("div", { class: "text" }, text || "");
    item.appendChild(body);
    log.appendChild(item);
    scrollDown();
    return { item: item, body: body };
  }

  function addSources(item, sources) {
    if (!showSources() || !sources || !sources.length) return;
    var box = el("nav", { class: "sources", "aria-label": t("sources") });
    box.appendChild(el("span", { class: "sources-title" }, t("sources") + ":"));
    var list = el("ol"), seen = {};
    sources.forEach(function (s) {
      if (seen[s.doc_id]) return;  // several passages of one document: list the document once
      seen[s.doc_id] = true;
      var li = el("li");
      var href = s.url ? safeUrl(s.url) : null;
      var label = "[" + s.index + "] " + (s.title || s.doc_id);
      li.appendChild(href ? el("a", { href: href, target: "_blank", rel: "noopener noreferrer" }, label)
                          : el("span", {}, label));
      list.appendChild(li);
    });
    box.appendChild(list);
    item.appendChild(box);
  }

  function addFeedback(item, messageId) {
    if (!messageId) return;
    var bar = el("div", { class: "feedback", role: "group", "aria-label": t("helpful") + " / " + t("notHelpful") });
    [["up", t("helpful")], ["down", t("notHelpful")]].forEach(function (f) {
      var b = el("button", { type: "button", "aria-label": f[1], title: f[1], "aria-pressed": "false" });
      b.appendChild(icon(f[0]));
      b.addEventListener("click", function () {
        call("POST", "/v1/feedback", { conversation_id: state.conversationId, message_id: messageId, rating: f[0] })
          .then(function (r) {
            if (r.ok) { b.setAttribute("aria-pressed", "true"); setStatus(t("thanks")); }
          }).catch(function () {});
      });
      bar.appendChild(b);
    });
    item.appendChild(bar);
  }

  // -- API -------------------------------------------------------------------------------
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

  function showAgent(m) {
    if (state.shown[m.id]) return;
    state.shown[m.id] = true;
    addMessage("agent", m.content, m.author);
  }

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

  // -- a person has the conversation: poll for their replies -----------------------------
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
      });
    }).catch(function () { setStatus(t("offline"), true); }).then(function () { person.disabled = state.refused; });
  }

  // -- behaviour -------------------------------------------------------------------------
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
})();
