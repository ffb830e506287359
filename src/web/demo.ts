/**
 * `GET /demo`: a video call app on the hub's rooms — pick a room, see who is there, talk (camera and
 * microphone, full mesh), chat over the WebRTC data channels, and keep a checklist that everyone in
 * the room edits together through the hub. The page loads `/demo.css` and `/demo.js` (which imports
 * `/client.js`): no build step, served from memory on every runtime, and nothing inline, so that its
 * Content-Security-Policy needs no 'unsafe-inline' (see `pages.ts`).
 */

/** Icons (Feather-style strokes, drawn for this page). */
const icon = {
  logo: '<svg viewBox="0 0 24 24"><path d="M4 7h10a2 2 0 0 1 2 2v6a2 2 0 0 1-2 2H4a2 2 0 0 1-2-2V9a2 2 0 0 1 2-2z"/><path d="M16 11l6-3v8l-6-3"/></svg>',
  mic: '<svg viewBox="0 0 24 24"><rect x="9" y="2" width="6" height="12" rx="3"/><path d="M5 10a7 7 0 0 0 14 0M12 17v5"/></svg>',
  camera:
    '<svg viewBox="0 0 24 24"><path d="M4 7h10a2 2 0 0 1 2 2v6a2 2 0 0 1-2 2H4a2 2 0 0 1-2-2V9a2 2 0 0 1 2-2z"/><path d="M16 11l6-3v8l-6-3"/></svg>',
  phone:
    '<svg viewBox="0 0 24 24"><path d="M3 15.5c4.9-4.6 13.1-4.6 18 0l-2.6 2.6-3.4-1.7v-2.7a11 11 0 0 0-6 0v2.7l-3.4 1.7z"/></svg>',
  link: '<svg viewBox="0 0 24 24"><path d="M10 14a4 4 0 0 0 5.7 0l3-3a4 4 0 0 0-5.7-5.7l-1 1"/><path d="M14 10a4 4 0 0 0-5.7 0l-3 3a4 4 0 0 0 5.7 5.7l1-1"/></svg>',
  lock: '<svg viewBox="0 0 24 24"><rect x="4" y="11" width="16" height="10" rx="2"/><path d="M8 11V7a4 4 0 0 1 8 0v4"/></svg>',
  bolt: '<svg viewBox="0 0 24 24"><path d="M13 2L4 14h7l-1 8 9-12h-7z"/></svg>',
  check: '<svg viewBox="0 0 24 24"><path d="M4 12l5 5L20 6"/></svg>',
};

const markup = `
<section id="lobby">
  <form class="card" id="join-form" autocomplete="off">
    <div class="brand"><span class="logo">${icon.logo}</span> ssehub rooms</div>
    <h1>Meet in a room.<br>Plain HTTP underneath.</h1>
    <p class="lead">Video calls, chat and a shared checklist. Signaling, presence and state travel as Server-Sent Events — no WebSocket server.</p>
    <label for="room-input">Room</label>
    <input class="field" id="room-input" name="room" required maxlength="64" spellcheck="false">
    <label for="name-input">Your name</label>
    <input class="field" id="name-input" name="name" maxlength="64" placeholder="e.g. Ada Lovelace">
    <button class="primary" id="join-button" type="submit">Join room</button>
    <div class="hint" id="lobby-hint"></div>
    <div class="features">
      <span>${icon.bolt} Peer-to-peer media</span><span>${icon.lock} Private inboxes</span><span>${icon.check} Synced state</span>
    </div>
  </form>
</section>
<div id="app" hidden>
  <header class="top">
    <div class="brand"><span class="logo">${icon.logo}</span></div>
    <span class="room-name" id="room-title"></span>
    <span class="pill" id="status" data-status="connecting"><span class="dot"></span><span id="status-text">Connecting…</span></span>
    <span class="spacer"></span>
    <button class="ghost" id="copy-link" type="button" title="Copy invite link">${icon.link} <span>Copy invite link</span></button>
  </header>
  <main class="stage"><div id="grid"></div></main>
  <footer class="controls">
    <button class="round" id="toggle-mic" type="button" title="Mute microphone" aria-pressed="false">${icon.mic}</button>
    <button class="round" id="toggle-camera" type="button" title="Turn camera off" aria-pressed="false">${icon.camera}</button>
    <button class="round leave" id="leave" type="button">${icon.phone} Leave</button>
  </footer>
  <aside class="side">
    <nav class="tabs" role="tablist">
      <button class="tab" role="tab" data-tab="chat" aria-selected="true">Chat</button>
      <button class="tab" role="tab" data-tab="checklist" aria-selected="false">Checklist <span class="count" id="todo-count">0</span></button>
      <button class="tab" role="tab" data-tab="people" aria-selected="false">People <span class="count" id="people-count">1</span></button>
    </nav>
    <section class="panel" data-panel="chat">
      <div class="scroll" id="messages"><div class="empty" id="chat-empty">Messages go straight to the others over WebRTC data channels.</div></div>
      <form class="composer" id="chat-form"><input class="field" id="chat-input" placeholder="Message everyone" maxlength="2000"><button class="send">Send</button></form>
    </section>
    <section class="panel" data-panel="checklist" hidden>
      <div class="scroll" id="items"></div>
      <form class="composer" id="item-form"><input class="field" id="item-input" placeholder="Add an item" maxlength="200"><button class="send">Add</button></form>
    </section>
    <section class="panel" data-panel="people" hidden>
      <div class="scroll" id="people"></div>
    </section>
  </aside>
</div>
<div id="toasts"></div>
`;

/** The demo page. */
export const demoPage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>ssehub rooms — video calls over Server-Sent Events</title>
<link rel="stylesheet" href="/demo.css">
</head>
<body>
${markup}
<script type="module" src="/demo.js"></script>
</body>
</html>
`;
