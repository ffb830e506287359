/** The demo's stylesheet (see `demo.ts`). */
export const demoStyle = `
:root {
  --bg: #0e1014; --surface: #161920; --surface-2: #1d2129; --surface-3: #252a34; --border: #2a303b;
  --text: #e8eaef; --muted: #98a1b1; --accent: #6d8cff; --accent-2: #8aa2ff; --green: #3cc98f;
  --red: #ef4d5a; --amber: #f3b84b; --radius: 14px;
  color-scheme: dark;
}
* { box-sizing: border-box; }
html, body { height: 100%; margin: 0; }
body {
  background: radial-gradient(1200px 600px at 10% -10%, #1b2140 0%, transparent 60%), var(--bg);
  color: var(--text); font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Ubuntu, sans-serif;
  -webkit-font-smoothing: antialiased;
}
button, input { font: inherit; color: inherit; }
button { cursor: pointer; }
svg { width: 20px; height: 20px; fill: none; stroke: currentColor; stroke-width: 2; stroke-linecap: round; stroke-linejoin: round; }
[hidden] { display: none !important; }

/* Lobby */
#lobby { min-height: 100%; display: grid; place-items: center; padding: 32px 16px; }
.card {
  width: min(440px, 100%); background: color-mix(in srgb, var(--surface) 92%, transparent);
  border: 1px solid var(--border); border-radius: 20px; padding: 32px; box-shadow: 0 30px 80px #0008;
}
.brand { display: flex; align-items: center; gap: 10px; font-weight: 650; font-size: 15px; letter-spacing: .2px; }
.logo { width: 30px; height: 30px; border-radius: 9px; display: grid; place-items: center;
  background: linear-gradient(135deg, var(--accent), #9b6dff); color: white; }
.logo svg { width: 17px; height: 17px; }
.card h1 { font-size: 26px; line-height: 1.2; margin: 22px 0 8px; letter-spacing: -.3px; }
.card p.lead { color: var(--muted); margin: 0 0 24px; }
label { display: block; font-size: 12px; font-weight: 600; color: var(--muted); margin: 14px 0 6px; text-transform: uppercase; letter-spacing: .6px; }
.field { width: 100%; padding: 11px 13px; border-radius: 10px; border: 1px solid var(--border);
  background: var(--surface-2); outline: none; transition: border-color .15s; }
.field:focus { border-color: var(--accent); }
.primary { width: 100%; margin-top: 22px; padding: 12px; border: 0; border-radius: 10px; font-weight: 600;
  background: var(--accent); color: white; transition: background .15s, opacity .15s; }
.primary:hover { background: var(--accent-2); }
.primary:disabled { opacity: .6; cursor: progress; }
.hint { color: var(--muted); font-size: 12.5px; margin-top: 14px; min-height: 18px; }
.hint.error { color: var(--red); }
.features { display: flex; gap: 14px; margin-top: 22px; padding-top: 18px; border-top: 1px solid var(--border);
  color: var(--muted); font-size: 12.5px; flex-wrap: wrap; }
.features span { display: inline-flex; align-items: center; gap: 6px; }
.features svg { width: 15px; height: 15px; color: var(--accent-2); }

/* Call */
#app { height: 100%; display: grid; grid-template-rows: 60px 1fr 76px; grid-template-columns: 1fr 340px; }
header.top { grid-column: 1 / -1; display: flex; align-items: center; gap: 14px; padding: 0 20px;
  border-bottom: 1px solid var(--border); background: #0e1014cc; backdrop-filter: blur(8px); }
.room-name { font-weight: 600; font-size: 15px; }
.pill { white-space: nowrap; display: inline-flex; align-items: center; gap: 7px; padding: 4px 10px; border-radius: 99px;
  background: var(--surface-2); color: var(--muted); font-size: 12px; border: 1px solid var(--border); }
.pill .dot { width: 7px; height: 7px; border-radius: 50%; background: var(--amber); }
.pill[data-status="open"] .dot { background: var(--green); box-shadow: 0 0 0 3px #3cc98f33; }
.pill[data-status="closed"] .dot { background: var(--red); }
.spacer { flex: 1; }
.ghost { white-space: nowrap; display: inline-flex; align-items: center; gap: 8px; padding: 8px 12px; border-radius: 10px;
  border: 1px solid var(--border); background: var(--surface); font-size: 13px; }
.ghost:hover { background: var(--surface-2); }
.ghost svg { width: 16px; height: 16px; }

main.stage { padding: 18px; overflow: auto; }
#grid { display: grid; gap: 14px; grid-template-columns: repeat(auto-fit, minmax(300px, 1fr)); align-content: center; min-height: 100%; }
.tile { position: relative; aspect-ratio: 16 / 9; background: var(--surface); border-radius: var(--radius);
  overflow: hidden; border: 1px solid var(--border); box-shadow: 0 8px 30px #0005; }
.tile video { width: 100%; height: 100%; object-fit: cover; display: block; background: #0b0d11; }
.tile.self video { transform: scaleX(-1); }
.tile .avatar { position: absolute; inset: 0; display: grid; place-items: center; }
.tile .avatar span { width: 76px; height: 76px; border-radius: 50%; display: grid; place-items: center; font-size: 28px;
  font-weight: 600; background: linear-gradient(135deg, #3a4a8c, #5b3d8c); }
.tile .label { position: absolute; left: 10px; bottom: 10px; display: flex; align-items: center; gap: 6px;
  padding: 5px 10px; border-radius: 8px; background: #000a; backdrop-filter: blur(6px); font-size: 12.5px; font-weight: 500; }
.tile .label svg { width: 14px; height: 14px; color: var(--red); }
.tile .badge { position: absolute; top: 10px; right: 10px; padding: 4px 9px; border-radius: 8px; font-size: 11.5px;
  background: #000a; color: var(--amber); }
.tile[data-state="connected"] .badge, .tile.self .badge { display: none; }
.tile.speaking { border-color: var(--green); }

footer.controls { display: flex; justify-content: center; align-items: center; gap: 12px; border-top: 1px solid var(--border); }
.round { width: 48px; height: 48px; border-radius: 50%; border: 1px solid var(--border); background: var(--surface-2);
  display: grid; place-items: center; transition: background .15s; }
.round:hover { background: var(--surface-3); }
.round.off { background: #3a1d22; border-color: #5a2830; color: #ff8a94; }
.round.leave { width: auto; padding: 0 20px; border-radius: 24px; background: var(--red); border-color: var(--red);
  color: white; font-weight: 600; display: inline-flex; gap: 8px; }
.round.leave:hover { background: #ff5f6b; }

aside.side { grid-row: 2 / 4; grid-column: 2; border-left: 1px solid var(--border); background: var(--surface);
  display: flex; flex-direction: column; min-height: 0; }
.tabs { display: flex; padding: 10px 10px 0; gap: 4px; border-bottom: 1px solid var(--border); }
.tab { flex: 1; padding: 9px 6px 11px; border: 0; background: none; color: var(--muted); font-weight: 600; font-size: 13px;
  border-bottom: 2px solid transparent; display: inline-flex; justify-content: center; gap: 6px; }
.tab[aria-selected="true"] { color: var(--text); border-bottom-color: var(--accent); }
.count { min-width: 18px; padding: 0 5px; border-radius: 9px; background: var(--surface-3); font-size: 11px; line-height: 18px; }
.panel { flex: 1; min-height: 0; display: flex; flex-direction: column; }
.scroll { flex: 1; overflow: auto; padding: 14px; display: flex; flex-direction: column; gap: 10px; }
.empty { color: var(--muted); text-align: center; margin: auto; padding: 20px; font-size: 13px; max-width: 240px; }
.composer { display: flex; gap: 8px; padding: 12px; border-top: 1px solid var(--border); }
.composer .field { padding: 9px 12px; }
.send { border: 0; border-radius: 10px; background: var(--accent); color: white; padding: 0 14px; font-weight: 600; }
.msg { max-width: 85%; }
.msg .meta { font-size: 11.5px; color: var(--muted); margin-bottom: 3px; }
.msg .bubble { background: var(--surface-2); padding: 8px 12px; border-radius: 12px 12px 12px 4px; word-wrap: break-word; white-space: pre-wrap; }
.msg.mine { align-self: flex-end; }
.msg.mine .meta { text-align: right; }
.msg.mine .bubble { background: #2f3f80; border-radius: 12px 12px 4px 12px; }
.system { align-self: center; font-size: 12px; color: var(--muted); }
.item { display: flex; align-items: center; gap: 10px; padding: 9px 10px; border-radius: 10px; background: var(--surface-2); border: 1px solid transparent; }
.item:hover { border-color: var(--border); }
.item input { width: 17px; height: 17px; accent-color: var(--green); }
.item .body { flex: 1; display: flex; flex-direction: column; min-width: 0; }
.item .text { overflow-wrap: anywhere; }
.item.done .text { color: var(--muted); text-decoration: line-through; }
.item .by { font-size: 11.5px; color: var(--muted); margin-top: 1px; }
.item .remove { border: 0; background: none; color: var(--muted); padding: 2px; opacity: 0; }
.item:hover .remove { opacity: 1; }
.item .remove svg { width: 15px; height: 15px; }
.progress { font-size: 12px; color: var(--muted); }
.person { display: flex; align-items: center; gap: 10px; }
.person .avatar-sm { width: 30px; height: 30px; border-radius: 50%; display: grid; place-items: center; font-weight: 600; font-size: 13px;
  background: linear-gradient(135deg, #3a4a8c, #5b3d8c); }
.person .you { color: var(--muted); font-size: 12px; }
#toasts { position: fixed; left: 50%; top: 72px; transform: translateX(-50%); display: flex; flex-direction: column; gap: 8px; z-index: 10; pointer-events: none; }
.toast { background: var(--surface-3); border: 1px solid var(--border); padding: 9px 14px; border-radius: 10px; box-shadow: 0 10px 30px #0007;
  animation: pop .2s ease-out; }
@keyframes pop { from { opacity: 0; transform: translateY(-6px); } }
@media (max-width: 860px) {
  #app { grid-template-columns: 1fr; grid-template-rows: 60px auto 76px 360px; }
  aside.side { grid-row: 4; grid-column: 1; border-left: 0; border-top: 1px solid var(--border); }
  #grid { grid-template-columns: repeat(auto-fit, minmax(220px, 1fr)); }
  #copy-link span { display: none; }
  header.top { gap: 10px; padding: 0 12px; }
}
`;
