/**
 * The call screen of the demo: a video tile per participant, chat over the WebRTC data channels, the
 * shared checklist (`checklist.ts`), who is here, the connection status, and the controls.
 */
import { type Call, type CallPeer, type Room, type RoomStatus, startCall } from '../../client/index.ts';
import type { DocSync } from '../../client/yjs/index.ts';
import { showChecklist } from './checklist.ts';
import { showNotes } from './notes.ts';
import { byId, describe, h, icons, toast } from './ui.ts';

/** The key of our own tile (peer ids are 16 characters, so none is `self`). */
const SELF = 'self';

/** What a participant sends: audio and video on or off. */
interface MediaState {
  audio: boolean;
  video: boolean;
}

/** What peers say to each other over the data channels, as JSON. */
type PeerMessage = { type: 'chat'; text: string; at?: number } | ({ type: 'media' } & MediaState);

/** One participant on screen. */
interface Tile {
  node: HTMLDivElement;
  video: HTMLVideoElement;
  avatar: HTMLDivElement;
  initials: HTMLSpanElement;
  label: HTMLDivElement;
  badge: HTMLDivElement;
}

/** The handles the browser tests (test/e2e/demo-driver.ts) reach through `window.demo`. */
export interface DemoHandles {
  room: Room;
  call: Call;
  stream: MediaStream;
  /** The shared notes' Yjs provider (its `doc` holds the `Y.Text` "notes"). */
  notes: DocSync;
}

const initials = (name: string) =>
  name
    .split(/\s+/)
    .filter(Boolean)
    .map((word) => word[0])
    .join('')
    .slice(0, 2)
    .toUpperCase() || '?';
const clock = (ms: number) => new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
const statusLabels: Record<RoomStatus, string> = {
  connecting: 'Connecting…',
  open: 'Connected',
  reconnecting: 'Reconnecting…',
  closed: 'Disconnected',
};

/** A data channel message from another peer, or undefined for anything this page does not speak. */
function parseMessage(data: unknown): PeerMessage | undefined {
  if (typeof data !== 'string') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return undefined;
  }
  // `null`, a number or an array parse too: only an object is a message.
  if (typeof value !== 'object' || value === null) return undefined;
  const message = value as Record<string, unknown>;
  if (message.type === 'chat' && typeof message.text === 'string') {
    return { type: 'chat', text: message.text, at: typeof message.at === 'number' ? message.at : undefined };
  }
  if (message.type === 'media') {
    return { type: 'media', audio: Boolean(message.audio), video: Boolean(message.video) };
  }
  return undefined;
}

/** Leaves the lobby for the call screen of `room`, sending `stream` (possibly without tracks) to every peer. */
export function enterRoom(room: Room, stream: MediaStream): void {
  const call = startCall(room, { stream });
  const tiles = new Map<string, Tile>();
  const media = new Map<string, MediaState>();
  const self: MediaState = {
    audio: stream.getAudioTracks().length > 0,
    video: stream.getVideoTracks().length > 0,
  };
  const handles: DemoHandles = { room, call, stream, notes: showNotes(room, call) };
  Object.assign(window, { demo: handles });
  byId('lobby', HTMLElement).hidden = true;
  byId('app', HTMLDivElement).hidden = false;
  byId('room-title', HTMLSpanElement).textContent = room.name;
  document.title = `${room.name} · ssehub rooms`;

  const nameOf = (id: string) =>
    id === SELF ? room.self.name || 'You' : room.peers.get(id)?.name || `Guest ${id.slice(0, 4)}`;

  function tile(id: string): Tile {
    const existing = tiles.get(id);
    if (existing) return existing;
    const video = h('video', { autoplay: '', playsinline: '' });
    const initialsNode = h('span', {}, '');
    const avatar = h('div', { class: 'avatar' }, initialsNode);
    const label = h('div', { class: 'label' });
    const badge = h('div', { class: 'badge' }, 'Connecting…');
    const node = h(
      'div',
      { class: `tile${id === SELF ? ' self' : ''}`, 'data-peer': id },
      video,
      avatar,
      label,
      badge,
    );
    const created: Tile = { node, video, avatar, initials: initialsNode, label, badge };
    tiles.set(id, created);
    byId('grid', HTMLDivElement).append(node);
    refresh(id);
    return created;
  }
  function refresh(id: string): void {
    const t = tiles.get(id);
    if (!t) return;
    const state = id === SELF ? self : (media.get(id) ?? { audio: true, video: true });
    t.label.replaceChildren();
    if (!state.audio) t.label.insertAdjacentHTML('beforeend', icons.micOff);
    t.label.append(nameOf(id) + (id === SELF ? ' (you)' : ''));
    const source = t.video.srcObject;
    const showing = state.video && source instanceof MediaStream && source.getVideoTracks().length > 0;
    t.avatar.hidden = showing;
    t.video.style.visibility = showing ? 'visible' : 'hidden';
    t.initials.textContent = initials(nameOf(id));
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
    tiles.get(peer.id)?.node.remove();
    tiles.delete(peer.id);
  });
  const announce = () => JSON.stringify({ type: 'media', audio: self.audio, video: self.video });
  call.on('open', (peer) => call.send(peer.id, announce()));
  call.on('data', ({ peer, data }) => received(peer, data));

  function received(peer: CallPeer, data: unknown): void {
    const message = parseMessage(data);
    if (message?.type === 'chat') addMessage(peer.id, message.text, message.at);
    if (message?.type === 'media') {
      media.set(peer.id, { audio: message.audio, video: message.video });
      refresh(peer.id);
    }
  }

  // Chat, over the data channels.
  const messages = byId('messages', HTMLDivElement);
  function addMessage(from: string, text: string, at: number | undefined): void {
    document.getElementById('chat-empty')?.remove();
    const mine = from === SELF;
    const meta = `${mine ? 'You' : nameOf(from)} · ${clock(at ?? Date.now())}`;
    const node = h(
      'div',
      { class: `msg${mine ? ' mine' : ''}` },
      h('div', { class: 'meta' }, meta),
      h('div', { class: 'bubble' }, text),
    );
    messages.append(node);
    messages.scrollTop = messages.scrollHeight;
  }
  function system(text: string): void {
    document.getElementById('chat-empty')?.remove();
    messages.append(h('div', { class: 'system' }, text));
  }
  const chatInput = byId('chat-input', HTMLInputElement);
  byId('chat-form', HTMLFormElement).addEventListener('submit', (event) => {
    event.preventDefault();
    const text = chatInput.value.trim();
    if (!text) return;
    const at = Date.now();
    const reached = call.broadcast(JSON.stringify({ type: 'chat', text, at }));
    addMessage(SELF, text, at);
    if (reached === 0) system('Nobody else is connected yet: share the invite link.');
    chatInput.value = '';
  });

  showChecklist(room);

  // People and presence.
  function renderPeople(): void {
    const list = byId('people', HTMLDivElement);
    list.replaceChildren();
    const person = (name: string, you: boolean) =>
      h(
        'div',
        { class: 'person' },
        h('span', { class: 'avatar-sm' }, initials(name)),
        h('span', {}, name),
        you ? h('span', { class: 'you' }, '(you)') : '',
      );
    list.append(person(nameOf(SELF), true));
    for (const id of room.peers.keys()) list.append(person(nameOf(id), false));
    byId('people-count', HTMLSpanElement).textContent = String(room.peers.size + 1);
  }
  room.on('join', (peer) => {
    toast(`${nameOf(peer.id)} joined`);
    system(`${nameOf(peer.id)} joined`);
    renderPeople();
  });
  room.on('leave', (peer) => {
    const name = peer.name || `Guest ${peer.id.slice(0, 4)}`;
    toast(`${name} left`);
    system(`${name} left`);
    renderPeople();
  });
  renderPeople();

  function renderStatus(status: RoomStatus): void {
    byId('status', HTMLSpanElement).dataset.status = status;
    const here = status === 'open' ? ` · ${room.peers.size + 1} here` : '';
    byId('status-text', HTMLSpanElement).textContent = statusLabels[status] + here;
  }
  room.on('status', renderStatus);
  room.on('join', () => renderStatus(room.status));
  room.on('leave', () => renderStatus(room.status));
  room.on('close', ({ reason, error }) => {
    renderStatus('closed');
    if (reason === 'error') toast(`Disconnected: ${describe(error)}`);
  });
  renderStatus(room.status);

  // Controls.
  function toggle(kind: keyof MediaState, button: HTMLButtonElement, on: string, off: string): void {
    self[kind] = !self[kind];
    const tracks = kind === 'audio' ? stream.getAudioTracks() : stream.getVideoTracks();
    for (const track of tracks) track.enabled = self[kind];
    button.classList.toggle('off', !self[kind]);
    button.setAttribute('aria-pressed', String(!self[kind]));
    button.title = self[kind] ? on : off;
    call.broadcast(announce());
    refresh(SELF);
  }
  const mic = byId('toggle-mic', HTMLButtonElement);
  const camera = byId('toggle-camera', HTMLButtonElement);
  mic.addEventListener('click', () => toggle('audio', mic, 'Mute microphone', 'Unmute microphone'));
  camera.addEventListener('click', () => toggle('video', camera, 'Turn camera off', 'Turn camera on'));
  if (!self.audio) mic.classList.add('off');
  if (!self.video) camera.classList.add('off');
  byId('leave', HTMLButtonElement).addEventListener('click', () => {
    room.leave();
    for (const track of stream.getTracks()) track.stop();
    location.assign(`/demo?room=${encodeURIComponent(room.name)}`);
  });
  byId('copy-link', HTMLButtonElement).addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(location.href);
      toast('Invite link copied');
    } catch {
      toast(location.href);
    }
  });
  const tabs = document.querySelectorAll<HTMLElement>('.tab');
  for (const tab of tabs) {
    tab.addEventListener('click', () => {
      for (const other of tabs) other.setAttribute('aria-selected', String(other === tab));
      for (const panel of document.querySelectorAll<HTMLElement>('.panel')) {
        panel.hidden = panel.dataset.panel !== tab.dataset.tab;
      }
    });
  }
  addEventListener('pagehide', () => room.leave());
}
