/**
 * The demo's page script (see `demo.ts`): plain browser JavaScript, a module that imports the client
 * from the hub. Written without template literals so that it can live in this string. Text from other
 * peers is only ever set as text (`textContent`, `append`), never parsed as HTML.
 */
export const demoScript = String.raw`
import { joinRoom, startCall } from '/client.js';

const $ = (selector) => document.querySelector(selector);
function h(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (key === 'class') node.className = value;
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  node.append(...children);
  return node;
}
const MIC_OFF = '<svg viewBox="0 0 24 24"><path d="M2 2l20 20M9 9v3a3 3 0 0 0 5 2.2M15 9.3V5a3 3 0 0 0-5.9-.7M19 10a7 7 0 0 1-1.1 3.8M5 10a7 7 0 0 0 11.3 5.5M12 17v5"/></svg>';
const TRASH = '<svg viewBox="0 0 24 24"><path d="M4 7h16M10 11v6M14 11v6M6 7l1 13h10l1-13M9 7V4h6v3"/></svg>';
const SELF = 'self';
const adjectives = ['amber', 'brisk', 'calm', 'cedar', 'coral', 'ember', 'gentle', 'harbor', 'jade', 'lunar', 'maple', 'noble', 'solar', 'tidal', 'velvet', 'willow'];
const animals = ['otter', 'falcon', 'lynx', 'heron', 'badger', 'fox', 'panda', 'raven', 'wolf', 'whale'];
const pick = (list) => list[Math.floor(Math.random() * list.length)];
const randomRoom = () => pick(adjectives) + '-' + pick(animals) + '-' + (10 + Math.floor(Math.random() * 90));
const slug = (text) => text.trim().toLowerCase().replace(/[^a-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 64);
const initials = (name) => name.split(/\s+/).filter(Boolean).map((w) => w[0]).join('').slice(0, 2).toUpperCase() || '?';
const clock = (ms) => new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });

const params = new URLSearchParams(location.search);
$('#room-input').value = params.get('room') || randomRoom();
$('#name-input').value = localStorage.getItem('ssehub-demo-name') || '';
$('#join-form').addEventListener('submit', (event) => {
  event.preventDefault();
  void start();
});

function describe(error) {
  const status = error && error.status;
  if (status === 404) return 'Rooms are turned off on this hub (SSEHUB_ROOMS).';
  if (status === 409) return 'This room is full.';
  if (status === 401 || status === 403) return 'This hub only admits invited peers.';
  return 'Could not join: ' + ((error && error.message) || error);
}

async function start() {
  const hint = $('#lobby-hint');
  const button = $('#join-button');
  const name = $('#name-input').value.trim();
  const roomName = slug($('#room-input').value);
  hint.className = 'hint';
  if (!roomName) {
    hint.className = 'hint error';
    hint.textContent = 'Pick a room name: letters, digits, - and _.';
    return;
  }
  localStorage.setItem('ssehub-demo-name', name);
  button.disabled = true;
  hint.textContent = 'Starting your camera…';
  let stream = new MediaStream();
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 360 } });
  } catch {
    hint.textContent = 'No camera or microphone: joining without them.';
  }
  let room;
  try {
    room = await joinRoom(location.origin, roomName, name ? { name } : {});
  } catch (error) {
    for (const track of stream.getTracks()) track.stop();
    button.disabled = false;
    hint.className = 'hint error';
    hint.textContent = describe(error);
    return;
  }
  history.replaceState(null, '', '?room=' + roomName);
  enter(room, stream);
}

function toast(text) {
  const node = h('div', { class: 'toast' }, text);
  $('#toasts').append(node);
  setTimeout(() => node.remove(), 3500);
}

function enter(room, stream) {
  const call = startCall(room, { stream });
  const tiles = new Map();
  const media = new Map();
  const self = { audio: stream.getAudioTracks().length > 0, video: stream.getVideoTracks().length > 0 };
  window.demo = { room, call, stream };
  $('#lobby').hidden = true;
  $('#app').hidden = false;
  $('#room-title').textContent = room.name;
  document.title = room.name + ' · ssehub rooms';

  const nameOf = (id) =>
    id === SELF ? room.self.name || 'You' : (room.peers.get(id) || {}).name || 'Guest ' + id.slice(0, 4);

  function tile(id) {
    let t = tiles.get(id);
    if (t) return t;
    const video = h('video', { autoplay: '', playsinline: '' });
    const avatar = h('div', { class: 'avatar' }, h('span', {}, ''));
    const label = h('div', { class: 'label' });
    const badge = h('div', { class: 'badge' }, 'Connecting…');
    const node = h('div', { class: 'tile' + (id === SELF ? ' self' : ''), dataset: { peer: id } }, video, avatar, label, badge);
    t = { node, video, avatar, label, badge };
    tiles.set(id, t);
    $('#grid').append(node);
    refresh(id);
    return t;
  }
  function refresh(id) {
    const t = tiles.get(id);
    if (!t) return;
    const state = id === SELF ? self : media.get(id) || { audio: true, video: true };
    t.label.replaceChildren();
    if (!state.audio) t.label.insertAdjacentHTML('beforeend', MIC_OFF);
    t.label.append(nameOf(id) + (id === SELF ? ' (you)' : ''));
    const source = t.video.srcObject;
    const showing = state.video && source && source.getVideoTracks().length > 0;
    t.avatar.hidden = Boolean(showing);
    t.video.style.visibility = showing ? 'visible' : 'hidden';
    t.avatar.firstChild.textContent = initials(nameOf(id));
  }

  const local = tile(SELF);
  local.video.muted = true;
  local.video.srcObject = stream;
  refresh(SELF);

  call.on('peer', (peer) => tile(peer.id));
  call.on('track', ({ peer }) => {
    const t = tile(peer.id);
    if (t.video.srcObject !== peer.stream) t.video.srcObject = peer.stream;
    t.video.play().catch(() => {});
    refresh(peer.id);
  });
  call.on('state', ({ peer, state }) => {
    const t = tile(peer.id);
    t.node.dataset.state = state;
    t.badge.textContent = state === 'disconnected' || state === 'failed' ? 'Reconnecting…' : 'Connecting…';
  });
  call.on('closed', (peer) => {
    const t = tiles.get(peer.id);
    if (t) t.node.remove();
    tiles.delete(peer.id);
  });
  const announce = () => JSON.stringify({ type: 'media', audio: self.audio, video: self.video });
  call.on('open', (peer) => call.send(peer.id, announce()));
  call.on('data', ({ peer, data }) => {
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      return;
    }
    if (message.type === 'chat' && typeof message.text === 'string') addMessage(peer.id, message.text, message.at);
    if (message.type === 'media') {
      media.set(peer.id, { audio: Boolean(message.audio), video: Boolean(message.video) });
      refresh(peer.id);
    }
  });

  // Chat, over the data channels.
  function addMessage(from, text, at) {
    $('#chat-empty')?.remove();
    const mine = from === SELF;
    const meta = (mine ? 'You' : nameOf(from)) + ' · ' + clock(typeof at === 'number' ? at : Date.now());
    const node = h('div', { class: 'msg' + (mine ? ' mine' : '') }, h('div', { class: 'meta' }, meta), h('div', { class: 'bubble' }, text));
    const list = $('#messages');
    list.append(node);
    list.scrollTop = list.scrollHeight;
  }
  function system(text) {
    $('#chat-empty')?.remove();
    $('#messages').append(h('div', { class: 'system' }, text));
  }
  $('#chat-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const input = $('#chat-input');
    const text = input.value.trim();
    if (!text) return;
    const at = Date.now();
    const reached = call.broadcast(JSON.stringify({ type: 'chat', text, at }));
    addMessage(SELF, text, at);
    if (reached === 0) system('Nobody else is connected yet: share the invite link.');
    input.value = '';
  });

  // The checklist: the room's shared state, patched through the hub.
  function renderItems() {
    const value = room.state.value.items;
    const items = Object.entries(value && typeof value === 'object' ? value : {})
      .filter(([, item]) => item && typeof item.text === 'string')
      .sort((a, b) => (a[1].at || 0) - (b[1].at || 0));
    const list = $('#items');
    list.replaceChildren();
    const done = items.filter(([, item]) => item.done).length;
    $('#todo-count').textContent = String(items.length - done);
    if (items.length === 0) {
      list.append(h('div', { class: 'empty' }, 'Nothing here yet. Add an item: everyone in the room sees it at once, and so will whoever joins later.'));
      return;
    }
    list.append(h('div', { class: 'progress' }, done + ' of ' + items.length + ' done'));
    for (const [id, item] of items) {
      const box = h('input', { type: 'checkbox', 'aria-label': 'Done' });
      box.checked = Boolean(item.done);
      box.addEventListener('change', () => room.state.patch({ items: { [id]: { done: box.checked } } }).catch(failed));
      const remove = h('button', { class: 'remove', type: 'button', title: 'Remove' });
      remove.innerHTML = TRASH;
      remove.addEventListener('click', () => room.state.patch({ items: { [id]: null } }).catch(failed));
      const by = typeof item.by === 'string' ? item.by : '';
      list.append(h('div', { class: 'item' + (item.done ? ' done' : ''), dataset: { item: id } }, box, h('div', { class: 'body' }, h('span', { class: 'text' }, item.text), h('span', { class: 'by' }, by ? 'Added by ' + by : '')), remove));
    }
  }
  const failed = (error) => toast('Not saved: ' + (error.message || error));
  $('#item-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const input = $('#item-input');
    const text = input.value.trim();
    if (!text) return;
    const id = crypto.randomUUID().slice(0, 8);
    room.state.patch({ items: { [id]: { text, done: false, by: room.self.name || 'Guest', at: Date.now() } } }).catch(failed);
    input.value = '';
  });
  room.state.on('change', renderItems);
  renderItems();

  // People and presence.
  function renderPeople() {
    const list = $('#people');
    list.replaceChildren();
    const person = (name, you) =>
      h('div', { class: 'person' }, h('span', { class: 'avatar-sm' }, initials(name)), h('span', {}, name), you ? h('span', { class: 'you' }, '(you)') : '');
    list.append(person(nameOf(SELF), true));
    for (const id of room.peers.keys()) list.append(person(nameOf(id), false));
    $('#people-count').textContent = String(room.peers.size + 1);
  }
  room.on('join', (peer) => {
    toast(nameOf(peer.id) + ' joined');
    system(nameOf(peer.id) + ' joined');
    renderPeople();
  });
  room.on('leave', (peer) => {
    const name = peer.name || 'Guest ' + peer.id.slice(0, 4);
    toast(name + ' left');
    system(name + ' left');
    renderPeople();
  });
  renderPeople();

  const labels = { connecting: 'Connecting…', open: 'Connected', reconnecting: 'Reconnecting…', closed: 'Disconnected' };
  function renderStatus(status) {
    $('#status').dataset.status = status;
    $('#status-text').textContent = labels[status] + (status === 'open' ? ' · ' + (room.peers.size + 1) + ' here' : '');
  }
  room.on('status', renderStatus);
  room.on('join', () => renderStatus(room.status));
  room.on('leave', () => renderStatus(room.status));
  room.on('close', ({ reason, error }) => {
    renderStatus('closed');
    if (reason === 'error') toast('Disconnected: ' + describe(error));
  });
  renderStatus(room.status);

  // Controls.
  function toggle(kind, button, tracks, on, off) {
    self[kind] = !self[kind];
    for (const track of tracks) track.enabled = self[kind];
    button.classList.toggle('off', !self[kind]);
    button.setAttribute('aria-pressed', String(!self[kind]));
    button.title = self[kind] ? on : off;
    call.broadcast(announce());
    refresh(SELF);
  }
  $('#toggle-mic').addEventListener('click', (e) => toggle('audio', e.currentTarget, stream.getAudioTracks(), 'Mute microphone', 'Unmute microphone'));
  $('#toggle-camera').addEventListener('click', (e) => toggle('video', e.currentTarget, stream.getVideoTracks(), 'Turn camera off', 'Turn camera on'));
  if (!self.audio) $('#toggle-mic').classList.add('off');
  if (!self.video) $('#toggle-camera').classList.add('off');
  $('#leave').addEventListener('click', () => {
    room.leave();
    for (const track of stream.getTracks()) track.stop();
    location.assign('/demo?room=' + encodeURIComponent(room.name));
  });
  $('#copy-link').addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(location.href);
      toast('Invite link copied');
    } catch {
      toast(location.href);
    }
  });
  for (const tab of document.querySelectorAll('.tab')) {
    tab.addEventListener('click', () => {
      for (const other of document.querySelectorAll('.tab')) other.setAttribute('aria-selected', String(other === tab));
      for (const panel of document.querySelectorAll('.panel')) panel.hidden = panel.dataset.panel !== tab.dataset.tab;
    });
  }
  addEventListener('pagehide', () => room.leave());
}
`;
