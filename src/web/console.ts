/**
 * The live console served at `/`: subscribe to a topic with a plain `EventSource` and publish to it,
 * to try the hub in a browser. Page, stylesheet and script are separate strings served from memory
 * (so every runtime serves them, and the page's Content-Security-Policy needs no 'unsafe-inline'; see
 * `pages.ts`). A publisher token can be passed in the URL fragment (`/#token=…`), which never reaches
 * the server.
 */
export const consolePage = /* html */ `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ssehub console</title>
<link rel="stylesheet" href="/console.css">
</head>
<body>
<header><h1>ssehub</h1><span>Mercure hub console — subscribe and publish from your browser</span></header>
<main>
  <div>
    <section>
      <h2>Subscribe</h2>
      <form id="subscribe">
        <label for="match">Topic (match)</label>
        <input id="match" value="/chat" required>
        <div class="row"><button type="submit">Subscribe</button><button type="button" class="secondary" id="stop">Stop</button></div>
      </form>
      <p id="status">not connected</p>
    </section>
    <section class="spaced">
      <h2>Publish</h2>
      <form id="publish">
        <label for="topic">Topic</label>
        <input id="topic" value="/chat" required>
        <label for="data">Data</label>
        <textarea id="data">Hello from the console</textarea>
        <label class="row"><input type="checkbox" id="private"> private</label>
        <label for="token">Publisher token (Bearer)</label>
        <input id="token" placeholder="printed by npm start" autocomplete="off">
        <button type="submit">Publish</button>
        <div id="result"></div>
      </form>
    </section>
  </div>
  <section>
    <h2>Events</h2>
    <ul id="log"></ul>
  </section>
</main>
<script type="module" src="/console.js"></script>
</body>
</html>
`;

/** `GET /console.css`. */
export const consoleStyle = /* css */ `:root { color-scheme: light dark; --accent: #6d5dfc; --muted: #8a8f98; --line: #8a8f9833; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, sans-serif; }
header { padding: 16px 24px; border-bottom: 1px solid var(--line); display: flex; gap: 12px; align-items: baseline; }
header h1 { margin: 0; font-size: 18px; }
header span { color: var(--muted); font-size: 13px; }
main { display: grid; grid-template-columns: minmax(280px, 1fr) 2fr; gap: 24px; padding: 24px; }
@media (max-width: 760px) { main { grid-template-columns: 1fr; } }
section { border: 1px solid var(--line); border-radius: 10px; padding: 16px; }
h2 { margin: 0 0 12px; font-size: 14px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
label { display: block; font-size: 13px; margin: 10px 0 4px; }
input, textarea { width: 100%; padding: 8px 10px; border: 1px solid var(--line); border-radius: 6px; font: inherit; background: transparent; }
textarea { min-height: 84px; font-family: ui-monospace, monospace; font-size: 13px; }
button { margin-top: 12px; padding: 8px 14px; border: 0; border-radius: 6px; background: var(--accent); color: white; font: inherit; cursor: pointer; }
button.secondary { background: transparent; color: inherit; border: 1px solid var(--line); }
.row { display: flex; gap: 8px; align-items: center; }
.row input[type=checkbox] { width: auto; }
#status { font-size: 13px; color: var(--muted); }
#status.open { color: #2da44e; }
#log { list-style: none; margin: 0; padding: 0; max-height: 60vh; overflow: auto; font-family: ui-monospace, monospace; font-size: 13px; }
#log li { padding: 8px 0; border-bottom: 1px solid var(--line); white-space: pre-wrap; word-break: break-word; }
#log .meta { color: var(--muted); font-size: 12px; }
#result { font-size: 13px; color: var(--muted); margin-top: 8px; word-break: break-all; }
.spaced { margin-top: 24px; }
`;

/** `GET /console.js`: a module script, written without template literals so that it fits in this string. */
export const consoleScript = /* js */ `const hub = new URL('/.well-known/mercure', location.href);
const $ = (id) => document.getElementById(id);
const fragment = new URLSearchParams(location.hash.slice(1));
if (fragment.get('token')) $('token').value = fragment.get('token');
let source;
function stop() {
  source?.close();
  source = undefined;
  $('status').textContent = 'not connected';
  $('status').className = '';
}
$('stop').onclick = stop;
$('subscribe').onsubmit = (event) => {
  event.preventDefault();
  stop();
  const url = new URL(hub);
  url.searchParams.append('match', $('match').value);
  source = new EventSource(url);
  $('status').textContent = 'connecting…';
  source.onopen = () => { $('status').textContent = 'connected to ' + url.pathname + url.search; $('status').className = 'open'; };
  source.onerror = () => { $('status').textContent = 'reconnecting…'; $('status').className = ''; };
  source.onmessage = (message) => {
    const li = document.createElement('li');
    const meta = document.createElement('div');
    meta.className = 'meta';
    meta.textContent = new Date().toLocaleTimeString() + '  id ' + message.lastEventId;
    li.append(meta, document.createTextNode(message.data));
    $('log').prepend(li);
  };
};
$('publish').onsubmit = async (event) => {
  event.preventDefault();
  const body = new URLSearchParams({ topic: $('topic').value, data: $('data').value });
  if ($('private').checked) body.set('private', 'on');
  const headers = {};
  if ($('token').value) headers.authorization = 'Bearer ' + $('token').value.trim();
  const response = await fetch(hub, { method: 'POST', body, headers });
  const text = await response.text();
  $('result').textContent = response.ok ? 'published: ' + text : response.status + ' ' + text;
};
$('subscribe').requestSubmit();
`;
