// Slack mrkdwn to DOM nodes. Text only ever reaches the page through textContent and createElement, never innerHTML,
// so requester text (already escaped by invitebot) shows as text and runs nothing.

// Emoji drawn with glyphs every system font has, so the page looks the same without an emoji font.
const EMOJI = {
  white_check_mark: ["✔", "emoji-check"],
  heavy_check_mark: ["✔", "emoji-plain-check"],
  no_entry: ["", "emoji-no-entry"],
  warning: ["⚠", "emoji-warning"],
  envelope: ["✉", "emoji-envelope"],
  hourglass_flowing_sand: ["…", "emoji-hourglass"],
  information_source: ["i", "emoji-info"],
  wastebasket: ["✖", "emoji-waste"],
  tada: ["★", "emoji-tada"],
  x: ["✖", "emoji-x"],
  scales: ["⚖", "emoji-scales"],
  busts_in_silhouette: ["⚇", "emoji-people"],
  ballot_box_with_check: ["✔", "emoji-ballot"],
  inbox_tray: ["↓", "emoji-inbox"],
  mag: ["⚲", "emoji-mag"],
  rotating_light: ["!", "emoji-siren"],
  hourglass: ["⌛", "emoji-hourglass-done"],
  mute: ["⊘", "emoji-mute"],
};

const INLINE = new RegExp(
  [
    "<([^<>\\n]+)>", // 1: control sequence: <@U…>, <#C…>, <!subteam^S…>, <!date^…>, <url|label>
    "`([^`\\n]+)`", // 2: code
    "(?<![\\p{L}\\p{N}*])\\*(?!\\s)([^*\\n]+?)(?<!\\s)\\*(?![\\p{L}\\p{N}*])", // 3: *bold*
    "(?<![\\p{L}\\p{N}_])_(?!\\s)([^_\\n]+?)(?<!\\s)_(?![\\p{L}\\p{N}_])", // 4: _italic_
    "(?<![\\p{L}\\p{N}~])~(?!\\s)([^~\\n]+?)(?<!\\s)~(?![\\p{L}\\p{N}~])", // 5: ~strike~
    ":([a-z0-9_+\\-]+):", // 6: :emoji:
  ].join("|"),
  "gu",
);

/** `&lt; &gt; &amp;` as the characters they stand for (Slack's only escapes). */
export function decodeEntities(text) {
  return text.replace(/&(lt|gt|amp);/g, (_, name) => ({ lt: "<", gt: ">", amp: "&" })[name]);
}

/** An element with an optional class and text: the one way the page makes nodes. */
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** An emoji span, or the :name: text Slack shows for an emoji it does not know. */
export function emoji(name) {
  const known = EMOJI[name];
  if (!known) return document.createTextNode(`:${name}:`);
  const span = el("span", `emoji ${known[1]}`, known[0]);
  span.setAttribute("role", "img");
  span.setAttribute("aria-label", `:${name}:`);
  span.title = `:${name}:`;
  return span;
}

/** plain_text: literal text, with :emoji: shortcodes (Slack's default emoji: true). */
export function renderPlain(text, withEmoji = true) {
  const out = document.createDocumentFragment();
  if (!withEmoji) {
    out.append(text);
    return out;
  }
  let last = 0;
  for (const match of text.matchAll(/:([a-z0-9_+\-]+):/g)) {
    out.append(text.slice(last, match.index), emoji(match[1]));
    last = match.index + match[0].length;
  }
  out.append(text.slice(last));
  return out;
}

// -- dates --------------------------------------------------------------------------------------------

const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
const WEEKDAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

function ordinal(day) {
  const tens = day % 100;
  const suffix = tens >= 11 && tens <= 13 ? "th" : ({ 1: "st", 2: "nd", 3: "rd" })[day % 10] || "th";
  return `${day}${suffix}`;
}

function sameDay(a, b) {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

/** "today", "yesterday" or "tomorrow" (capitalised at the start of the text), else null. */
function prettyDay(date, first) {
  const today = new Date();
  const shifted = (days) => new Date(today.getFullYear(), today.getMonth(), today.getDate() + days);
  const word = sameDay(date, today) ? "today" : sameDay(date, shifted(-1)) ? "yesterday" : sameDay(date, shifted(1)) ? "tomorrow" : null;
  return word && first ? word[0].toUpperCase() + word.slice(1) : word;
}

function ago(date) {
  const seconds = Math.round((Date.now() - date.getTime()) / 1000);
  const s = Math.abs(seconds);
  const [count, unit] =
    s < 60 ? [s, "second"] : s < 3600 ? [Math.round(s / 60), "minute"] : s < 86400 ? [Math.round(s / 3600), "hour"] : [Math.round(s / 86400), "day"];
  const words = `${count} ${unit}${count === 1 ? "" : "s"}`;
  return seconds < 0 ? `in ${words}` : `${words} ago`;
}

/**
 * Slack's date tokens (docs.slack.dev "Formatting text": dates), in the viewer's own time zone. The _pretty forms say
 * "today", "yesterday" or "tomorrow" when they can, capitalised only where they open the format, as Slack writes them.
 */
export function formatDate(seconds, format, fallback) {
  const date = new Date(Number(seconds) * 1000);
  if (!Number.isFinite(date.getTime())) return fallback;
  const [y, m, d, w] = [date.getFullYear(), date.getMonth(), date.getDate(), date.getDay()];
  const two = (n) => String(n).padStart(2, "0");
  const plain = {
    date_num: `${y}-${two(m + 1)}-${two(d)}`,
    date_slash: `${two(d)}/${two(m + 1)}/${y}`,
    date: `${MONTHS[m]} ${ordinal(d)}, ${y}`,
    date_short: `${MONTHS[m].slice(0, 3)} ${d}, ${y}`,
    date_long: `${WEEKDAYS[w]}, ${MONTHS[m]} ${ordinal(d)}, ${y}`,
    date_long_full: `${MONTHS[m]} ${d}, ${y}`,
    time: date.toLocaleTimeString(undefined, { hour: "numeric", minute: "2-digit" }),
    time_secs: date.toLocaleTimeString(undefined, { hour: "numeric", minute: "2-digit", second: "2-digit" }),
    ago: ago(date),
  };
  const thisYear = y === new Date().getFullYear();
  const otherwise = {
    date_pretty: plain.date,
    date_short_pretty: plain.date_short,
    date_long_pretty: plain.date_long,
    day_divider_pretty: thisYear ? `${WEEKDAYS[w]}, ${MONTHS[m]} ${ordinal(d)}` : plain.date_long,
  };
  return format.replace(/\{(\w+)\}/g, (whole, token, offset) => {
    if (Object.hasOwn(otherwise, token)) return prettyDay(date, offset === 0) || otherwise[token];
    return Object.hasOwn(plain, token) ? plain[token] : whole; // Slack leaves a token it does not know as it is
  });
}

// -- control sequences --------------------------------------------------------------------------------

function mention(text, kind) {
  return el("span", `mention ${kind}`, text);
}

function control(body, dir) {
  const bar = body.indexOf("|");
  const target = bar === -1 ? body : body.slice(0, bar);
  const label = bar === -1 ? "" : decodeEntities(body.slice(bar + 1));
  if (target.startsWith("@")) {
    const id = target.slice(1);
    return mention(`@${dir.user(id) || label || id}`, id === dir.me ? "mention-me" : "mention-user");
  }
  if (target.startsWith("#")) {
    const id = target.slice(1);
    return mention(`#${dir.channel(id) || label || id}`, "mention-channel");
  }
  if (target.startsWith("!subteam^")) {
    const id = target.slice("!subteam^".length);
    return mention(`@${dir.group(id) || label.replace(/^@/, "") || id}`, "mention-group");
  }
  if (target.startsWith("!date^")) {
    const [, seconds, format, link] = target.split("^");
    const span = el("span", "date", formatDate(seconds, format || "{date}", label));
    span.title = new Date(Number(seconds) * 1000).toString();
    if (link) span.dataset.link = link;
    return span;
  }
  if (["!here", "!channel", "!everyone"].includes(target)) {
    return mention(`@${target.slice(1)}`, "mention-broadcast");
  }
  if (target.startsWith("!")) return document.createTextNode(label || `<${body}>`);
  const url = decodeEntities(target);
  if (/^(https?:|mailto:)/i.test(url)) {
    const a = el("a", "link", label || url.replace(/^mailto:/i, ""));
    a.href = url;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    return a;
  }
  return document.createTextNode(label || url);
}

// -- inline and block structure ---------------------------------------------------------------------

function renderInline(text, dir) {
  const out = document.createDocumentFragment();
  let last = 0;
  for (const m of text.matchAll(INLINE)) {
    out.append(decodeEntities(text.slice(last, m.index)));
    last = m.index + m[0].length;
    if (m[1] !== undefined) out.append(control(m[1], dir));
    else if (m[2] !== undefined) out.append(el("code", "code", decodeEntities(m[2])));
    else if (m[3] !== undefined) out.append(wrap("strong", renderInline(m[3], dir)));
    else if (m[4] !== undefined) out.append(wrap("em", renderInline(m[4], dir)));
    else if (m[5] !== undefined) out.append(wrap("s", renderInline(m[5], dir)));
    else out.append(emoji(m[6]));
  }
  out.append(decodeEntities(text.slice(last)));
  return out;
}

function wrap(tag, child) {
  const node = document.createElement(tag);
  node.append(child);
  return node;
}

function lines(target, text, dir) {
  text.split("\n").forEach((line, n) => {
    if (n > 0) target.append(document.createElement("br"));
    target.append(renderInline(line, dir));
  });
}

/**
 * Slack mrkdwn as a DocumentFragment. `dir` turns ids into names: { user(id), channel(id), group(id), me }.
 * Lines starting with a raw ">" are a quote; "&gt;" (escaped text) stays literal.
 */
export function renderMrkdwn(text, dir) {
  const out = document.createDocumentFragment();
  String(text || "")
    .split("```")
    .forEach((part, n) => {
      if (n % 2 === 1) {
        out.append(el("pre", "code-block", decodeEntities(part.replace(/^\n|\n$/g, ""))));
        return;
      }
      let quote = null;
      let plain = [];
      const flush = () => {
        if (plain.length) {
          const span = el("span", "mrkdwn-lines");
          lines(span, plain.join("\n"), dir);
          out.append(span);
          plain = [];
        }
      };
      for (const line of part.split("\n")) {
        if (line.startsWith(">")) {
          flush();
          if (!quote) {
            quote = el("blockquote", "quote");
            out.append(quote);
          } else {
            quote.append(document.createElement("br"));
          }
          quote.append(renderInline(line.slice(1).replace(/^ /, ""), dir));
        } else {
          quote = null;
          plain.push(line);
        }
      }
      flush();
    });
  return out;
}
