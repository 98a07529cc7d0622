/*
 * Widget part 1 of 7 (ui/widget/__init__.py serves them as one /widget.js, in one function scope):
 * the script tag and its options, the widget's state, local storage, the texts in the visitor's language.
 */
var script = document.currentScript ||
  document.querySelector('script[data-site-key][src*="widget.js"]');
if (!script || window.__supportAssistantWidget) return;
window.__supportAssistantWidget = true;

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
