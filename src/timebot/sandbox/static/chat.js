/* Sandbox web chat: pick an employee, talk to bots, press keyboard buttons. Vanilla JS, no CDN.
   Polls ./api/messages for changes (new, edited, deleted messages) since the last revision. */
"use strict";

(function () {
  const POLL_MS = 1500;
  const $ = (id) => document.getElementById(id);
  const state = {
    user: Number(localStorage.getItem("sandbox.user") || 0),
    dialog: localStorage.getItem("sandbox.dialog") || "",
    users: [],
    dialogs: [],
    messages: new Map(),
    revision: 0,
    polling: null,
  };

  // ---- BB-code -------------------------------------------------------------------------

  const ESC = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
  function esc(text) {
    return String(text).replace(/[&<>"']/g, (c) => ESC[c]);
  }
  function unesc(text) {
    const t = document.createElement("textarea");
    t.innerHTML = text;
    return t.value;
  }
  function safeUrl(url) {
    const u = unesc(String(url)).trim();
    return /^(https?:\/\/|\/(?!\/))/i.test(u) ? u : null;
  }
  function link(url, label) {
    const href = safeUrl(url);
    if (!href) return label;
    return '<a href="' + esc(href) + '" target="_blank" rel="noopener">' + label + "</a>";
  }

  const DATE_FORMATS = {
    SHORT_TIME_FORMAT: { hour: "2-digit", minute: "2-digit", hourCycle: "h23" },
    LONG_TIME_FORMAT: { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" },
    FORMAT_DATE: { day: "2-digit", month: "2-digit", year: "numeric" },
    SHORT_DATE_FORMAT: { day: "2-digit", month: "2-digit", year: "numeric" },
    MEDIUM_DATE_FORMAT: { day: "numeric", month: "short", year: "numeric" },
    LONG_DATE_FORMAT: { day: "numeric", month: "long", year: "numeric" },
    DAY_MONTH_FORMAT: { day: "numeric", month: "long" },
    DAY_SHORT_MONTH_FORMAT: { day: "numeric", month: "short" },
    DAY_OF_WEEK_MONTH_FORMAT: { weekday: "long", day: "numeric", month: "long" },
    FULL_DATE_FORMAT: { weekday: "long", day: "numeric", month: "long", year: "numeric" },
    FORMAT_DATETIME: { day: "2-digit", month: "2-digit", year: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" },
  };
  function formatTimestamp(unix, format) {
    const options = DATE_FORMATS[format] || DATE_FORMATS.FORMAT_DATETIME;
    return new Intl.DateTimeFormat(undefined, options).format(new Date(Number(unix) * 1000));
  }

  function userName(id, fallback) {
    const u = state.users.find((x) => x.id === Number(id));
    if (u) return esc(u.name);
    const d = state.dialogs.find((x) => x.dialogId === String(id));
    return d ? esc(d.title) : fallback;
  }

  function bb(source) {
    let h = esc(source || "");
    h = h.replace(/\[code\]([\s\S]*?)\[\/code\]/gi, "<code>$1</code>");
    h = h.replace(/\[(b|i|u|s)\]([\s\S]*?)\[\/\1\]/gi, (m, tag, inner) => {
      const t = tag.toLowerCase();
      return "<" + t + ">" + inner + "</" + t + ">";
    });
    // nested emphasis: a second pass catches [b][i]…[/i][/b]
    h = h.replace(/\[(b|i|u|s)\]([\s\S]*?)\[\/\1\]/gi, (m, tag, inner) => "<" + tag.toLowerCase() + ">" + inner + "</" + tag.toLowerCase() + ">");
    h = h.replace(/\[url=([^\]]+)\]([\s\S]*?)\[\/url\]/gi, (m, url, label) => link(url, label));
    h = h.replace(/\[url\]([\s\S]*?)\[\/url\]/gi, (m, url) => link(url, url));
    h = h.replace(/\[user=(\d+|all)\]([\s\S]*?)\[\/user\]/gi, (m, id, name) =>
      '<span class="mention">@' + (name || userName(id, id)) + "</span>");
    h = h.replace(/\[chat=([^\]]+)\]([\s\S]*?)\[\/chat\]/gi, '<span class="mention">$2</span>');
    h = h.replace(/\[timestamp=(\d+)(?:\s+format=([A-Z_]+))?\s*\]/gi, (m, unix, format) =>
      '<time class="bb-timestamp" datetime="' + new Date(Number(unix) * 1000).toISOString() + '">' +
      esc(formatTimestamp(unix, (format || "").toUpperCase())) + "</time>");
    h = h.replace(/\[send=([^\]]+)\]([\s\S]*?)\[\/send\]/gi,
      '<a href="#" class="bb-action" data-send="$1">$2</a>');
    h = h.replace(/\[put=([^\]]+)\]([\s\S]*?)\[\/put\]/gi,
      '<a href="#" class="bb-action" data-put="$1">$2</a>');
    h = h.replace(/\[call=([^\]]+)\]([\s\S]*?)\[\/call\]/gi, (m, num, label) =>
      '<a href="tel:' + esc(unesc(num).replace(/[^+\d]/g, "")) + '">' + label + "</a>");
    h = h.replace(/\[color=(#[0-9a-f]{3}|#[0-9a-f]{6})\]([\s\S]*?)\[\/color\]/gi,
      '<span style="color:$1">$2</span>');
    h = h.replace(/\[size=(\d{1,2})\]([\s\S]*?)\[\/size\]/gi, (m, n, inner) =>
      '<span style="font-size:' + Math.min(30, Math.max(8, Number(n))) + 'px">' + inner + "</span>");
    h = h.replace(/(^|\n)&gt;&gt;([^\n]*)/g, "$1<blockquote>$2</blockquote>");
    h = h.replace(/\[br\]/gi, "<br>").replace(/\n/g, "<br>");
    return h;
  }

  // ---- ATTACH and KEYBOARD ------------------------------------------------------------

  function list(value) {
    if (Array.isArray(value)) return value;
    if (value && typeof value === "object") return Object.values(value);
    return [];
  }

  function renderGrid(items) {
    const wrap = document.createElement("div");
    const rows = list(items);
    const display = ((rows[0] || {}).DISPLAY || "BLOCK").toUpperCase();
    wrap.className = display === "LINE" ? "grid-line" : "grid";
    for (const item of rows) {
      const cell = document.createElement("div");
      const name = item.NAME ? esc(item.NAME) : "";
      let value = item.VALUE !== undefined ? bb(String(item.VALUE)) : "";
      if (item.LINK) value = link(item.LINK, value);
      const color = /^#[0-9a-f]{3,6}$/i.test(item.COLOR || "") ? ' style="color:' + item.COLOR + '"' : "";
      if (display === "LINE") {
        cell.className = "cell";
        cell.innerHTML = (name ? name + ": " : "") + "<span" + color + ">" + value + "</span>";
      } else if (display === "ROW" || display === "TABLE") {
        cell.className = "grid-row";
        cell.innerHTML = '<span class="name">' + name + "</span><span" + color + ">" + value + "</span>";
      } else {
        cell.className = "grid-block";
        cell.innerHTML = '<div class="name">' + name + "</div><div" + color + ">" + value + "</div>";
      }
      wrap.appendChild(cell);
    }
    return wrap;
  }

  function renderBlock(block) {
    const el = document.createElement("div");
    if (block.MESSAGE !== undefined) {
      el.innerHTML = bb(String(block.MESSAGE));
    } else if (block.DELIMITER !== undefined) {
      const hr = document.createElement("hr");
      hr.className = "attach-delimiter";
      return hr;
    } else if (block.GRID !== undefined) {
      return renderGrid(block.GRID);
    } else if (block.LINK !== undefined) {
      const l = block.LINK;
      el.className = "attach-link";
      el.innerHTML = link(l.LINK, esc(l.NAME || l.LINK || "")) +
        (l.DESC ? '<div class="desc">' + bb(String(l.DESC)) + "</div>" : "") +
        (safeUrl(l.PREVIEW || "") ? '<img alt="" src="' + esc(safeUrl(l.PREVIEW)) + '">' : "");
    } else if (block.IMAGE !== undefined) {
      el.className = "attach-images";
      const images = Array.isArray(block.IMAGE) || !block.IMAGE.LINK ? list(block.IMAGE) : [block.IMAGE];
      for (const img of images) {
        const src = safeUrl(img.PREVIEW || img.LINK || "");
        if (src) el.insertAdjacentHTML("beforeend", link(img.LINK || src, '<img alt="' + esc(img.NAME || "") + '" src="' + esc(src) + '">'));
      }
    } else if (block.USER !== undefined) {
      const u = block.USER;
      el.innerHTML = '<span class="mention">' + esc(u.NAME || userName(u.USER_ID, "")) + "</span>";
    } else if (block.FILE !== undefined) {
      for (const f of list(block.FILE)) {
        el.insertAdjacentHTML("beforeend", "<div>📎 " + link(f.LINK, esc(f.NAME || "file")) + "</div>");
      }
    } else {
      el.textContent = JSON.stringify(block);
    }
    return el;
  }

  function renderAttach(attach) {
    const box = document.createElement("div");
    const token = (attach.meta || {}).COLOR_TOKEN;
    box.className = "attach" + (token ? " " + token : "");
    if (/^#[0-9a-f]{3,6}$/i.test((attach.meta || {}).COLOR || "") && !token) {
      box.style.borderLeftColor = attach.meta.COLOR;
    }
    for (const block of list(attach.blocks)) box.appendChild(renderBlock(block));
    return box;
  }

  function renderKeyboard(message) {
    const box = document.createElement("div");
    box.className = "keyboard";
    list(message.keyboard).forEach((button, index) => {
      if ((button.TYPE || "").toUpperCase() === "NEWLINE") {
        const br = document.createElement("span");
        br.className = "newline";
        box.appendChild(br);
        return;
      }
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = button.TEXT || "";
      const classes = [];
      if (button.BG_COLOR_TOKEN) classes.push(button.BG_COLOR_TOKEN);
      if ((button.DISPLAY || "").toUpperCase() === "BLOCK" && button.WIDTH === undefined) classes.push("block");
      b.className = classes.join(" ");
      if (button.BG_COLOR && !button.BG_COLOR_TOKEN) b.style.background = button.BG_COLOR;
      if (button.TEXT_COLOR) b.style.color = button.TEXT_COLOR;
      b.disabled = button.DISABLED === "Y";
      b.addEventListener("click", () => pressButton(message, button, index, b));
      box.appendChild(b);
    });
    return box;
  }

  async function pressButton(message, button, index, element) {
    if (button.LINK) {
      const url = safeUrl(button.LINK);
      if (url) window.open(url, "_blank", "noopener");
      return;
    }
    const action = (button.ACTION || "").toUpperCase();
    const value = button.ACTION_VALUE || "";
    if (action === "PUT") { putText(value); return; }
    if (action === "SEND") { await sendText(value); return; }
    if (action === "COPY") { navigator.clipboard && navigator.clipboard.writeText(value); return; }
    if (action === "CALL") { window.location.href = "tel:" + value; return; }
    if (action === "DIALOG") { openDialog(String(value)); return; }
    if (!button.COMMAND) return;
    if (button.BLOCK === "Y") element.disabled = true;
    await post("api/press", { user: state.user, dialog: state.dialog, messageId: message.id, index: index });
    schedulePoll(200);
  }

  // ---- rendering ------------------------------------------------------------------------

  function renderMessage(m) {
    const el = document.createElement("div");
    el.className = "message" + (m.own ? " own" : "") + (m.system ? " system" : "") + (m.deleted ? " deleted" : "");
    el.dataset.id = m.id;
    const when = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(new Date(m.unix * 1000));
    el.innerHTML = '<div class="message-head"><span class="message-author"></span><span class="message-time"></span></div><div class="message-body"></div>';
    el.querySelector(".message-author").textContent = m.authorName;
    el.querySelector(".message-time").textContent = when;
    const body = el.querySelector(".message-body");
    if (m.deleted) {
      body.textContent = "Сообщение удалено · Message deleted";
      return el;
    }
    body.innerHTML = bb(m.text);
    if (m.attach) el.appendChild(renderAttach(m.attach));
    if (m.keyboard && list(m.keyboard).length) el.appendChild(renderKeyboard(m));
    return el;
  }

  function renderMessages() {
    const box = $("messages");
    const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
    box.textContent = "";
    const items = [...state.messages.values()].sort((a, b) => a.id - b.id);
    if (!items.length) {
      const p = document.createElement("p");
      p.className = "empty";
      p.textContent = state.dialog ? "Сообщений пока нет · No messages yet" : "";
      box.appendChild(p);
    }
    for (const m of items) box.appendChild(renderMessage(m));
    if (atBottom || items.length < 3) box.scrollTop = box.scrollHeight;
  }

  function currentDialog() {
    return state.dialogs.find((d) => d.dialogId === state.dialog);
  }

  function renderDialogs() {
    const ul = $("dialogs");
    ul.textContent = "";
    for (const d of state.dialogs) {
      const li = document.createElement("li");
      li.className = d.dialogId === state.dialog ? "active" : "";
      li.innerHTML = '<span class="avatar"></span><span class="dialog-meta"><div class="dialog-title"></div><div class="dialog-subtitle"></div></span>';
      li.querySelector(".avatar").style.background = d.color || "#2fc6f6";
      li.querySelector(".avatar").textContent = d.kind === "C" ? "#" : (d.title || "?").slice(0, 1);
      li.querySelector(".dialog-title").textContent = d.title;
      li.querySelector(".dialog-subtitle").textContent = d.subtitle || "";
      li.addEventListener("click", () => openDialog(d.dialogId));
      ul.appendChild(li);
    }
    $("no-bots").hidden = state.dialogs.some((d) => d.kind === "P");
    // On a phone nothing is visible before a dialog is chosen: show the list.
    if (!state.dialog && window.matchMedia("(max-width: 700px)").matches) {
      $("sidebar").classList.add("open");
    }
    const d = currentDialog();
    $("dialog-header").textContent = d ? d.title : "Выберите диалог · Pick a dialog";
    const enabled = Boolean(d);
    $("text").disabled = !enabled;
    $("send").disabled = !enabled;
    const bots = d && d.kind === "C" ? d.members.filter((m) => m.isBot) : [];
    $("mention").hidden = bots.length === 0;
    $("mentions").hidden = true;
  }

  // ---- network --------------------------------------------------------------------------

  async function get(path) {
    const r = await fetch(path, { headers: { Accept: "application/json" } });
    if (!r.ok) throw new Error(path + " → " + r.status);
    return r.json();
  }

  async function post(path, body) {
    const r = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body),
    });
    return r.json();
  }

  async function loadState() {
    const data = await get("api/state?user=" + state.user);
    state.users = data.users;
    if (!state.users.some((u) => u.id === state.user) && state.users.length) {
      state.user = state.users[0].id;
    }
    const select = $("employee");
    if (select.options.length !== state.users.length) {
      select.textContent = "";
      for (const u of state.users) {
        const o = document.createElement("option");
        o.value = u.id;
        o.textContent = u.name + " — " + u.position + (u.isAdmin ? " (админ · admin)" : "");
        select.appendChild(o);
      }
    }
    select.value = String(state.user);
    $("open-app").href = "app?user=" + state.user;
    const ids = data.dialogs.map((d) => d.dialogId).join(",");
    const changed = ids !== state.dialogs.map((d) => d.dialogId).join(",");
    state.dialogs = data.dialogs;
    if (!state.dialogs.some((d) => d.dialogId === state.dialog)) state.dialog = "";
    if (changed || !state.dialog) renderDialogs();
  }

  async function poll() {
    try {
      await loadState();
      if (state.dialog) {
        const data = await get("api/messages?user=" + state.user + "&dialog=" + encodeURIComponent(state.dialog) + "&since=" + state.revision);
        for (const m of data.messages) state.messages.set(m.id, m);
        const changed = data.messages.length > 0 || state.revision === 0;
        state.revision = data.revision;
        if (changed) renderMessages();
      }
    } catch (e) {
      console.warn("poll failed", e);
    }
    schedulePoll(POLL_MS);
  }

  function schedulePoll(ms) {
    clearTimeout(state.polling);
    state.polling = setTimeout(poll, ms);
  }

  // ---- actions --------------------------------------------------------------------------

  function openDialog(dialogId) {
    state.dialog = dialogId;
    localStorage.setItem("sandbox.dialog", dialogId);
    state.messages = new Map();
    state.revision = 0;
    $("sidebar").classList.remove("open");
    renderDialogs();
    renderMessages();
    post("api/open", { user: state.user, dialog: dialogId }).finally(() => schedulePoll(150));
  }

  function putText(text) {
    const t = $("text");
    t.value = text;
    t.focus();
  }

  async function sendText(text) {
    const value = String(text || "").trim();
    if (!value || !state.dialog) return;
    const reply = await post("api/send", { user: state.user, dialog: state.dialog, text: value });
    if (reply.error) alert(reply.error_description || reply.error);
    schedulePoll(150);
  }

  function setup() {
    $("employee").addEventListener("change", (e) => {
      state.user = Number(e.target.value);
      localStorage.setItem("sandbox.user", String(state.user));
      state.dialog = "";
      state.dialogs = [];
      state.messages = new Map();
      state.revision = 0;
      renderMessages();
      schedulePoll(0);
    });
    $("composer").addEventListener("submit", async (e) => {
      e.preventDefault();
      const t = $("text");
      const value = t.value;
      t.value = "";
      await sendText(value);
    });
    $("text").addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey) {
        e.preventDefault();
        $("composer").requestSubmit();
      }
    });
    $("toggle-sidebar").addEventListener("click", () => $("sidebar").classList.toggle("open"));
    document.querySelector(".conversation").addEventListener("click", () => $("sidebar").classList.remove("open"));
    $("mention").addEventListener("click", () => {
      const box = $("mentions");
      const d = currentDialog();
      box.textContent = "";
      for (const m of (d ? d.members : []).filter((x) => x.isBot)) {
        const b = document.createElement("button");
        b.type = "button";
        b.textContent = "@" + m.name;
        b.addEventListener("click", () => {
          const t = $("text");
          t.value = "[USER=" + m.id + "]" + m.name + "[/USER] " + t.value;
          box.hidden = true;
          t.focus();
        });
        box.appendChild(b);
      }
      box.hidden = !box.hidden;
    });
    $("messages").addEventListener("click", (e) => {
      const a = e.target.closest("a.bb-action");
      if (!a) return;
      e.preventDefault();
      if (a.dataset.send !== undefined) sendText(a.dataset.send);
      else putText(a.dataset.put);
    });
    loadState()
      .then(() => { if (state.dialog) openDialog(state.dialog); })
      .catch((e) => console.warn("initial load failed", e))
      .finally(() => schedulePoll(0));
  }

  window.sandboxBB = bb; // exposed for debugging in the console
  setup();
})();
