// The demo page: long-polls /api/state for the selected person and draws what their Slack client would show.
// Every action goes to the demo server's JSON API, which sends it to invitebot the way Slack does.
import { el, renderBlocks, renderText } from "./blockkit.js";
import { renderFiles } from "./files.js";
import { renderMrkdwn } from "./mrkdwn.js";

const $ = (id) => document.getElementById(id);
const CHIPS = ["/invites list", "/invites stats", "/invites history", "/invites sync", "/invites mine", "/invites help"];
const UI = {
  org: null,
  user: null,
  view: "channel", // channel | home | messages
  screen: null,
  version: "",
  poll: null,
  dismissed: new Set(),
  seenDms: {},
  drawn: {},
  homeFromTop: false, // the Home tab opens at its top, as Slack's does
  restarting: false, // the policy switch is restarting invitebot
  pressed: null, // the control last pressed: what it brings is said next to it
};

// -- talking to the demo server -------------------------------------------------------------------

/** Say `text` next to `near`: in it when it is a control's result line, else in a note by it (or at the top right). */
function report(near, text, kind = "info") {
  if (near?.classList.contains("result")) {
    near.textContent = text;
    near.className = `result ${kind}`;
    return;
  }
  const node = el("div", `toast ${kind}`, text);
  node.setAttribute("role", kind === "error" ? "alert" : "status");
  if (!near?.isConnected) {
    $("toasts").append(node);
  } else {
    const box = near.getBoundingClientRect();
    node.classList.add("beside");
    document.body.append(node);
    const below = box.bottom + 6 + node.offsetHeight <= window.innerHeight;
    node.style.top = `${below ? box.bottom + 6 : Math.max(0, box.top - 6 - node.offsetHeight)}px`;
    node.style.left = `${Math.max(8, Math.min(box.left, window.innerWidth - node.offsetWidth - 8))}px`;
  }
  setTimeout(() => node.remove(), 5000);
}

const toast = (text, kind = "info") => report(UI.pressed, text, kind);

async function api(name, body, near = UI.pressed) {
  let response;
  try {
    response = await fetch(`/api/${name}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
  } catch {
    report(near, "The demo server is not answering. Is `invitebot demo` still running?", "error");
    return { ok: false };
  }
  const answer = await response.json().catch(() => ({ ok: false, error: `HTTP ${response.status}` }));
  if (!response.ok || answer.ok === false) {
    report(near, answer.error || `invitebot answered HTTP ${answer.status}`, "error");
  }
  return answer;
}

async function pollForever() {
  for (;;) {
    const user = UI.user;
    UI.poll = new AbortController();
    try {
      const query = `user=${encodeURIComponent(user)}&since=${encodeURIComponent(UI.version)}`;
      const response = await fetch(`/api/state?${query}`, { signal: UI.poll.signal });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const state = await response.json();
      if (user !== UI.user) continue;
      UI.screen = state;
      UI.version = state.version;
      draw();
    } catch (error) {
      if (error.name !== "AbortError") await new Promise((resolve) => setTimeout(resolve, 1000)); // server restarting
    }
  }
}

// -- names for ids --------------------------------------------------------------------------------

function directory() {
  const users = new Map(UI.org.users.map((u) => [u.id, u.name]));
  const channels = new Map(UI.org.channels.map((c) => [c.id, c.name]));
  const groups = new Map(UI.org.usergroups.map((g) => [g.id, g.handle]));
  return { user: (id) => users.get(id), channel: (id) => channels.get(id), group: (id) => groups.get(id), me: UI.user };
}

function person(id) {
  return UI.org.people.find((p) => p.id === id);
}

// -- messages -------------------------------------------------------------------------------------

function clock(ts) {
  return new Date(Number(String(ts).split(".")[0]) * 1000).toLocaleTimeString(undefined, { hour: "numeric", minute: "2-digit" });
}

function messageNode(message, onButton, { ephemeral = null } = {}) {
  const row = el("div", ephemeral ? "message ephemeral" : "message");
  row.dataset.ts = message.ts;
  const avatar = el("div", "avatar app-icon", "ib");
  const body = el("div", "message-body");
  if (ephemeral) {
    const only = el("div", "only-you");
    only.append(el("span", "eye", "◉"), " Only visible to you");
    body.append(only);
  }
  const header = el("div", "message-header");
  header.append(el("span", "author", "invitebot"), el("span", "app-badge", "APP"), el("span", "time", clock(message.ts)));
  body.append(header);
  const dir = directory();
  if (message.blocks?.length) body.append(renderBlocks(message.blocks, { dir, onButton }));
  else {
    const text = el("div", "message-text");
    text.append(renderMrkdwn(message.text, dir));
    body.append(text);
  }
  if (message.files?.length) body.append(renderFiles(message.files, UI.user));
  if (message.edited) body.append(el("span", "edited", "(edited)"));
  if (ephemeral) {
    const dismiss = el("button", "dismiss", "Dismiss message");
    dismiss.type = "button";
    dismiss.addEventListener("click", () => {
      UI.dismissed.add(ephemeral);
      draw();
    });
    body.append(dismiss);
  }
  row.append(avatar, body);
  return row;
}

function keepScrolled(scroller, redraw) {
  const atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 60;
  const top = scroller.scrollTop;
  redraw();
  scroller.scrollTop = atBottom ? scroller.scrollHeight : top;
}

function drawChannel() {
  const items = UI.screen.channel.items.filter((item) => !UI.dismissed.has(item.id));
  const key = JSON.stringify([UI.user, items]);
  if (UI.drawn.channel === key) return;
  const first = UI.drawn.channel === undefined;
  UI.drawn.channel = key;
  const newest = items[items.length - 1];
  const fresh = newest?.kind === "ephemeral" && !UI.drawn.ephemerals?.has(newest.id);
  UI.drawn.ephemerals = new Set(items.filter((item) => item.kind === "ephemeral").map((item) => item.id));
  const scroller = $("channel-scroll");
  keepScrolled(scroller, () => {
    const nodes = items.map((item) => {
      if (item.kind === "message") {
        const click = (element) => api("click", { user: UI.user, action_id: element.action_id, as_seen: item.message });
        return messageNode(item.message, click);
      }
      const click = (element, block) =>
        api("click_ephemeral", { user: UI.user, ephemeral_id: item.id, action_id: element.action_id, block_id: block.block_id });
      return messageNode(item, click, { ephemeral: item.id });
    });
    if (!nodes.length) nodes.push(el("p", "empty", "No messages yet: invitebot posts a card for each invite request."));
    $("channel-messages").replaceChildren(...nodes);
  });
  if (first || fresh) scroller.scrollTop = scroller.scrollHeight; // a new answer for you: show it, as Slack does
}

function drawHome() {
  const home = UI.screen.home;
  const key = JSON.stringify([UI.user, home]);
  if (UI.drawn.home === key) return;
  UI.drawn.home = key;
  const target = $("home");
  if (!home) {
    target.replaceChildren(el("p", "empty", "Opening invitebot's Home…"));
    return;
  }
  const click = (element) => api("click_home", { user: UI.user, action_id: element.action_id, value: element.value });
  const scroller = $("app-scroll");
  const top = UI.homeFromTop ? 0 : scroller.scrollTop; // a Home re-published while you read it stays where you were
  const anchor = UI.homeFromTop ? null : pressedBlock(target);
  const was = anchor?.getBoundingClientRect().top;
  target.replaceChildren(renderBlocks(home.blocks, { dir: directory(), onButton: click }));
  scroller.scrollTop = top;
  const again = anchor && target.querySelector(`:scope > .blocks > [data-block-id="${CSS.escape(anchor.dataset.blockId)}"]`);
  if (again) scroller.scrollTop += again.getBoundingClientRect().top - was; // and the block you clicked in stays put
  UI.homeFromTop = false;
}

/** The block of `target` (by its block_id) holding the control last pressed, if it is there. */
function pressedBlock(target) {
  const block = UI.pressed?.isConnected ? UI.pressed.closest(".bk-block[data-block-id]") : null;
  return block && target.contains(block) ? block : null;
}

function drawMessages() {
  const dms = UI.screen.dms;
  if (UI.view === "messages") UI.seenDms[UI.user] = dms.length;
  const unseen = dms.length - (UI.seenDms[UI.user] || 0);
  $("dm-badge").hidden = unseen <= 0;
  $("dm-badge").textContent = String(unseen);
  const key = JSON.stringify([UI.user, dms]);
  if (UI.drawn.dms === key) return;
  UI.drawn.dms = key;
  const nodes = dms.map((message) => messageNode(message, () => toast("This button is only for show here.")));
  if (!nodes.length) nodes.push(el("p", "empty", "No messages from invitebot yet. Requesters hear here how their requests ended."));
  const redraw = () => $("dm-messages").replaceChildren(...nodes);
  if (UI.view === "messages") keepScrolled($("app-scroll"), redraw); // the Home shares the scroller: leave it alone there
  else redraw();
}

// -- the modal -------------------------------------------------------------------------------------

function typedValues() {
  const values = {};
  for (const box of document.querySelectorAll("#modal-root .bk-textbox")) {
    (values[box.dataset.blockId] ||= {})[box.dataset.actionId] = box.value;
  }
  return values;
}

function drawModal() {
  const modal = UI.screen.modal;
  const key = modal ? JSON.stringify([UI.user, modal.view_id, modal.view.hash, modal.errors, modal.depth]) : "";
  if (UI.drawn.modal === key) return;
  UI.drawn.modal = key;
  const old = $("modal-root");
  const typed = typedValues();
  const focused = document.activeElement?.classList.contains("bk-textbox") ? document.activeElement.id : null;
  old?.remove();
  if (!modal) return;
  const { view, view_id: viewId } = modal;
  const root = el("div", "overlay");
  root.id = "modal-root";
  const box = el("div", "dialog modal");
  box.setAttribute("role", "dialog");
  box.setAttribute("aria-modal", "true");
  box.setAttribute("aria-labelledby", "modal-title");
  const header = el("div", "modal-header");
  const title = el("h2", "dialog-title");
  title.id = "modal-title";
  title.append(renderText(view.title, directory()));
  const close = (everything) => api("close_view", { user: UI.user, view_id: viewId, everything });
  const x = el("button", "modal-x", "×");
  x.type = "button";
  x.setAttribute("aria-label", "Close");
  x.addEventListener("click", () => close(true));
  header.append(title, x);
  const onButton = (element) =>
    api("click_modal", { user: UI.user, view_id: viewId, action_id: element.action_id, value: element.value });
  const body = renderBlocks(view.blocks, { dir: directory(), errors: modal.errors, inputs: typed, onButton });
  body.classList.add("modal-body");
  const footer = el("div", "dialog-footer");
  // as in Slack's client: on a view pushed onto another, this button goes back to it; × closes them all
  const cancel = el("button", "bk-button", view.close?.text || "Close");
  cancel.type = "button";
  cancel.addEventListener("click", () => close(false));
  footer.append(cancel);
  if (view.submit) {
    const submit = el("button", "bk-button primary", view.submit.text);
    submit.type = "button";
    submit.addEventListener("click", async () => {
      submit.disabled = true;
      await api("submit_view", { user: UI.user, view_id: viewId, values: typedValues() });
      submit.disabled = false;
    });
    footer.append(submit);
  }
  box.append(header, body, footer);
  root.append(box);
  document.body.append(root);
  const again = focused && document.getElementById(focused);
  (again || root.querySelector(".bk-textbox") || cancel).focus();
}

// -- the demo's controls ---------------------------------------------------------------------------

function drawControls() {
  const me = person(UI.user);
  $("role").replaceChildren(el("b", "", `${me.real_name} (@${me.name})`), `: ${me.role}`);
  const pending = UI.screen.requests.filter((r) => r.status === "pending");
  const key = JSON.stringify(pending.map((r) => r.id));
  if (UI.drawn.outside !== key) {
    UI.drawn.outside = key;
    const select = $("outside-request");
    const chosen = select.value;
    const teams = new Map(UI.org.teams.map((t) => [t.id, t.name]));
    select.replaceChildren(
      ...pending.map((r) => {
        const option = el("option", "", `${r.email} (${teams.get(r.team_id)})`);
        option.value = r.id;
        return option;
      }),
    );
    if (pending.some((r) => r.id === chosen)) select.value = chosen;
    select.disabled = $("outside-approve").disabled = $("outside-deny").disabled = !pending.length;
  }
  const faults = UI.screen.faults.map((f) => el("li", "", f.words));
  if (!faults.length) faults.push(el("li", "none", "No fault armed."));
  $("armed").replaceChildren(...faults);
  $("fault-disarm").disabled = !UI.screen.faults.length;
  const mode = UI.screen.policy.mode;
  $("policy-mode").textContent = UI.restarting ? `Policy: ${mode}, restarting invitebot…` : `Policy: ${mode}`;
  for (const m of UI.org.policy_modes) {
    const button = $(`policy-${m}`);
    button.setAttribute("aria-pressed", String(m === mode));
    button.disabled = UI.restarting || m === mode;
  }
}

function fillRequestChannels() {
  const team = $("req-team").value;
  const channels = UI.org.channels.filter((c) => c.team_id === team && c.id !== UI.org.approvals_channel);
  $("req-channels").replaceChildren(
    ...channels.map((c, n) => {
      const label = el("label");
      const box = document.createElement("input");
      box.type = "checkbox";
      box.value = c.id;
      box.checked = n === 0;
      label.append(box, ` #${c.name}`);
      return label;
    }),
  );
}

function setUpControls() {
  for (const t of UI.org.teams) {
    const option = el("option", "", t.name);
    option.value = t.id;
    $("req-team").append(option);
  }
  $("req-team").addEventListener("change", fillRequestChannels);
  fillRequestChannels();
  $("request-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const channelIds = [...$("req-channels").querySelectorAll("input:checked")].map((box) => box.value);
    const answer = await api("request", {
      user: UI.user,
      email: $("req-email").value,
      real_name: $("req-name").value,
      invite_type: $("req-type").value,
      team_id: $("req-team").value,
      channel_ids: channelIds,
      reason: $("req-reason").value,
    }, $("request-result"));
    if (answer.ok) {
      report($("request-result"), `Request ${answer.request_id} made; Slack told invitebot (invite_requested).`);
      for (const id of ["req-email", "req-name", "req-reason"]) $(id).value = "";
    }
  });
  const outside = (action) => async () => {
    const id = $("outside-request").value;
    if (!id) return;
    const answer = await api("decide_outside", { request_id: id, action }, $("outside-result"));
    const words = `${action === "approve" ? "Approved" : "Denied"} in Slack's admin pages. invitebot learns it at its next sync.`;
    if (answer.ok) report($("outside-result"), words);
  };
  $("outside-approve").addEventListener("click", outside("approve"));
  $("outside-deny").addEventListener("click", outside("deny"));
  $("admin-name").textContent = `@${directory().user(UI.org.slack_admin)}`;
  for (const f of UI.org.faults) {
    const option = el("option", "", f.words);
    option.value = f.kind;
    $("fault-kind").append(option);
  }
  $("fault-arm").addEventListener("click", async () => {
    const methods = [];
    if ($("fault-approve").checked) methods.push("admin.inviteRequests.approve");
    if ($("fault-deny").checked) methods.push("admin.inviteRequests.deny");
    if (!methods.length) return report($("fault-result"), "Pick approve, deny or both.", "error");
    const answer = await api("fault", { kind: $("fault-kind").value, methods }, $("fault-result"));
    if (answer.ok) report($("fault-result"), `Armed: Slack answers ${answer.armed}.`);
  });
  $("fault-disarm").addEventListener("click", async () => {
    const answer = await api("disarm", {}, $("fault-result"));
    if (answer.ok) report($("fault-result"), "Disarmed: Slack answers approve and deny normally again.");
  });
  for (const mode of UI.org.policy_modes) {
    $(`policy-${mode}`).addEventListener("click", async () => {
      UI.restarting = true;
      draw();
      const answer = await api("policy_mode", { mode }, $("policy-result"));
      UI.restarting = false;
      draw();
      if (answer.ok) report($("policy-result"), `Policy: ${mode}. invitebot restarted and read the file again.`);
    });
  }
}

// -- navigation ------------------------------------------------------------------------------------

function openHome() {
  api("home_opened", { user: UI.user }); // Slack sends app_home_opened each time the tab is opened
}

function show(view) {
  const changed = UI.view !== view;
  UI.view = view;
  if (changed && view === "home") UI.homeFromTop = true;
  $("view-channel").hidden = view !== "channel";
  $("view-app").hidden = view === "channel";
  $("home").hidden = view !== "home";
  $("dm-messages").hidden = view !== "messages";
  for (const node of document.querySelectorAll("[data-view]")) {
    node.classList.toggle("active", node.dataset.view === view);
    if (node.getAttribute("role") === "tab") node.setAttribute("aria-selected", String(node.dataset.view === view));
  }
  if (view === "home" && changed) openHome();
  if (UI.screen) draw();
  if (changed && view !== "channel") {
    const scroller = $("app-scroll"); // shared by Home (opens at its top) and Messages (at the newest)
    scroller.scrollTop = view === "home" ? 0 : scroller.scrollHeight;
    if (view === "home") UI.homeFromTop = !UI.screen?.home; // still waiting for the first Home: it opens at the top too
  }
}

function switchUser(id) {
  // Another person's laptop, so to speak: the modal this person had open closes, as if they closed it
  if (UI.user) api("leave", { user: UI.user });
  UI.user = id;
  UI.version = "";
  UI.screen = null;
  UI.drawn = {};
  UI.homeFromTop = true;
  localStorage.setItem("invitebot-demo-user", id);
  $("modal-root")?.remove();
  UI.poll?.abort();
  if (UI.view === "home") openHome();
}

function draw() {
  if (!UI.screen) return;
  drawControls();
  drawModal();
  drawMessages();
  if (UI.view === "channel") drawChannel();
  if (UI.view === "home") drawHome();
}

function setUpComposer() {
  const send = async (text) => {
    if (!text) return;
    if (!text.startsWith("/")) {
      report($("composer-result"), "Here the message box runs slash commands only, such as /invites help.", "error");
      return;
    }
    $("composer-result").textContent = "";
    const answer = await api("slash", { user: UI.user, text }, $("composer-result"));
    if (answer.ok) $("composer-input").value = "";
  };
  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    send($("composer-input").value.trim());
  });
  $("chips").replaceChildren(
    ...CHIPS.map((text) => {
      const chip = el("button", "chip", text);
      chip.type = "button";
      chip.addEventListener("click", () => send(text));
      return chip;
    }),
  );
}

async function start() {
  UI.org = await (await fetch("/api/org")).json();
  $("org-name").textContent = UI.org.enterprise;
  const picker = $("user-picker");
  for (const p of UI.org.people) {
    const option = el("option", "", `${p.real_name} (@${p.name}) · ${p.kind}`);
    option.value = p.id;
    picker.append(option);
  }
  const saved = localStorage.getItem("invitebot-demo-user");
  UI.user = UI.org.people.some((p) => p.id === saved) ? saved : UI.org.people[0].id;
  picker.value = UI.user;
  picker.addEventListener("change", () => switchUser(picker.value));
  for (const node of document.querySelectorAll("[data-view]")) node.addEventListener("click", () => show(node.dataset.view));
  setUpControls();
  setUpComposer();
  document.addEventListener(
    "click",
    (event) => {
      const control = event.target.closest?.("button, a, summary, input, select");
      if (control && !control.closest(".confirm-dialog")) UI.pressed = control; // a confirmation speaks for its button
    },
    true,
  );
  document.addEventListener("keydown", (event) => {
    const modal = UI.screen?.modal;
    if (event.key === "Escape" && modal && !document.querySelector(".confirm-dialog")) {
      api("close_view", { user: UI.user, view_id: modal.view_id, everything: false });
    }
  });
  show("channel");
  pollForever();
}

start();
