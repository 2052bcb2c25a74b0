/** The console's stylesheet, served inline. System fonts only: nothing is fetched. */
export const STYLE = `
:root { --bg:#f6f7f9; --panel:#fff; --line:#e2e5ea; --ink:#1d2330; --mute:#6b7280; --accent:#2f6fde; --human:#b45309;
  --ok:#15803d; --warn:#b45309; --bad:#b91c1c; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); height: 100vh; display: flex; flex-direction: column; }
header { display: flex; align-items: center; gap: 16px; padding: 10px 16px; background: #1d2330; color: #fff; }
header h1 { margin: 0; font-size: 17px; } header h1 span { font-weight: 400; opacity: .7; }
header .store { opacity: .7; font-size: 12px; font-family: ui-monospace, monospace; flex: 1; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.conn { font-size: 12px; padding: 2px 10px; border-radius: 10px; background: #4b5563; }
.conn.live { background: var(--ok); } .conn.closed { background: var(--bad); }
.problem { background: #fee2e2; color: var(--bad); padding: 6px 16px; }
main { flex: 1; display: grid; grid-template-columns: 270px 1fr 360px; gap: 12px; padding: 12px; min-height: 0; }
aside, .center { display: flex; flex-direction: column; gap: 12px; min-height: 0; overflow: auto; }
section { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }
.center { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }
h2 { margin: 0 0 8px; font-size: 13px; text-transform: uppercase; letter-spacing: .04em; color: var(--mute); }
.count { text-transform: none; font-weight: 400; }
.badge:not(:empty) { background: var(--bad); color: #fff; border-radius: 9px; padding: 0 7px; margin-left: 4px; }
ul.list { list-style: none; margin: 0; padding: 0; }
ul.list > li { padding: 6px 0; border-top: 1px solid var(--line); } ul.list > li:first-child { border-top: 0; }
.empty { color: var(--mute); font-style: italic; list-style: none; padding: 8px 0; }
.line { display: flex; align-items: center; gap: 6px; flex-wrap: wrap; }
.name { font-weight: 600; word-break: break-all; }
.sub { color: var(--mute); font-size: 12px; word-break: break-word; }
.dot { width: 9px; height: 9px; border-radius: 50%; background: #c4c8cf; flex: none; }
.session.live .dot { background: var(--ok); box-shadow: 0 0 0 3px #dcfce7; }
.session.offline .name { color: var(--mute); }
.tag { font-size: 11px; border: 1px solid var(--line); border-radius: 4px; padding: 0 5px; color: var(--mute); white-space: nowrap; }
.tag.push { color: var(--ok); border-color: #bbf7d0; } .tag.inbox { color: var(--warn); border-color: #fde68a; }
.tag.pending { color: #fff; background: var(--warn); border-color: var(--warn); }
.tag.prio.urgent { color: #fff; background: var(--bad); border-color: var(--bad); }
.tag.thread { color: var(--accent); border-color: #bfdbfe; }
.actions { display: flex; gap: 6px; margin-top: 4px; }
.thread { cursor: pointer; display: flex; flex-direction: column; } .thread:hover .name { color: var(--accent); }
button { font: inherit; border: 1px solid var(--line); background: #fff; border-radius: 6px; padding: 4px 10px; cursor: pointer; }
button:hover { border-color: var(--accent); } button:disabled { opacity: .5; cursor: default; }
button.small { font-size: 12px; padding: 1px 8px; }
button.link { border: 0; background: none; color: var(--accent); padding: 0; text-decoration: underline; }
button.primary { background: var(--accent); color: #fff; border-color: var(--accent); }
button.approve { background: var(--ok); color: #fff; border-color: var(--ok); } button.deny { background: var(--bad); color: #fff; border-color: var(--bad); }
input, select, textarea { font: inherit; border: 1px solid var(--line); border-radius: 6px; padding: 5px 8px; min-width: 0; background: #fff; }
input:disabled { background: #f1f3f5; }
.filters { display: flex; gap: 6px; flex-wrap: wrap; } .filters input[name=q] { flex: 2 1 200px; } .filters input { flex: 1 1 90px; }
.mode { color: var(--mute); font-size: 12px; margin: 8px 0 4px; }
ol.feed { list-style: none; margin: 0; padding: 0; }
.msg { border-top: 1px solid var(--line); padding: 8px 6px; cursor: pointer; border-left: 3px solid transparent; }
.msg:hover { background: #f8fafc; } .msg.selected { background: #eff6ff; border-left-color: var(--accent); }
.msg.human { border-left-color: var(--human); }
.head { display: flex; gap: 6px; align-items: center; flex-wrap: wrap; font-size: 12px; }
.head time { color: var(--mute); font-variant-numeric: tabular-nums; }
.who { font-weight: 600; } .who.human { color: var(--human); } .who.to { font-weight: 500; }
.arrow { color: var(--mute); }
.states { margin-left: auto; display: flex; gap: 4px; }
.state { font-size: 11px; border-radius: 4px; padding: 0 6px; background: #e5e7eb; }
.state.delivered { background: #dcfce7; color: var(--ok); } .state.replied { background: #dbeafe; color: var(--accent); }
.state.queued { background: #fef3c7; color: var(--warn); } .state.expired { background: #fee2e2; color: var(--bad); }
.content { white-space: pre-wrap; word-break: break-word; margin-top: 3px; }
.feed .content { max-height: 16em; overflow: auto; } /* long messages scroll; the trace shows them whole */
.compose { display: flex; flex-direction: column; gap: 6px; } .compose .row { display: flex; gap: 6px; } .compose .row > * { flex: 1; }
.check { display: flex; align-items: center; gap: 4px; flex: 0 0 auto !important; color: var(--mute); }
textarea { resize: vertical; }
.result { margin-top: 6px; font-size: 13px; } .result.ok { color: var(--ok); } .result.error, .error { color: var(--bad); }
.approval .desc { margin: 4px 0; }
pre.input { background: #f3f4f6; border-radius: 4px; padding: 4px 6px; margin: 4px 0; white-space: pre-wrap; word-break: break-all; font-size: 12px; }
.note { font-size: 12px; color: var(--ok); }
.trace table { width: 100%; border-collapse: collapse; font-size: 12px; margin-top: 6px; }
.trace th, .trace td { text-align: left; border-top: 1px solid var(--line); padding: 3px 4px; vertical-align: top; }
.trace .content { background: #f8fafc; border-radius: 4px; padding: 4px 6px; margin-top: 6px; }
code { font-family: ui-monospace, monospace; font-size: 12px; }
@media (max-width: 1000px) { main { grid-template-columns: 1fr; } }
`;
