// Files shared in a message, drawn as Slack draws them: a chip with the title, the type and the size, which downloads
// the file from the demo server (as the person viewing, who must be able to see the conversation it is in).

import { el } from "./blockkit.js";

const UNITS = ["KB", "MB", "GB"];

/** A size in bytes in words: "312 bytes", "1.5 KB", "20 KB", "3.2 MB" (one decimal below 10, as rounded). */
export function sizeWords(bytes) {
  if (bytes < 1024) return bytes === 1 ? "1 byte" : `${bytes} bytes`;
  const rounded = (size) => (size < 10 ? Math.round(size * 10) / 10 : Math.round(size));
  let size = bytes / 1024;
  let unit = 0;
  while (rounded(size) >= 1024 && unit < UNITS.length - 1) {
    size /= 1024;
    unit += 1;
  }
  return `${rounded(size)} ${UNITS[unit]}`;
}

/** One chip per file, each a link that downloads it for `user`. */
export function renderFiles(files, user) {
  const node = el("div", "files");
  for (const file of files) {
    const chip = el("a", "file-chip");
    chip.href = `/api/files/${encodeURIComponent(file.id)}?user=${encodeURIComponent(user)}`;
    chip.download = file.name;
    chip.title = file.name;
    chip.dataset.fileId = file.id;
    const type = file.filetype || "binary";
    const icon = el("span", `file-icon file-icon-${type}`, type.slice(0, 4).toUpperCase());
    icon.setAttribute("aria-hidden", "true");
    const meta = el("span", "file-meta");
    const details = `${file.pretty_type || "File"} · ${sizeWords(file.size)}`;
    meta.append(el("span", "file-name", file.title || file.name), el("span", "file-details", details));
    chip.append(icon, meta);
    node.append(chip);
  }
  return node;
}
