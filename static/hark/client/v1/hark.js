/*! Hark web client v1. Readable source: /static/hark/client/src/hark.js */
(function (w, d) {
"use strict";
var VERSION = "1.0.0";
var prior = w.hark;
if (prior && prior.version) return;
var PREFIX = "hark:";
var API = "/api/v1/client/";
var TIMEOUT = 8000; // ms before a call is abandoned: a slow Hark never holds the page up
var me = d.currentScript;
var base = me && me.src ? new URL(me.src).origin : "";
var cfg = { key: null, locale: null, pinging: true, theme: null, strings: null };
var booting = true; // while the snippet's queued calls run, setProject waits for identifyUser
var user = load("user", null); // {id, email, traits, signature} of an identified user
var callbacks = {};
var armed = []; // cancel functions of the triggers armed for the current page
var pageSeq = 0; // stale page answers (the user navigated on) are ignored
var lastUrl = null;
var forms = {}; // survey content by id, from the last page call
var active = null; // the survey on screen: at most one at a time
var claiming = null; // the survey whose display is being claimed (see show)
var dueNext = []; // surveys that came due while a claim was in flight
var personSeq = 0;
var aidInMemory = null;
function debug() {
try { console.debug.apply(console, ["[hark]"].concat([].slice.call(arguments))); } catch (e) { /* no console */ }
}
function report(error) {
debug(error);
var cb = callbacks.onError;
if (cb) try { cb(error); } catch (e) { debug("onError threw", e); }
}
function guard(fn) {
return function () {
try { return fn.apply(this, arguments); } catch (e) { report(e); }
};
}
function fire(name) {
var cb = callbacks[name];
if (!cb) return undefined;
try { return cb.apply(null, [].slice.call(arguments, 1)); } catch (e) { report(e); }
return undefined;
}
function load(k, dflt) {
try { var v = w.localStorage.getItem(PREFIX + k); return v == null ? dflt : JSON.parse(v); } catch (e) { return dflt; }
}
function save(k, v) {
try { if (v == null) w.localStorage.removeItem(PREFIX + k); else w.localStorage.setItem(PREFIX + k, JSON.stringify(v)); } catch (e) { /* full or denied */ }
}
function uid() {
var c = w.crypto;
if (c && c.randomUUID) return c.randomUUID();
var b = new Uint8Array(16);
c.getRandomValues(b);
return [].map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
}
function anonymousId() {
var id = load("aid", null);
if (id) return id;
if (aidInMemory) return aidInMemory;
id = uid();
save("aid", id);
if (load("aid", null) !== id) aidInMemory = id; // storage refused it
return id;
}
function sessionStart() {
try {
var s = +w.sessionStorage.getItem(PREFIX + "ss");
if (!s) { s = Date.now(); w.sessionStorage.setItem(PREFIX + "ss", s); }
return s;
} catch (e) { return Date.now(); }
}
function who(withTraits) {
var body = { anonymous_id: anonymousId() };
if (user) {
body.user = { id: user.id, email: user.email };
if (withTraits && user.traits) body.user.traits = user.traits;
if (user.signature) body.signature = user.signature;
}
return body;
}
function url(path, key) {
return base + API + path + "?key=" + encodeURIComponent(key || cfg.key);
}
function post(path, body, keepalive, key) {
var ctl = w.AbortController ? new AbortController() : null;
var timer = setTimeout(function () { if (ctl) ctl.abort(); }, TIMEOUT);
return fetch(url(path, key), {
method: "POST",
mode: "cors",
credentials: "omit",
keepalive: !!keepalive,
headers: { "Content-Type": "text/plain" },
body: JSON.stringify(body),
signal: ctl ? ctl.signal : undefined,
}).then(function (r) {
return r.text().then(function (t) { return [r, t]; });
}).then(function (answer) {
clearTimeout(timer);
var r = answer[0], t = answer[1], data = null;
try { data = t ? JSON.parse(t) : null; } catch (e) { /* not JSON */ }
if (!r.ok) {
var err = new Error("Hark " + path + ": " + r.status + " " + ((data && (data.error || data.detail)) || ""));
err.status = r.status;
err.data = data;
throw err;
}
return data || {};
}, function (e) { clearTimeout(timer); e.offline = true; throw e; });
}
var seq = 0;
var flushing = false;
var failures = 0;
var retryTimer = null;
var handlers = {}; // what this page wants done with an answer (not kept across page loads)
function enqueue(path, body, onDone) {
body.idempotency_key = body.idempotency_key || uid();
var id = PREFIX + "q:" + (Date.now() * 1000 + (seq++ % 1000)) + "-" + body.idempotency_key;
var item = { k: cfg.key, p: path, b: body };
try { w.localStorage.setItem(id, JSON.stringify(item)); } catch (e) { memory[id] = item; }
if (onDone) handlers[id] = onDone;
flush();
}
var memory = {}; // the queue when localStorage is not available
function pending() {
var ids = Object.keys(memory);
try {
for (var i = 0; i < w.localStorage.length; i++) {
var k = w.localStorage.key(i);
if (k && k.indexOf(PREFIX + "q:") === 0) ids.push(k);
}
} catch (e) { /* no storage */ }
return ids.sort();
}
function read(id) {
if (memory[id]) return memory[id];
try { return JSON.parse(w.localStorage.getItem(id)); } catch (e) { return null; }
}
function drop(id) {
delete memory[id];
delete handlers[id];
try { w.localStorage.removeItem(id); } catch (e) { /* no storage */ }
}
function flush() {
if (flushing || !cfg.key) return;
var ids = pending();
if (!ids.length) return;
var id = null, item = null;
for (var i = 0; i < ids.length && !id; i++) {
var it = read(ids[i]);
if (!it || !it.b || !it.p) drop(ids[i]); // corrupt
else if (it.k === cfg.key) { id = ids[i]; item = it; } // skip another project's items
}
if (!id) return;
flushing = true;
post(item.p, item.b, true, item.k).then(guard(function (data) {
flushing = false;
failures = 0;
var done = handlers[id];
drop(id);
if (done) done(data);
flush();
}), guard(function (e) {
flushing = false;
if (!e.offline && e.status && e.status < 500 && e.status !== 429 && e.status !== 408) {
drop(id);
report(e);
flush();
return;
}
failures++;
var wait = Math.min(60000, 1000 * Math.pow(2, failures - 1)) * (0.8 + Math.random() * 0.4);
clearTimeout(retryTimer);
retryTimer = setTimeout(guard(flush), wait);
debug("will retry in", Math.round(wait), "ms", e);
}));
}
function beaconAll() {
if (!cfg.key || !navigator.sendBeacon) return;
pending().forEach(function (id) {
var item = read(id);
if (item && item.b && item.k === cfg.key) {
navigator.sendBeacon(url(item.p, item.k), new Blob([JSON.stringify(item.b)], { type: "text/plain" }));
}
});
}
function disarm() {
armed.forEach(function (cancel) { cancel(); });
armed = [];
dueNext = []; // they came due on the page being left
}
function listen(target, type, fn, opts) {
var g = guard(fn);
target.addEventListener(type, g, opts);
armed.push(function () { target.removeEventListener(type, g, opts); });
}
function later(ms, fn) {
var t = setTimeout(guard(fn), Math.max(0, ms));
armed.push(function () { clearTimeout(t); });
}
function scrolled() {
var el = d.documentElement, h = Math.max(el.scrollHeight, d.body ? d.body.scrollHeight : 0);
return h <= w.innerHeight ? 100 : (100 * (w.scrollY + w.innerHeight)) / h;
}
function arm(list) {
disarm();
(list || []).forEach(function (s) {
forms[s.id] = s;
var fired = false;
var t = s.trigger || {}, due = function () { if (!fired && show(s, false) !== false) fired = true; };
var seconds = +t.seconds || 0;
switch (t.type) {
case "page": due(); break;
case "delay": later(seconds * 1000, due); break;
case "session_delay": later(sessionStart() + seconds * 1000 - Date.now(), due); break;
case "exit_intent":
listen(d, "mouseout", function (e) { if (!e.relatedTarget && e.clientY <= 0) due(); });
break;
case "scroll":
var check = function () { if (scrolled() >= (+t.percent || 0)) due(); };
listen(w, "scroll", check, { passive: true });
later(0, check);
break;
default: // "event" surveys come due in the answer to trackEvent; "manual" via showForm
}
});
}
function trackPage() {
if (!cfg.key) return;
var url = location.href;
lastUrl = url;
disarm();
var mine = ++pageSeq;
var body = who(true);
body.url = url;
body.referrer = d.referrer || "";
body.locale = locale();
body.title = d.title || "";
post("page", body).then(guard(function (data) {
if (user && body.user && body.user.traits) { user.traits = null; save("user", user); }
if (mine !== pageSeq) return;
look(data);
arm(data.surveys);
}), report);
}
function look(data) {
if (data.theme) cfg.theme = data.theme;
if (data.strings) cfg.strings = data.strings;
}
function locale() {
return cfg.locale || d.documentElement.lang || navigator.language || "";
}
function navigated() {
if (location.href === lastUrl) return;
disarm(); // at once, before the page call returns: nothing armed survives a navigation
cfg.context = null; // addToResponse data is this page's
if (cfg.pinging) trackPage();
}
["pushState", "replaceState"].forEach(function (name) {
var original = history[name];
if (typeof original !== "function") return;
history[name] = function () {
var result = original.apply(this, arguments);
guard(navigated)();
return result;
};
});
w.addEventListener("popstate", guard(navigated));
w.addEventListener("hashchange", guard(navigated));
w.addEventListener("online", guard(function () { failures = 0; flush(); }));
w.addEventListener("pagehide", guard(beaconAll));
d.addEventListener("visibilitychange", guard(function () { if (d.visibilityState === "hidden") beaconAll(); }));
var waiting = null;
function show(s, force, explicit) {
if (active) return false;
if (claiming) {
var known = s.id === claiming.id || dueNext.some(function (x) { return x.id === s.id; });
if (explicit) waiting = [s, force];
else if (!known) dueNext.push(s);
return;
}
if (fire("onBeforeShow", s.id, s) === false) { claimNext(); return; }
claiming = s;
var person = personSeq;
var body = who();
body.survey_id = s.id;
body.url = location.href;
body.locale = locale();
body.force = !!force;
var done = function (refused) {
claiming = null;
if (!refused) dueNext = [];
var next_ = waiting;
waiting = null;
if (next_ && !active) show(next_[0], next_[1], true);
else claimNext();
};
post("displays", body).then(guard(function (data) {
if (data.display_id && !active && person === personSeq) {
look(data);
render(data.survey || s, data.display_id);
}
done(false);
}), guard(function (e) {
if (e.status !== 409) report(e); else debug("not shown:", e.data);
done(e.status === 409);
}));
}
function claimNext() {
if (active || claiming || !dueNext.length) return;
show(dueNext.shift(), false);
}
function num(v) {
if (typeof v === "boolean" || v === null || v === undefined) return null;
if (typeof v === "number") return isFinite(v) ? v : null;
var s = String(v).trim();
if (!s || !/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(s)) return null;
return parseFloat(s);
}
function same(a, b) {
var x = num(a), y = num(b);
if (x !== null && y !== null) return x === y;
return String(a).trim().toLowerCase() === String(b).trim().toLowerCase();
}
function matches(rule, answer) {
var op = rule.operator, exp = rule.value;
var blank = answer === null || answer === undefined || answer === "" || (Array.isArray(answer) && !answer.length);
if (op === "answered") return !blank;
if (op === "skipped") return blank;
if (blank) return false;
if (op === "eq" || op === "neq") {
var hit = Array.isArray(answer) ? answer.some(function (i) { return same(i, exp); }) : same(answer, exp);
return op === "eq" ? hit : !hit;
}
if (op === "contains") {
var needle = String(exp == null ? "" : exp).trim().toLowerCase();
if (Array.isArray(answer)) return answer.some(function (i) { return String(i).trim().toLowerCase() === needle; });
return !!needle && String(answer).toLowerCase().indexOf(needle) >= 0;
}
var a = num(answer), b = num(exp);
if (a === null || b === null) return false;
return op === "lt" ? a < b : op === "lte" ? a <= b : op === "gt" ? a > b : op === "gte" ? a >= b : false;
}
function next(questions, index, answer) {
var keys = questions.map(function (q) { return q.key; });
var rules = questions[index].logic || [];
for (var i = 0; i < rules.length; i++) {
var r = rules[i];
if (!r || typeof r !== "object" || !matches(r, answer)) continue;
if (r.goto === "end") return -1;
var j = keys.indexOf(r.goto);
if (j > index) return j;
}
return index + 1 < questions.length ? index + 1 : -1;
}
var CSS = [
":host{all:initial!important;display:block!important;position:static!important}",
"*{box-sizing:border-box;margin:0;padding:0;font:inherit;color:inherit;letter-spacing:normal;text-transform:none}",
".wrap{position:fixed;z-index:2147483000;bottom:16px;right:16px;width:min(380px,calc(100vw - 32px));font-family:var(--hark-font,system-ui,-apple-system,\"Segoe UI\",Roboto,Helvetica,Arial,sans-serif);font-size:15px;line-height:1.45;color:var(--hark-text);text-align:left}",
".bl{right:auto;left:16px}",
".c{inset:0;width:auto;display:flex;align-items:center;justify-content:center;padding:16px}",
".backdrop{position:absolute;inset:0;background:rgba(10,12,20,.55)}",
".card{position:relative;background:var(--hark-bg);color:var(--hark-text);border-radius:var(--hark-radius);padding:18px;box-shadow:0 12px 40px rgba(0,0,0,.22),0 1px 4px rgba(0,0,0,.12);animation:in .22s ease-out;max-height:calc(100vh - 32px);overflow:auto}",
".c .card{width:min(520px,100%)}",
"@keyframes in{from{opacity:0;transform:translateY(12px)}}",
"@media (prefers-reduced-motion:reduce){.card{animation:none}.fill{transition:none!important}}",
".top{display:flex;align-items:center;gap:10px;margin-bottom:8px}",
".end{justify-content:flex-end}",
".bar{flex:1;height:6px;border-radius:99px;background:rgba(128,128,140,.25);overflow:hidden}",
".fill{display:block;height:100%;background:var(--hark-brand);transition:width .3s}",
".x{background:none;border:0;cursor:pointer;min-width:32px;min-height:32px;border-radius:8px;font-size:16px;color:var(--hark-text)}",
".step{font-size:12px;color:var(--hark-muted);margin-bottom:4px}",
".q{border:0;min-width:0}",
".title{display:block;font-size:17px;font-weight:650;margin-bottom:6px;overflow-wrap:anywhere}",
".opt-l{font-weight:400;font-size:13px;color:var(--hark-muted)}",
".desc{color:var(--hark-muted);margin-bottom:8px;white-space:pre-line;overflow-wrap:anywhere}",
".err{color:#b3141b;font-size:13px;min-height:0}",
".err:empty{display:none}",
".opts{display:grid;gap:4px;margin:10px 0 4px}",
".k-nps{grid-template-columns:repeat(11,1fr)}",
".k-ces{grid-template-columns:repeat(7,1fr)}",
".k-csat{grid-template-columns:repeat(auto-fit,minmax(58px,1fr))}",
".k-rating{grid-template-columns:repeat(auto-fit,minmax(30px,1fr))}",
".k-single_choice{grid-template-columns:1fr}",
".opt{cursor:pointer;min-height:40px;min-width:24px;padding:6px 2px;border:1px solid var(--hark-border);background:var(--hark-bg);color:var(--hark-text);border-radius:calc(var(--hark-radius)/1.5);font-weight:600;display:flex;flex-direction:column;align-items:center;justify-content:center;gap:2px;overflow-wrap:anywhere}",
".k-single_choice .opt{align-items:flex-start;text-align:left;padding:9px 12px;font-weight:500}",
".opt:hover,.opt[aria-pressed=true]{background:var(--hark-brand);border-color:var(--hark-brand);color:var(--hark-on-brand)}",
".k-csat .opt{font-size:22px}",
".cap{font-size:11px;font-weight:500}",
".stars .opt{font-size:24px;border-color:transparent;background:none;color:var(--hark-border)}",
".stars:hover .opt,.stars .opt[aria-pressed=true]{color:#b45309;background:none}",
".stars .opt:hover~.opt{color:var(--hark-border)}",
".scale{display:flex;justify-content:space-between;font-size:12px;color:var(--hark-muted)}",
".checks{display:grid;gap:6px;margin:10px 0}",
".check{display:flex;gap:10px;align-items:center;padding:9px 12px;border:1px solid var(--hark-border);border-radius:calc(var(--hark-radius)/1.5);cursor:pointer;overflow-wrap:anywhere}",
".check input{width:18px;height:18px;flex:none;accent-color:var(--hark-brand)}",
"textarea,input[type=email]{display:block;width:100%;margin:10px 0 4px;padding:9px 11px;border:1px solid var(--hark-border);border-radius:calc(var(--hark-radius)/1.5);background:var(--hark-bg);color:var(--hark-text);resize:vertical}",
".act{display:flex;justify-content:flex-end;gap:8px;margin-top:12px}",
".act:empty{display:none}",
".btn{cursor:pointer;display:inline-flex;align-items:center;justify-content:center;min-height:40px;padding:8px 16px;border-radius:calc(var(--hark-radius)/1.5);border:1px solid var(--hark-border);background:var(--hark-bg);color:var(--hark-text);text-decoration:none;font-weight:500}",
".primary{background:var(--hark-brand);border-color:var(--hark-brand);color:var(--hark-on-brand);font-weight:600}",
".q>.primary{margin-top:10px}",
":focus{outline:none}",
":focus-visible,input:focus,textarea:focus{outline:3px solid var(--hark-focus);outline-offset:2px}",
".thanks{text-align:center}",
".mark{width:48px;height:48px;margin:0 auto 8px;border-radius:50%;display:grid;place-items:center;font-size:22px;background:var(--hark-brand);color:var(--hark-on-brand)}",
".thanks .btn{margin-top:10px}",
".brand{margin-top:10px;font-size:11px;color:var(--hark-muted);text-align:center}",
".sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}",
"@media (max-width:480px){.wrap:not(.c){left:8px;right:8px;bottom:8px;width:auto}.k-nps{gap:2px}.opt{min-height:36px}}",
].join("");
var sheet = null;
function h(tag, attrs, kids) {
var el = d.createElement(tag);
for (var k in attrs || {}) {
var v = attrs[k];
if (v === null || v === undefined || v === false) continue;
if (k === "text") el.textContent = v;
else if (k.slice(0, 2) === "on") el.addEventListener(k.slice(2), guard(v));
else el.setAttribute(k, v === true ? "" : v);
}
(kids || []).forEach(function (c) { if (c) el.appendChild(c); });
return el;
}
function colour(v, dflt) {
return typeof v === "string" && /^(#[0-9a-f]{3,8}|rgba?\([\d\s.,%]+\))$/i.test(v.trim()) ? v.trim() : dflt;
}
function luminance(hex) {
var m = /^#([0-9a-f]{6}|[0-9a-f]{3})$/i.exec(hex);
if (!m) return 0.5;
var s = m[1].length === 3 ? m[1].replace(/./g, "$&$&") : m[1];
var c = [0, 2, 4].map(function (i) {
var x = parseInt(s.substr(i, 2), 16) / 255;
return x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4);
});
return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
}
function onColour(hex) {
var l = luminance(hex);
return (l + 0.05) / 0.05 > 1.05 / (l + 0.05) ? "#000" : "#fff";
}
function contrast(a, b) {
var x = luminance(a) + 0.05, y = luminance(b) + 0.05;
return x > y ? x / y : y / x;
}
function palette(text, bg, brand) {
var darkBg = luminance(bg) < 0.3;
var pick = function (c, min) { return contrast(c, bg) >= min ? c : text; };
return "--hark-brand:" + brand + ";--hark-on-brand:" + onColour(brand) + ";--hark-bg:" + bg + ";--hark-text:" + text +
";--hark-muted:" + pick(darkBg ? "#c3c8d8" : "#545a6e", 4.5) + ";--hark-border:" + pick(darkBg ? "#7a8095" : "#80869c", 3) +
";--hark-focus:" + pick(darkBg ? "#93c5fd" : "#1d4ed8", 3) + ";";
}
function themeSheet(theme) {
theme = theme || {};
var brand = colour(theme.brand_color, "#4f46e5");
var light = palette(colour(theme.text_color, "#1d2030"), colour(theme.background_color, "#ffffff"), brand);
var dk = theme.dark || {};
var dark = palette(colour(dk.text_color, "#f3f4f8"), colour(dk.background_color, "#1c1f2a"), colour(dk.brand_color, brand));
var font = String(theme.font_family || "").replace(/[^\w\s,"'-]/g, "").slice(0, 200);
var radius = theme.radius == null || isNaN(+theme.radius) ? 12 : Math.max(0, Math.min(32, +theme.radius));
var common = "--hark-radius:" + radius + "px;" + (font ? "--hark-font:" + font + ";" : "");
var mode = theme.dark_mode;
return ":host{" + common + (mode === "dark" ? dark : light) + "}" +
(mode === "auto" ? "@media (prefers-color-scheme:dark){:host{" + dark + "}}" : "");
}
function adopt(root, theme) {
var css = themeSheet(theme);
if (root.adoptedStyleSheets !== undefined && w.CSSStyleSheet) {
try {
if (!sheet) { sheet = new CSSStyleSheet(); sheet.replaceSync(CSS); }
var t = new CSSStyleSheet();
t.replaceSync(css);
root.adoptedStyleSheets = [sheet, t];
return;
} catch (e) { debug("constructable stylesheets unavailable", e); }
}
root.appendChild(h("style", { text: CSS + css }));
}
var T = { next: "Next", submit: "Submit", skip: "Skip", close: "Close", progress: "Question {n} of {total}", thank_you: "Thank you!", continue: "Continue", optional: "(optional)", required: "Please answer this question.", invalid_email: "Please enter a valid email address.", dialog_label: "Survey" };
var CSAT = { "-2": ["\ud83d\ude20", "Very unsatisfied"], "-1": ["\ud83d\ude41", "Unsatisfied"], 0: ["\ud83d\ude10", "Neutral"], 1: ["\ud83d\ude42", "Satisfied"], 2: ["\ud83d\ude0d", "Very satisfied"] };
var CSAT_VALUES = { 2: [-2, 2], 3: [-2, 0, 2], 4: [-2, -1, 1, 2], 5: [-2, -1, 0, 1, 2] };
function range(a, b) { var r = []; for (var i = a; i <= b; i++) r.push(i); return r; }
function choices(q) {
return ((q.config || {}).choices || []).map(String).filter(function (c) { return c.trim(); });
}
function options(q) {
if (q.options && q.options.length) return q.options;
var c = q.config || {}, v;
switch (q.type) {
case "nps": v = range(0, 10); break;
case "ces": v = range(1, 7); break;
case "rating": v = range(1, c.scale >= 2 && c.scale <= 10 ? +c.scale : 5); break;
case "csat": v = CSAT_VALUES[c.points] || CSAT_VALUES[5]; break;
case "single_choice": case "multiple_choice": v = choices(q); break;
default: return null;
}
return v.map(function (x) { return q.type === "csat" ? { value: x, label: CSAT[x][0], title: CSAT[x][1] } : { value: x, label: String(x) }; });
}
function render(s, responseId) {
var questions = s.questions || [];
if (!questions.length) return;
var texts = {}, strings = cfg.strings || {};
for (var k in T) texts[k] = typeof strings[k] === "string" && strings[k] ? strings[k] : T[k];
var theme = cfg.theme || {};
var position = { bottom_left: "bl", center: "c" }[theme.position] || "br";
var modal = position === "c";
var host = h("hark-widget", { "data-survey": s.id });
var root = host.attachShadow({ mode: "open" });
adopt(root, theme);
var live = h("div", { class: "sr", role: "status", "aria-live": "polite" });
var card = h("div", { class: "card", part: "card", role: "dialog", "aria-modal": modal ? "true" : "false", "aria-labelledby": "hark-title", lang: cfg.lang || null });
var wrap = h("div", { class: "wrap " + position, part: "container" }, [modal ? h("div", { class: "backdrop", part: "backdrop" }) : null, card]);
root.appendChild(wrap);
root.appendChild(live);
var state = { s: s, host: host, root: root, card: card, rid: responseId, i: 0, answers: {}, steps: 1, opener: d.activeElement, modal: modal, texts: texts };
active = state;
d.documentElement.appendChild(host);
root.addEventListener("keydown", guard(function (e) { onKey(e, state); }));
drawStep(state);
if (modal) focusFirst(state);
else live.textContent = texts.dialog_label + ": " + (questions[0].title || "");
if (cfg.context) sendContext(responseId, cfg.context);
fire("onShow", s.id);
}
function sendContext(rid, data) {
var body = who();
body.data = data;
enqueue("displays/" + rid + "/context", body);
}
function onKey(e, state) {
if (e.key === "Escape") { e.preventDefault(); dismiss(state); return; }
if (e.key === "Tab" && state.modal) {
var f = [].slice.call(state.card.querySelectorAll("button,input,textarea,a[href]")).filter(function (el) { return !el.disabled; });
if (!f.length) return;
var first = f[0], last = f[f.length - 1], cur = state.root.activeElement;
if (e.shiftKey && cur === first) { e.preventDefault(); last.focus(); }
else if (!e.shiftKey && cur === last) { e.preventDefault(); first.focus(); }
}
var t = e.target;
if ((e.key === "ArrowRight" || e.key === "ArrowLeft" || e.key === "ArrowDown" || e.key === "ArrowUp") && t && t.classList && t.classList.contains("opt")) {
var sib = e.key === "ArrowRight" || e.key === "ArrowDown" ? t.nextElementSibling : t.previousElementSibling;
if (sib && sib.classList.contains("opt")) { e.preventDefault(); sib.focus(); }
}
}
function focusFirst(state) {
var el = state.card.querySelector(".opt,input,textarea,.primary,h2");
if (el) el.focus();
}
function drawStep(state) {
var s = state.s, questions = s.questions, q = questions[state.i], texts = state.texts;
var total = state.steps + (questions.length - 1 - state.i);
var pct = Math.round((100 * (state.steps - 1)) / total);
var bar = h("span", { class: "fill" });
bar.style.width = pct + "%"; // CSSOM, not a style attribute: allowed under a strict CSP
var progress = h("div", { class: "bar", part: "progress", role: "progressbar", "aria-label": texts.progress.replace("{n}", state.steps).replace("{total}", total), "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": String(pct) }, [bar]);
var close = h("button", { type: "button", class: "x", part: "close", "aria-label": texts.close, title: texts.close, text: "\u2715", onclick: function () { dismiss(state); } });
var err = h("p", { class: "err", id: "hark-err", role: "alert" });
var body = question(q, state, err);
var form = h("form", { class: "form", novalidate: true }, [
h("div", { class: "top" }, [progress, close]),
h("p", { class: "step", part: "step", text: texts.progress.replace("{n}", state.steps).replace("{total}", total) }),
body.field,
err,
body.actions,
]);
form.addEventListener("keydown", guard(function (e) {
var t = e.target;
if (e.key !== "Enter" || e.isComposing || !t || t.tagName !== "INPUT") return;
e.preventDefault();
body.submit();
}));
form.addEventListener("submit", guard(function (e) { e.preventDefault(); body.submit(); }));
state.card.textContent = "";
state.card.appendChild(form);
state.card.appendChild(h("p", { class: "brand", text: "Powered by Hark" }));
}
function question(q, state, err) {
var texts = state.texts, kind = q.type, c = q.config || {}, opts = options(q);
var desc = q.description ? h("p", { class: "desc", part: "description", id: "hark-desc", text: q.description }) : null;
var legend = h("legend", { class: "title", part: "title", id: "hark-title", text: q.title || "" });
if (!q.required && kind !== "cta") legend.appendChild(h("span", { class: "opt-l", text: " " + texts.optional }));
var kids = [legend, desc];
var submit = function () { answer(state, null); };
var input = null, checks = [];
var multi = kind === "multiple_choice" || kind === "text" || kind === "email";
if (kind === "multiple_choice") {
var box = h("div", { class: "checks" });
(opts || []).forEach(function (o) {
var cb = h("input", { type: "checkbox", value: String(o.value) });
checks.push(cb);
box.appendChild(h("label", { class: "check", part: "option" }, [cb, h("span", { text: o.label })]));
});
kids.push(box);
submit = function () {
var picked = checks.filter(function (x) { return x.checked; }).map(function (x) { return x.value; });
if (!picked.length && q.required) return invalid(err, checks[0], texts.required);
answer(state, picked.length ? picked : null);
};
} else if (opts) {
var stars = kind === "rating" && c.style !== "numbers";
var words = kind === "csat" || stars;
var group = h("div", { class: "opts k-" + kind + (stars ? " stars" : ""), role: "group", "aria-labelledby": "hark-title" });
opts.forEach(function (o) {
var title = o.title || (stars ? o.value + " / " + opts.length : String(o.label));
group.appendChild(h("button", { type: "button", class: "opt", part: "option", "aria-pressed": "false", "aria-label": words ? title : null, title: words ? title : null, onclick: function () { answer(state, o.value); } }, [
h("span", { "aria-hidden": words ? "true" : null, text: stars ? "\u2605" : o.label }),
kind === "csat" ? h("span", { class: "cap", "aria-hidden": "true", text: title }) : null,
]));
});
kids.push(group);
if (c.low_label || c.high_label) kids.push(h("div", { class: "scale", "aria-hidden": "true" }, [h("span", { text: c.low_label || "" }), h("span", { text: c.high_label || "" })]));
} else if (kind === "text" || kind === "email") {
var attrs = { part: "input", "aria-labelledby": "hark-title", "aria-describedby": desc ? "hark-desc" : null, placeholder: c.placeholder || null };
if (kind === "text") { attrs.rows = "3"; attrs.maxlength = "5000"; }
else { attrs.type = "email"; attrs.maxlength = "320"; attrs.autocomplete = "email"; }
input = h(kind === "text" ? "textarea" : "input", attrs);
kids.push(input);
submit = function () {
var v = input.value.trim();
if (!v && q.required) return invalid(err, input, texts.required);
if (v && kind === "email" && !validEmail(v)) return invalid(err, input, texts.invalid_email);
answer(state, v || null);
};
if (kind === "text") input.addEventListener("keydown", guard(function (e) { if (e.key === "Enter" && (e.metaKey || e.ctrlKey)) { e.preventDefault(); submit(); } }));
} else if (kind === "cta") {
var href = typeof c.url === "string" && /^https?:\/\//i.test(c.url) ? c.url : null;
var go = function () { answer(state, true); };
kids.push(h(href ? "a" : "button", { class: "btn primary", part: "button", type: href ? null : "button", href: href, target: href ? "_blank" : null, rel: href ? "noopener" : null, text: c.button_label || texts.continue, onclick: go }));
}
var last = state.i === state.s.questions.length - 1;
var actions = h("div", { class: "act" }, [
!q.required || kind === "cta" ? h("button", { type: "button", class: "btn", part: "button", text: texts.skip, onclick: function () { answer(state, null); } }) : null,
multi ? h("button", { type: "button", class: "btn primary", part: "button", text: last ? texts.submit : texts.next, onclick: function () { submit(); } }) : null,
]);
return { field: h("fieldset", { class: "q k-" + kind }, kids), actions: actions, submit: submit };
}
var EMAIL_LOCAL = /^[-!#$%&'*+\/=?^_`{|}~0-9a-z]+(\.[-!#$%&'*+\/=?^_`{|}~0-9a-z]+)*$/i;
var LETTER = "a-z\\u00a1-\\ud7ff\\ue000-\\uffff", CHAR = LETTER + "0-9";
var EMAIL_DOMAIN = new RegExp(
"^([" + CHAR + "]([" + CHAR + "-]{0,61}[" + CHAR + "])?\\.)+" +
"([" + LETTER + "][" + LETTER + "-]{0,61}[" + LETTER + "]|xn--[a-z0-9]{1,59})$",
"iu"
);
function validEmail(v) {
var at = v.lastIndexOf("@");
return v.length <= 320 && at > 0 && EMAIL_LOCAL.test(v.slice(0, at)) && EMAIL_DOMAIN.test(v.slice(at + 1));
}
function invalid(err, el, message) {
err.textContent = message;
if (el) { el.setAttribute("aria-invalid", "true"); el.setAttribute("aria-describedby", "hark-err"); el.focus(); }
}
function answer(state, value) {
if (active !== state) return;
var s = state.s, q = s.questions[state.i];
var to = next(s.questions, state.i, value);
if (value !== null) state.answers[q.key] = value;
var body = who();
body.question = q.key;
body.value = value;
enqueue("displays/" + state.rid + "/answers", body);
if (to === -1) {
finish(state);
return;
}
state.i = to;
state.steps++;
drawStep(state);
focusFirst(state);
fire("onNavigation", s.id, s.questions[to].key, state.steps);
}
function finish(state) {
var s = state.s, ty = s.thank_you || {}, texts = state.texts;
fire("onComplete", s.id, JSON.parse(JSON.stringify(state.answers)));
var head = h("h2", { class: "title", part: "title", id: "hark-title", tabindex: "-1", text: ty.title || texts.thank_you });
var url = typeof ty.button_url === "string" && /^https?:\/\//i.test(ty.button_url) ? ty.button_url : null;
state.card.textContent = "";
state.card.appendChild(h("div", { class: "thanks" }, [
h("div", { class: "top end" }, [h("button", { type: "button", class: "x", part: "close", "aria-label": texts.close, title: texts.close, text: "\u2715", onclick: function () { close(state, "onClose"); } })]),
h("div", { class: "mark", "aria-hidden": "true", text: "\u2713" }),
head,
ty.message ? h("p", { class: "desc", text: ty.message }) : null,
url ? h("a", { class: "btn primary", part: "button", href: url, target: "_blank", rel: "noopener", text: ty.button_label || texts.continue }) : null,
]));
state.done = true;
if (state.modal) head.focus();
else state.root.querySelector(".sr").textContent = head.textContent;
}
function dismiss(state) {
if (!state.done) {
enqueue("displays/" + state.rid + "/dismiss", who());
close(state, "onDismiss");
} else close(state, "onClose");
}
function close(state, callback) {
if (active !== state) return;
active = null;
if (state.host.parentNode) state.host.parentNode.removeChild(state.host);
var back = state.opener;
if (state.modal && back && back.focus && back.isConnected) back.focus();
if (callback) fire(callback, state.s.id);
}
var commands = {
setProject: function (key) {
if (typeof key !== "string" || !key) throw new Error("setProject needs the public key");
cfg.key = key;
if (!booting) { lastUrl = null; trackPage(); }
flush();
},
identifyUser: function (data, opts) {
if (!data || (!data.id && !data.email)) throw new Error("identifyUser needs an id or an email");
var traits = {};
for (var k in data) if (k !== "id" && k !== "email") traits[k] = data[k];
var next_ = { id: data.id != null ? String(data.id) : null, email: data.email || null, signature: (opts && opts.signature) || null, traits: traits };
var changed = !user || user.id !== next_.id || user.email !== next_.email;
if (user && changed) {
personSeq++;
cfg.context = null;
if (active) close(active, "onClose");
}
user = next_;
save("user", user);
if (!cfg.key || booting) return;
if (changed) { lastUrl = null; trackPage(); return; }
post("identify", who(true)).then(guard(function () { if (user) { user.traits = null; save("user", user); } }), report);
},
resetUser: function () {
user = null;
save("user", null);
save("aid", null);
aidInMemory = null;
personSeq++;
cfg.context = null; // the response context was the previous person's
if (active) close(active, "onClose");
lastUrl = null;
if (cfg.key) trackPage();
},
trackEvent: function (name, properties) {
if (typeof name !== "string" || !name) throw new Error("trackEvent needs an event name");
var counts = load("ev", {});
counts[name] = (+counts[name] || 0) + 1;
save("ev", counts);
var body = who();
body.name = name;
body.properties = properties || {};
body.url = location.href;
body.count = counts[name];
body.locale = locale();
var mine = pageSeq;
enqueue("event", body, function (data) {
if (mine === pageSeq) (data.surveys || []).some(function (s) { forms[s.id] = s; show(s, false); return true; });
});
},
trackPage: function () { lastUrl = null; trackPage(); },
showForm: function (id, opts) {
var s = forms[id] || { id: id };
show(s, !!(opts && opts.force), true);
},
dismissForm: function (id) { if (active && (!id || active.s.id === id)) dismiss(active); },
closeForm: function (id) { if (active && (!id || active.s.id === id)) close(active, "onClose"); },
addToResponse: function (data) {
if (!data || typeof data !== "object") throw new Error("addToResponse needs an object");
cfg.context = Object.assign(cfg.context || {}, data);
if (active) sendContext(active.rid, data);
},
setLocale: function (l) { cfg.locale = l ? String(l) : null; },
stopPinging: function () { cfg.pinging = false; disarm(); },
};
["onBeforeShow", "onShow", "onNavigation", "onDismiss", "onClose", "onComplete", "onError"].forEach(function (name) {
commands[name] = function (fn) { callbacks[name] = typeof fn === "function" ? fn : null; };
});
function run(args) {
var name = args[0], fn = commands[name];
if (!fn) throw new Error("hark: unknown command " + name);
return fn.apply(null, [].slice.call(args, 1));
}
var hark = function () {
try { run(arguments); } catch (e) { report(e); }
};
hark.version = VERSION;
hark._next = next; // for the shared logic-jump cases (tests)
hark._email = validEmail; // for the cases checked against the server's rule (tests)
var queued = (prior && prior.q) || [];
w.hark = hark;
for (var i = 0; i < queued.length; i++) hark.apply(null, queued[i]);
booting = false;
if (cfg.key) guard(trackPage)();
})(window, document);
