/** The console's one page: markup, style and script, all inline (allowed by the CSP nonce). */
import { consoleClient } from './client.js';
import { STYLE } from './style.js';

const OPTIONS = (values: readonly string[]) => ['<option value="">—</option>', ...values.map((v) => `<option>${v}</option>`)].join('');

export function page(nonce: string, info: { priorities: readonly string[]; messageTypes: readonly string[] }): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>cc-dm console</title>
<style nonce="${nonce}">${STYLE}</style>
</head>
<body>
<header>
  <h1>cc-dm <span>console</span></h1>
  <span id="store" class="store" title="the store this console reads"></span>
  <span id="conn" class="conn connecting">connecting…</span>
</header>
<div id="problem" class="problem" role="alert" hidden></div>
<main>
  <aside class="left">
    <section>
      <h2>Sessions <span id="live-count" class="count"></span></h2>
      <ul id="roster" class="list"></ul>
    </section>
    <section>
      <h2>Threads</h2>
      <ul id="threads" class="list"></ul>
    </section>
  </aside>
  <section class="center">
    <form id="filters" class="filters" autocomplete="off">
      <input name="q" type="search" placeholder="Search all history…" aria-label="full-text search">
      <input name="peer" placeholder="peer" aria-label="peer" list="names">
      <input name="thread" placeholder="thread" aria-label="thread">
      <input name="project" placeholder="project" aria-label="project">
      <input name="since" placeholder="since 2h" aria-label="since">
      <button type="submit" id="search">Search</button>
      <button type="button" id="clear" class="link">Clear</button>
    </form>
    <div id="mode" class="mode"></div>
    <ol id="feed" class="feed" aria-live="polite"></ol>
  </section>
  <aside class="right">
    <section>
      <h2>Compose <span class="count">as the human</span></h2>
      <form id="compose" class="compose" autocomplete="off">
        <div class="row">
          <input id="c-to" placeholder="to (session name)" aria-label="to" list="names">
          <label class="check"><input id="c-broadcast" type="checkbox"> broadcast</label>
        </div>
        <div class="row">
          <input id="c-project" placeholder="project (broadcast)" aria-label="project">
          <input id="c-thread" placeholder="thread" aria-label="thread">
        </div>
        <div class="row">
          <select id="c-priority" aria-label="priority">${OPTIONS(info.priorities)}</select>
          <select id="c-type" aria-label="message type">${OPTIONS(info.messageTypes)}</select>
          <label class="check" title="queue for a name that no session has used yet"><input id="c-queue" type="checkbox"> queue</label>
        </div>
        <textarea id="c-content" rows="4" placeholder="Message (Ctrl+Enter sends)" aria-label="message"></textarea>
        <button type="submit" id="c-send" class="primary">Send</button>
      </form>
      <div id="send-result" class="result"></div>
    </section>
    <section>
      <h2>Approvals <span id="approvals-count" class="badge"></span></h2>
      <ul id="approvals" class="list"></ul>
    </section>
    <section>
      <h2>Delivery trace</h2>
      <div id="trace" class="trace"><div class="sub">Click a message to see, per recipient, where it is.</div></div>
    </section>
  </aside>
</main>
<datalist id="names"></datalist>
<script nonce="${nonce}">(${consoleClient.toString()})();</script>
</body>
</html>`;
}
