// Block Kit to DOM nodes: section (text, fields, accessory), context, actions, header, divider, input.
// Buttons call ctx.onButton(element, block) after their confirm dialog (if any) is accepted.
import { el, renderMrkdwn, renderPlain } from "./mrkdwn.js";

export { el };

/** A text object (mrkdwn or plain_text) as nodes. */
export function renderText(obj, dir) {
  if (!obj) return document.createDocumentFragment();
  return obj.type === "mrkdwn" ? renderMrkdwn(obj.text, dir) : renderPlain(obj.text || "", obj.emoji !== false);
}

/** Slack's confirmation dialog: resolves true only when the person presses the confirm button. */
export function confirmDialog(confirm, dir) {
  return new Promise((resolve) => {
    const backdrop = el("div", "overlay");
    const box = el("div", "dialog confirm-dialog");
    box.setAttribute("role", "alertdialog");
    box.setAttribute("aria-modal", "true");
    const title = el("h2", "dialog-title");
    title.append(renderText(confirm.title, dir));
    const body = el("div", "dialog-body");
    body.append(renderText(confirm.text, dir));
    const footer = el("div", "dialog-footer");
    const no = el("button", "bk-button", confirm.deny?.text || "Cancel");
    const yes = el("button", `bk-button ${confirm.style === "danger" ? "danger" : "primary"}`, confirm.confirm?.text || "Yes");
    footer.append(no, yes);
    box.append(title, body, footer);
    backdrop.append(box);
    const done = (answer) => {
      document.removeEventListener("keydown", onKey);
      backdrop.remove();
      resolve(answer);
    };
    const onKey = (event) => event.key === "Escape" && done(false);
    no.addEventListener("click", () => done(false));
    yes.addEventListener("click", () => done(true));
    backdrop.addEventListener("click", (event) => event.target === backdrop && done(false));
    document.addEventListener("keydown", onKey);
    document.body.append(backdrop);
    yes.focus();
  });
}

function button(element, block, ctx) {
  const style = ["primary", "danger"].includes(element.style) ? ` ${element.style}` : "";
  const node = el("button", `bk-button${style}`);
  node.type = "button";
  node.append(renderText(element.text, ctx.dir));
  node.dataset.actionId = element.action_id || "";
  node.addEventListener("click", async () => {
    if (element.confirm && !(await confirmDialog(element.confirm, ctx.dir))) return;
    node.disabled = true;
    node.classList.add("busy");
    try {
      await ctx.onButton(element, block);
    } finally {
      node.disabled = false;
      node.classList.remove("busy");
    }
  });
  return node;
}

function element(item, block, ctx) {
  if (item.type === "button") return button(item, block, ctx);
  if (item.type === "image") {
    const img = el("span", "bk-image", item.alt_text || "");
    return img;
  }
  if (item.type === "mrkdwn" || item.type === "plain_text") {
    const span = el("span", "bk-context-text");
    span.append(renderText(item, ctx.dir));
    return span;
  }
  return el("span", "bk-unknown", `[${item.type}]`);
}

function section(block, ctx) {
  const node = el("div", "bk-section");
  const main = el("div", "bk-section-main");
  if (block.text) {
    const text = el("div", "bk-text");
    text.append(renderText(block.text, ctx.dir));
    main.append(text);
  }
  if (block.fields?.length) {
    const fields = el("div", "bk-fields");
    for (const field of block.fields) {
      const cell = el("div", "bk-field");
      cell.append(renderText(field, ctx.dir));
      fields.append(cell);
    }
    main.append(fields);
  }
  node.append(main);
  if (block.accessory) {
    const accessory = el("div", "bk-accessory");
    accessory.append(element(block.accessory, block, ctx));
    node.append(accessory);
  }
  return node;
}

function input(block, ctx) {
  const node = el("div", "bk-input");
  const field = block.element || {};
  const id = `input-${block.block_id}-${field.action_id}`;
  const label = el("label", "bk-label");
  label.htmlFor = id;
  label.append(renderText(block.label, ctx.dir));
  if (block.optional) label.append(el("span", "bk-optional", " (optional)"));
  node.append(label);
  if (field.type === "plain_text_input") {
    const box = el(field.multiline ? "textarea" : "input", "bk-textbox");
    box.id = id;
    box.dataset.blockId = block.block_id;
    box.dataset.actionId = field.action_id;
    if (field.max_length) box.maxLength = field.max_length;
    if (field.placeholder) box.placeholder = field.placeholder.text;
    box.value = ctx.inputs?.[block.block_id]?.[field.action_id] ?? field.initial_value ?? "";
    node.append(box);
  } else {
    node.append(el("div", "bk-unknown", `[${field.type} input]`));
  }
  const error = ctx.errors?.[block.block_id];
  if (error) {
    const message = el("div", "bk-error", error);
    message.setAttribute("role", "alert");
    node.append(message);
  }
  if (block.hint) {
    const hint = el("div", "bk-hint");
    hint.append(renderText(block.hint, ctx.dir));
    node.append(hint);
  }
  return node;
}

const RENDERERS = {
  section,
  input,
  header: (block, ctx) => {
    const node = el("div", "bk-header");
    node.append(renderText(block.text, ctx.dir));
    return node;
  },
  divider: () => el("hr", "bk-divider"),
  context: (block, ctx) => {
    const node = el("div", "bk-context");
    for (const item of block.elements || []) node.append(element(item, block, ctx));
    return node;
  },
  actions: (block, ctx) => {
    const node = el("div", "bk-actions");
    for (const item of block.elements || []) node.append(element(item, block, ctx));
    return node;
  },
};

/** A list of blocks as one element. ctx: { dir, onButton(element, block), errors, inputs }. */
export function renderBlocks(blocks, ctx) {
  const node = el("div", "blocks");
  for (const block of blocks || []) {
    const render = RENDERERS[block.type];
    const child = render ? render(block, ctx) : el("div", "bk-unknown", `[unsupported block: ${block.type}]`);
    child.classList.add("bk-block");
    if (block.block_id) child.dataset.blockId = block.block_id;
    node.append(child);
  }
  return node;
}
