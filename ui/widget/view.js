/*
 * Widget part 3 of 7: the widget's DOM in its shadow root: launcher, panel, log, composer, and the
 * message bubbles with their sources and feedback buttons.
 */
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
