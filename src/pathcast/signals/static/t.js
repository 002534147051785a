/* Pathcast first-party tracking snippet, no dependencies. Contract: docs/signals.md §1-2. */
(() => {
const w = window, d = document, noop = () => {};
const safe = (fn) => (...a) => { try { return fn(...a); } catch (e) { /* never break the host page */ } };
const on = (el, type, fn, capture) => el.addEventListener(type, safe(fn), capture);
const attr = (el, name) => el && el.getAttribute(name);
const cut = (s, n) => s && String(s).slice(0, n); // the server's field limits
const optedOut = () => w.pathcastOptOut === true || /(^|; )_pc_optout=1(;|$)/.test(d.cookie);
const init = () => {
  const script = d.currentScript || d.querySelector("script[data-site]"), site = attr(script, "data-site");
  if (!site || optedOut()) return;
  const api = attr(script, "data-endpoint") || new URL(script.src).origin + "/api/v1/collect";
  const now = () => performance.now();
  const rid = () => Array.from(crypto.getRandomValues(new Uint8Array(22)), (b) => (b & 15).toString(16)).join("");

  // Visitor id: a first-party cookie, or localStorage if cookies are refused.
  const store = safe((v) => (v ? localStorage.setItem("_pc_vid", v) : localStorage.getItem("_pc_vid")));
  let vid = (d.cookie.match(/(^|; )_pc_vid=([\w-]{8,64})/) || [])[2] || store();
  if (!/^[\w-]{8,64}$/.test(vid || "")) vid = rid();
  d.cookie = `_pc_vid=${vid}; max-age=31536000; path=/; SameSite=Lax`;
  store(vid);

  // Batched; text/plain needs no CORS preflight.
  const queue = [];
  const flush = safe(() => {
    while (queue.length) {
      const body = JSON.stringify({ site, visitor: vid, sent_at: Date.now(), events: queue.splice(0, 500) });
      if (!optedOut() && !safe(() => navigator.sendBeacon(api, new Blob([body], { type: "text/plain" })))()) {
        fetch(api, { method: "POST", body, keepalive: true, credentials: "omit",
          headers: { "Content-Type": "text/plain" } }).catch(noop);
      }
    }
  });
  const track = safe((type, fields) => {
    queue.push(Object.assign({}, fields, { type: String(type), ts: Date.now() }));
    if (queue.length >= 20) flush();
  });

  // Tracked link (?pc_t=TOKEN): identify, then drop the token from the address bar.
  const u = new URL(location.href), token = u.searchParams.get("pc_t");
  u.searchParams.delete("pc_t");
  const url = cut(u.href, 2000);
  if (token) {
    track("identify", { token });
    safe(() => history.replaceState(history.state, "", u.href))();
  }

  // Dwell: only visible time counts, summed over the whole view.
  const view = rid(), visible = () => d.visibilityState == "visible";
  let total = 0, sent = 0, since = visible() ? now() : null;
  const resume = () => visible() && since == null && (since = now());
  const dwell = () => {
    const ms = Math.round(total + (since == null ? 0 : now() - since));
    if (ms != sent) track("dwell", { view, dwell_ms: (sent = ms) });
  };
  const leave = () => {
    if (since != null) total += now() - since;
    since = null;
    dwell();
    flush();
  };
  on(d, "visibilitychange", () => (visible() ? resume() : leave()));
  on(w, "pagehide", leave);
  on(w, "pageshow", resume);
  setInterval(safe(() => visible() && dwell()), 15000);
  setInterval(flush, 5000);

  const sendView = () => {
    const a = (n) => attr(d.body, n) || attr(d.documentElement, n);
    track("view", { view, asset: cut(a("data-pc-asset") || location.pathname, 200),
      asset_name: cut(a("data-pc-asset-name") || d.title, 300),
      asset_kind: a("data-pc-kind") || "page", url });
    flush();
  };
  if (d.readyState == "loading") on(d, "DOMContentLoaded", sendView);
  else sendView();

  const text = (el) => Array.from((el.innerText || el.textContent || "").replace(/\s+/g, " ").trim())
    .slice(0, 100).join("");
  on(d, "click", (e) => {
    const el = e.target.closest && e.target.closest("a,button,[data-pc-track]");
    if (!el) return;
    const a = (n) => attr(el, n), href = a("href") && new URL(a("href"), d.baseURI);
    if (href && el.tagName == "A" &&
        (el.matches("[download],[data-pc-download]") || /\.(pdf|docx?|xlsx?|pptx?|zip)$/i.test(href.pathname))) {
      const file = href.pathname.split("/").pop();
      track("download", { asset: cut(a("data-pc-asset") || href.pathname, 200),
        asset_name: cut(a("data-pc-asset-name") || text(el) || safe(decodeURIComponent)(file), 300),
        url: cut(href, 2000) });
      flush();
    } else {
      track("click", { target: cut(a("data-pc-track") || text(el) || href || el.tagName, 500), url });
    }
  }, true);

  on(d, "submit", (e) => {
    const input = Array.from(e.target.querySelectorAll("input[type=email]")).find((i) => i.value.trim());
    if (input) { track("identify", { email: input.value.trim() }); flush(); }
  }, true);

  return { flush, track, visitor: vid };
};
if (!w.pathcast) w.pathcast = safe(init)() || { flush: noop, track: noop, visitor: null };
})();
