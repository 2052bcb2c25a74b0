/**
 * The page's script. It is compiled with the rest (so it is type-checked against the views the
 * API serves) and served inline as `(${consoleClient})()`: at run time it must stay
 * self-contained, with no outside names (type imports are erased).
 *
 * Message content, names and every other value from the store are data: they reach the page
 * only through text nodes and setAttribute, never innerHTML, so `<img onerror=...>` or a fake
 * `<channel>` tag in a message is shown as the text it is.
 */
import type { ApprovalView as Approval, MessageView as Msg, RosterEntry as Session, ThreadView as Thread } from '../bus/views.js';

export function consoleClient(): void {
  const PATH_TITLES: Record<string, string> = {
    channel: 'messages are pushed into its context (channel)',
    hook: 'messages reach its context through its hooks, which wake it when idle',
    pull: 'its client shows no pushes and no hooks carry mail in: it pulls with its inbox tool',
  };
  const WAKE_TITLES: Record<string, string> = {
    bell: 'its hook wakes it',
    queue: 'cc-dm queues a prompt into its Codex thread',
    queue_slow: 'cc-dm queues a prompt into its Codex thread (in-process: about 10 s)',
    waiter: 'the cc-dm wait it runs in the background wakes it',
    none: 'nothing can wake it: mail waits for its next turn',
  };
  const FEED_MAX = 1000;
  const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
  type Kid = Node | string | null | undefined | false;
  /** Builds an element; strings become text nodes, attribute values are set as data. */
  function el(tag: string, attrs: Record<string, string | undefined> = {}, ...kids: Kid[]): HTMLElement {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) if (v !== undefined) e.setAttribute(k, v);
    for (const k of kids) if (k) e.append(typeof k === 'string' ? document.createTextNode(k) : k);
    return e;
  }
  // Times arrive as ISO 8601 strings.
  const clock = (t: string) => new Date(t).toLocaleTimeString([], { hour12: false });
  const stamp = (t: string | null) => (t === null ? '' : new Date(t).toLocaleString([], { hour12: false }));
  const ms = (t: string) => Date.parse(t);

  // The token arrives once in the fragment (#k=..., never sent to a server); it is kept in this
  // tab's sessionStorage, which no other origin (another port included) can read, and sent as a
  // header with every request: a cookie alone, which the browser also sends to other local
  // servers, is never enough.
  const KEY = 'cc-dm-console-token';
  const fromUrl = /^#k=([\w-]+)$/.exec(location.hash)?.[1];
  if (fromUrl) {
    sessionStorage.setItem(KEY, fromUrl);
    history.replaceState(null, '', '/');
  }
  const token = sessionStorage.getItem(KEY) ?? '';
  const headers = (extra: Record<string, string> = {}) => ({ 'x-cc-dm-token': token, ...extra });

  async function api<T>(path: string, post?: unknown): Promise<T> {
    const r = await fetch(
      path,
      post === undefined
        ? { credentials: 'omit', headers: headers(), cache: 'no-store' }
        : {
            method: 'POST',
            credentials: 'omit',
            headers: headers({ 'content-type': 'application/json' }),
            body: JSON.stringify(post),
          },
    );
    const body = await r.json().catch(() => ({ error: `HTTP ${r.status}` }));
    if (!r.ok) throw new Error(body.error ?? `HTTP ${r.status}`);
    return body as T;
  }

  // --- state ------------------------------------------------------------------------------
  const live: Msg[] = []; // newest last
  let results: Msg[] | null = null; // a search or filter is shown instead of the live feed
  let unseen = 0;
  let lastSeq = 0;
  let selected: string | null = null;

  // --- feed -------------------------------------------------------------------------------
  function stateSummary(m: Msg): HTMLElement {
    const box = el('span', { class: 'states' });
    if (m.kind === 'broadcast' && m.recipients.length > 1) {
      const counts = new Map<string, number>();
      for (const r of m.recipients) counts.set(r.state, (counts.get(r.state) ?? 0) + 1);
      for (const [s, n] of counts) box.append(el('span', { class: `state ${s}` }, `${n} ${s}`));
    } else {
      for (const r of m.recipients) box.append(el('span', { class: `state ${r.state}`, title: r.to }, r.state));
    }
    return box;
  }

  function msgNode(m: Msg): HTMLElement {
    const to = m.kind === 'broadcast' ? `everyone (${m.recipients.length})` : m.recipients.map((r) => r.to).join(', ') || (m.to ?? '');
    const li = el(
      'li',
      {
        class: `msg ${m.sender_kind}${m.message_id === selected ? ' selected' : ''}`,
        'data-id': m.message_id,
        'data-seq': String(m.seq),
        tabindex: '0',
      },
      el(
        'div',
        { class: 'head' },
        el('time', { datetime: m.sent_at, title: stamp(m.sent_at) }, clock(m.sent_at)),
        el('span', { class: `who ${m.sender_kind}` }, m.from),
        el('span', { class: 'arrow' }, m.kind === 'broadcast' ? '⇉' : '→'),
        el('span', { class: 'who to' }, to),
        m.thread_id && el('span', { class: 'tag thread', title: 'thread' }, `#${m.thread_id}`),
        m.priority && m.priority !== 'normal' && el('span', { class: `tag prio ${m.priority}` }, m.priority),
        m.message_type && el('span', { class: 'tag type' }, m.message_type),
        stateSummary(m),
      ),
      el('div', { class: 'content' }, m.content),
    );
    const open = () => void showTrace(m.message_id);
    li.addEventListener('click', open);
    li.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') open();
    });
    return li;
  }

  function renderFeed(): void {
    const list = results ?? live;
    const feed = $('feed');
    feed.replaceChildren(...list.slice(-FEED_MAX).reverse().map(msgNode));
    if (list.length === 0)
      feed.append(
        el('li', { class: 'empty' }, results ? 'No message matches.' : 'No messages yet. They appear here as sessions send them.'),
      );
    const mode = $('mode');
    if (results) {
      mode.replaceChildren(
        el('span', {}, `${results.length} result(s)${unseen ? ` · ${unseen} new message(s) in the live feed` : ''} · `),
        button('Back to the live feed', 'link', () => clearFilters()),
      );
    } else mode.replaceChildren(el('span', {}, 'Live feed, newest first.'));
  }

  function upsert(list: Msg[], m: Msg): boolean {
    const i = list.findIndex((x) => x.message_id === m.message_id);
    if (i >= 0) {
      list[i] = m;
      return true;
    }
    return false;
  }

  function addLive(m: Msg): void {
    lastSeq = Math.max(lastSeq, m.seq);
    if (upsert(live, m)) return;
    live.push(m);
    if (live.length > FEED_MAX) live.shift();
    if (results) {
      unseen++;
      renderFeed();
      return;
    }
    const feed = $('feed');
    feed.querySelector('.empty')?.remove();
    feed.prepend(msgNode(m));
    while (feed.children.length > FEED_MAX) feed.lastElementChild!.remove();
    if (m.thread_id) threadsSoon();
  }

  function updateMsg(m: Msg): void {
    upsert(live, m);
    if (results) upsert(results, m);
    const old = $('feed').querySelector(`li[data-seq="${m.seq}"]`);
    if (old) old.replaceWith(msgNode(m));
    if (selected === m.message_id) renderTrace(m);
  }

  function button(text: string, cls: string, onClick: () => void, attrs: Record<string, string> = {}): HTMLElement {
    const b = el('button', { type: 'button', class: cls, ...attrs }, text);
    b.addEventListener('click', (e) => {
      e.stopPropagation();
      onClick();
    });
    return b;
  }

  // --- filters and search -----------------------------------------------------------------
  const filterForm = $<HTMLFormElement>('filters');
  const field = (name: string) => filterForm.elements.namedItem(name) as HTMLInputElement;
  async function search(): Promise<void> {
    const q = new URLSearchParams();
    for (const k of ['q', 'peer', 'thread', 'project', 'since']) {
      const v = field(k).value.trim();
      if (v) q.set(k, v);
    }
    if ([...q.keys()].length === 0) return clearFilters();
    q.set('limit', '500');
    try {
      results = await api<Msg[]>(`/api/history?${q}`);
      unseen = 0;
      setProblem('');
    } catch (e) {
      setProblem((e as Error).message);
    }
    renderFeed();
  }
  function clearFilters(): void {
    for (const k of ['q', 'peer', 'thread', 'project', 'since']) field(k).value = '';
    results = null;
    unseen = 0;
    renderFeed();
  }
  filterForm.addEventListener('submit', (e) => {
    e.preventDefault();
    void search();
  });
  $('clear').addEventListener('click', () => clearFilters());
  function filterBy(k: string, v: string): void {
    clearFieldsOnly();
    field(k).value = v;
    void search();
  }
  function clearFieldsOnly(): void {
    for (const k of ['q', 'peer', 'thread', 'project', 'since']) field(k).value = '';
  }

  // --- roster -----------------------------------------------------------------------------
  function renderRoster(list: Session[]): void {
    const ul = $('roster');
    const opts = $('names');
    opts.replaceChildren(...list.map((s) => el('option', { value: s.name })));
    ul.replaceChildren(
      ...list.map((s) =>
        el(
          'li',
          { class: `session ${s.live ? 'live' : 'offline'}`, 'data-name': s.name, 'data-live': String(s.live) },
          el(
            'div',
            { class: 'line' },
            el('span', { class: 'dot', title: s.live ? 'running' : 'not running: mail waits in its mailbox' }),
            el('span', { class: 'name' }, s.name),
            s.live && s.agent && el('span', { class: 'tag agent', title: 'the agent CLI it runs in' }, s.agent),
            s.live &&
              el(
                'span',
                {
                  class: `tag path ${s.path ?? 'pull'}`,
                  title:
                    PATH_TITLES[s.path ?? 'pull'] + (s.path === 'hook' && s.wake ? `; when idle: ${WAKE_TITLES[s.wake] ?? s.wake}` : ''),
                },
                s.path === 'channel' ? 'push' : s.path === 'hook' ? (s.wake === 'none' ? 'hook (next turn)' : 'hook') : 'inbox',
              ),
            s.live &&
              s.presence &&
              el('span', { class: `tag presence ${s.presence}`, title: 'what it is doing, from its hooks' }, s.presence),
            s.pending > 0 && el('span', { class: 'tag pending', title: 'messages waiting for it' }, `${s.pending} waiting`),
            s.reserved && el('span', { class: 'tag', title: 'reserved with cc-dm reserve' }, 'reserved'),
          ),
          el(
            'div',
            { class: 'sub' },
            [
              s.role,
              s.project && `project ${s.project}`,
              s.live
                ? `active ${s.last_active_at ? clock(s.last_active_at) : ''}`
                : s.last_active_at
                  ? `last seen ${stamp(s.last_active_at)}`
                  : 'never ran',
            ]
              .filter(Boolean)
              .join(' · '),
          ),
          el(
            'div',
            { class: 'actions' },
            button(
              'dm',
              'small',
              () => {
                composeTo(s.name);
              },
              { 'data-action': 'dm' },
            ),
            button('history', 'small', () => filterBy('peer', s.name), { 'data-action': 'history' }),
          ),
        ),
      ),
    );
    if (list.length === 0) ul.append(el('li', { class: 'empty' }, 'No session has registered yet.'));
    $('live-count').textContent = `${list.filter((s) => s.live).length} live`;
  }

  let threadsTimer: ReturnType<typeof setTimeout> | undefined;
  /** Thread counts change with every threaded message: refresh at most twice a second. */
  function threadsSoon(): void {
    if (threadsTimer === undefined)
      threadsTimer = setTimeout(() => {
        threadsTimer = undefined;
        void loadThreads();
      }, 500);
  }

  async function loadThreads(): Promise<void> {
    try {
      const list = await api<Thread[]>('/api/threads');
      const ul = $('threads');
      ul.replaceChildren(
        ...list.slice(0, 50).map((t) => {
          const li = el(
            'li',
            { class: 'thread', 'data-thread': t.thread_id, tabindex: '0' },
            el('span', { class: 'name' }, `#${t.thread_id}`),
            el('span', { class: 'sub' }, `${t.messages} msg · ${t.participants.join(', ')} · ${clock(t.last_at)}`),
          );
          li.addEventListener('click', () => {
            filterBy('thread', t.thread_id);
            ($('c-thread') as HTMLInputElement).value = t.thread_id;
          });
          return li;
        }),
      );
      if (list.length === 0) ul.append(el('li', { class: 'empty' }, 'No threads yet (messages with a thread_id).'));
    } catch (e) {
      setProblem((e as Error).message);
    }
  }

  // --- approvals --------------------------------------------------------------------------
  function renderApprovals(list: Approval[]): void {
    const ul = $('approvals');
    $('approvals-count').textContent = list.length ? String(list.length) : '';
    // A background tab still shows that a session waits for an answer.
    document.title = list.length ? `(${list.length}) approval waiting · cc-dm console` : 'cc-dm console';
    ul.replaceChildren(
      ...list.map((a) => {
        const note = el('div', { class: 'note' });
        const answer = async (behavior: 'allow' | 'deny') => {
          const buttons = [...li.querySelectorAll('button')] as HTMLButtonElement[];
          buttons.forEach((b) => {
            b.disabled = true;
          });
          try {
            await api(`/api/approvals/${encodeURIComponent(a.request_id)}`, { behavior, from: a.requester });
            note.textContent = behavior === 'allow' ? 'approved' : 'denied';
          } catch (e) {
            note.textContent = (e as Error).message;
            note.className = 'note error';
            buttons.forEach((b) => {
              b.disabled = false;
            });
          }
        };
        const li = el(
          'li',
          { class: 'approval', 'data-request': a.request_id, 'data-requester': a.requester },
          el(
            'div',
            { class: 'line' },
            el('span', { class: 'name' }, a.requester),
            ' asks to run ',
            el('code', {}, a.tool_name),
            el('span', { class: 'tag' }, a.request_id),
          ),
          a.description && el('div', { class: 'desc' }, a.description),
          a.input_preview && el('pre', { class: 'input' }, a.input_preview),
          el('div', { class: 'sub' }, `asked ${clock(a.asked_at)} · approver: ${a.approver}`),
          el(
            'div',
            { class: 'actions' },
            button('Approve', 'approve', () => void answer('allow'), { 'data-action': 'approve' }),
            button('Deny', 'deny', () => void answer('deny'), { 'data-action': 'deny' }),
          ),
          note,
        );
        return li;
      }),
    );
    if (list.length === 0) ul.append(el('li', { class: 'empty' }, 'Nothing waits for an answer.'));
  }

  // --- trace ------------------------------------------------------------------------------
  async function showTrace(id: string): Promise<void> {
    selected = id;
    for (const n of $('feed').querySelectorAll('li.selected')) n.classList.remove('selected');
    $('feed')
      .querySelector(`li[data-id="${CSS.escape(id)}"]`)
      ?.classList.add('selected');
    try {
      renderTrace(await api<Msg>(`/api/trace/${encodeURIComponent(id)}`));
    } catch (e) {
      $('trace').replaceChildren(el('div', { class: 'error' }, (e as Error).message));
    }
  }

  function renderTrace(m: Msg): void {
    const rows = m.recipients.map((r) =>
      el(
        'tr',
        { class: `state-row ${r.state}`, 'data-to': r.to },
        el('td', {}, r.to),
        el('td', {}, el('span', { class: `state ${r.state}` }, r.state)),
        el('td', { title: stamp(r.queued_at) }, clock(r.queued_at)),
        el(
          'td',
          { title: stamp(r.delivered_at) },
          r.delivered_at ? `${clock(r.delivered_at)} ${r.delivered_via ?? ''} (+${ms(r.delivered_at) - ms(r.queued_at)} ms)` : '',
        ),
        el(
          'td',
          { title: stamp(r.replied_at ?? r.expired_at) },
          r.replied_at ? clock(r.replied_at) : r.expired_at ? `expired: ${r.expire_reason ?? ''}` : '',
        ),
      ),
    );
    $('trace').replaceChildren(
      el('div', { class: 'line' }, el('code', { class: 'mid' }, m.message_id)),
      el(
        'div',
        { class: 'sub' },
        `${m.kind} from ${m.from} (${m.sender_kind}) at ${stamp(m.sent_at)}${m.thread_id ? ` · thread ${m.thread_id}` : ''}${m.project ? ` · project ${m.project}` : ''}`,
      ),
      el('div', { class: 'content' }, m.content),
      el(
        'table',
        {},
        el('thead', {}, el('tr', {}, ...['to', 'state', 'queued', 'delivered', 'replied'].map((h) => el('th', {}, h)))),
        el('tbody', {}, ...rows),
      ),
      el(
        'div',
        { class: 'actions' },
        m.thread_id ? button('Show thread', 'small', () => filterBy('thread', m.thread_id!)) : null,
        m.sender_kind === 'session'
          ? button(`Reply to ${m.from}`, 'small', () => {
              composeTo(m.from);
              if (m.thread_id) ($('c-thread') as HTMLInputElement).value = m.thread_id;
            })
          : null,
      ),
    );
  }

  // --- compose ----------------------------------------------------------------------------
  const compose = $<HTMLFormElement>('compose');
  const cField = (id: string) => $<HTMLInputElement>(id);
  function composeTo(name: string): void {
    cField('c-broadcast').checked = false;
    syncBroadcast();
    cField('c-to').value = name;
    $('c-content').focus();
  }
  function syncBroadcast(): void {
    const b = cField('c-broadcast').checked;
    cField('c-to').disabled = b;
    cField('c-project').disabled = !b;
  }
  cField('c-broadcast').addEventListener('change', syncBroadcast);
  syncBroadcast();
  async function send(): Promise<void> {
    const out = $('send-result');
    const content = ($('c-content') as HTMLTextAreaElement).value;
    const body = {
      broadcast: cField('c-broadcast').checked,
      to: cField('c-to').value.trim(),
      project: cField('c-project').value.trim(),
      thread_id: cField('c-thread').value.trim(),
      priority: ($('c-priority') as HTMLSelectElement).value,
      message_type: ($('c-type') as HTMLSelectElement).value,
      queue_if_unknown: cField('c-queue').checked,
      content,
    };
    const btn = $<HTMLButtonElement>('c-send');
    btn.disabled = true;
    try {
      const r = await api<{ message_id: string; to?: string; recipients?: { name: string }[]; note?: string; recipient_online?: boolean }>(
        '/api/send',
        body,
      );
      const who = r.to ?? (r.recipients ?? []).map((x) => x.name).join(', ');
      out.className = 'result ok';
      out.replaceChildren(
        el('span', {}, `Sent to ${who}: `),
        button(r.message_id, 'link', () => void showTrace(r.message_id), { 'data-message': r.message_id }),
        el('div', { class: 'sub' }, r.note ?? ''),
      );
      ($('c-content') as HTMLTextAreaElement).value = '';
    } catch (e) {
      out.className = 'result error';
      out.replaceChildren(el('span', {}, (e as Error).message));
    } finally {
      btn.disabled = false;
    }
  }
  compose.addEventListener('submit', (e) => {
    e.preventDefault();
    void send();
  });
  $('c-content').addEventListener('keydown', (e) => {
    if ((e as KeyboardEvent).key === 'Enter' && ((e as KeyboardEvent).ctrlKey || (e as KeyboardEvent).metaKey)) {
      e.preventDefault();
      void send();
    }
  });

  // --- live stream ------------------------------------------------------------------------
  function setConn(state: 'live' | 'connecting' | 'closed', text: string): void {
    const c = $('conn');
    c.className = `conn ${state}`;
    c.textContent = text;
  }
  function setProblem(text: string): void {
    const p = $('problem');
    p.textContent = text;
    p.hidden = !text;
  }
  /** One event of the stream, as the server wrote it (event name and JSON data). */
  function dispatch(block: string): void {
    let event = 'message';
    let data = '';
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) continue; // a keep-alive comment
      const i = line.indexOf(':');
      const k = i < 0 ? line : line.slice(0, i);
      const v = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
      if (k === 'event') event = v;
      else if (k === 'data') data += v;
    }
    if (!data) return;
    const body = JSON.parse(data);
    if (event === 'message') addLive(body);
    else if (event === 'update') updateMsg(body);
    else if (event === 'roster') renderRoster(body);
    else if (event === 'approvals') renderApprovals(body);
    else if (event === 'problem') setProblem(`store: ${body.error}`);
  }

  /**
   * The live stream (Server-Sent Events), read with fetch so that it carries the token header
   * (EventSource cannot send one); it reconnects by itself, resuming after the last message seen.
   */
  async function connect(): Promise<void> {
    for (;;) {
      try {
        const r = await fetch(`/api/events?after=${lastSeq}`, { credentials: 'omit', headers: headers(), cache: 'no-store' });
        if (r.status === 401 || r.status === 403) {
          setConn('closed', 'disconnected');
          setProblem('The console stopped or its token changed: open the URL that cc-dm console printed.');
          return;
        }
        if (!r.ok || !r.body) throw new Error(`HTTP ${r.status}`);
        setConn('live', 'live');
        const reader = r.body.getReader();
        const decoder = new TextDecoder();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += decoder.decode(value, { stream: true });
          for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            dispatch(block);
          }
        }
      } catch {
        /* the connection broke: try again below */
      }
      setConn('connecting', 'reconnecting…');
      await new Promise((r) => setTimeout(r, 1000));
    }
  }

  async function start(): Promise<void> {
    if (!token) {
      setConn('closed', 'no key');
      setProblem('This tab has no console key: open the URL that cc-dm console printed.');
      return;
    }
    try {
      const info = await api<{ store: string; kind: string }>('/api/info');
      $('store').textContent = `${info.kind} · ${info.store}`;
      const recent = await api<Msg[]>('/api/history?limit=200');
      for (const m of recent) {
        live.push(m);
        lastSeq = Math.max(lastSeq, m.seq);
      }
      renderFeed();
      renderRoster(await api<Session[]>('/api/roster'));
      renderApprovals(await api<Approval[]>('/api/approvals'));
      await loadThreads();
    } catch (e) {
      setProblem((e as Error).message);
    }
    void connect();
  }
  void start();
}
