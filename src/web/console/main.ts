/**
 * The console's script (`/console.js`, built from this file by `npm run build:assets`): subscribes
 * with a plain `EventSource` and publishes with `fetch`, against the hub that serves the page. A
 * publisher token can be passed in the URL fragment (`/#token=…`), which never reaches the server.
 */

const hub = new URL('/.well-known/mercure', location.href);

/** The element with this id, of the type the markup (index.html) gives it. */
function byId<T extends HTMLElement>(id: string, type: abstract new () => T): T {
  const node = document.getElementById(id);
  if (!(node instanceof type)) throw new Error(`the console page has no ${type.name} #${id}`);
  return node;
}

const status = byId('status', HTMLParagraphElement);
const log = byId('log', HTMLUListElement);
const subscribeForm = byId('subscribe', HTMLFormElement);
const match = byId('match', HTMLInputElement);
const publishForm = byId('publish', HTMLFormElement);
const topic = byId('topic', HTMLInputElement);
const data = byId('data', HTMLTextAreaElement);
const privateBox = byId('private', HTMLInputElement);
const token = byId('token', HTMLInputElement);
const result = byId('result', HTMLDivElement);

const fragment = new URLSearchParams(location.hash.slice(1));
const fromFragment = fragment.get('token');
if (fromFragment) token.value = fromFragment;

let source: EventSource | undefined;

function stop(): void {
  source?.close();
  source = undefined;
  status.textContent = 'not connected';
  status.className = '';
}

byId('stop', HTMLButtonElement).onclick = stop;

subscribeForm.onsubmit = (event) => {
  event.preventDefault();
  stop();
  const url = new URL(hub);
  url.searchParams.append('match', match.value);
  const events = new EventSource(url);
  source = events;
  status.textContent = 'connecting…';
  events.onopen = () => {
    status.textContent = `connected to ${url.pathname}${url.search}`;
    status.className = 'open';
  };
  events.onerror = () => {
    status.textContent = 'reconnecting…';
    status.className = '';
  };
  events.onmessage = (message) => {
    const item = document.createElement('li');
    const meta = document.createElement('div');
    meta.className = 'meta';
    meta.textContent = `${new Date().toLocaleTimeString()}  id ${message.lastEventId}`;
    item.append(meta, document.createTextNode(message.data));
    log.prepend(item);
  };
};

publishForm.onsubmit = async (event) => {
  event.preventDefault();
  const body = new URLSearchParams({ topic: topic.value, data: data.value });
  if (privateBox.checked) body.set('private', 'on');
  const headers: Record<string, string> = {};
  if (token.value) headers.authorization = `Bearer ${token.value.trim()}`;
  const response = await fetch(hub, { method: 'POST', body, headers });
  const text = await response.text();
  result.textContent = response.ok ? `published: ${text}` : `${response.status} ${text}`;
};

subscribeForm.requestSubmit();
