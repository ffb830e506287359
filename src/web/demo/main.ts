/**
 * The demo's script (`/demo.js`, built from this folder by `npm run build:assets`): the lobby — pick
 * a room and a name, start the camera, join — then the call screen (`room-view.ts`). It uses the
 * client as any application would: the build leaves `src/client/index.ts` out and imports the
 * hub's `/client.js` in its place, so the page runs on the very module the hub serves.
 */
import { joinRoom, type Room } from '../../client/index.ts';
import { enterRoom } from './room-view.ts';
import { byId, describe } from './ui.ts';

const NAME_KEY = 'ssehub-demo-name';
const adjectives = [
  'amber',
  'brisk',
  'calm',
  'cedar',
  'coral',
  'ember',
  'gentle',
  'harbor',
  'jade',
  'lunar',
  'maple',
  'noble',
  'solar',
  'tidal',
  'velvet',
  'willow',
];
const animals = ['otter', 'falcon', 'lynx', 'heron', 'badger', 'fox', 'panda', 'raven', 'wolf', 'whale'];
const pick = (list: readonly string[]): string => list[Math.floor(Math.random() * list.length)] ?? '';
const randomRoom = () => `${pick(adjectives)}-${pick(animals)}-${10 + Math.floor(Math.random() * 90)}`;
/** A room name the hub takes (1 to 64 of A-Z a-z 0-9 _ -), from what was typed; '' when nothing is left. */
const slug = (text: string) =>
  text
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 64);

const form = byId('join-form', HTMLFormElement);
const roomInput = byId('room-input', HTMLInputElement);
const nameInput = byId('name-input', HTMLInputElement);
const button = byId('join-button', HTMLButtonElement);
const hint = byId('lobby-hint', HTMLDivElement);

roomInput.value = new URLSearchParams(location.search).get('room') || randomRoom();
nameInput.value = localStorage.getItem(NAME_KEY) || '';
form.addEventListener('submit', (event) => {
  event.preventDefault();
  void start();
});

async function start(): Promise<void> {
  const name = nameInput.value.trim();
  const roomName = slug(roomInput.value);
  hint.className = 'hint';
  if (!roomName) {
    hint.className = 'hint error';
    hint.textContent = 'Pick a room name: letters, digits, - and _.';
    return;
  }
  localStorage.setItem(NAME_KEY, name);
  button.disabled = true;
  hint.textContent = 'Starting your camera…';
  let stream = new MediaStream();
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 360 } });
  } catch {
    hint.textContent = 'No camera or microphone: joining without them.';
  }
  let room: Room;
  try {
    room = await joinRoom(location.origin, roomName, name ? { name } : {});
  } catch (error) {
    for (const track of stream.getTracks()) track.stop();
    button.disabled = false;
    hint.className = 'hint error';
    hint.textContent = describe(error);
    return;
  }
  history.replaceState(null, '', `?room=${roomName}`);
  enterRoom(room, stream);
}
