// auditrail web viewer: the little a browser must do itself. Pages work without it; with it,
// times show in the reader's own zone, and an event's inclusion in the signed log is checked
// here, with the browser's own SHA-256 and Ed25519 (WebCrypto), trusting no hash the server sends.
"use strict";

(function () {
  const enc = new TextEncoder();

  // --- Times: absolute in the browser's zone, and relative ------------------------------------
  const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
  const absolute = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "long" });
  const units = [["year", 31536000], ["month", 2592000], ["week", 604800], ["day", 86400], ["hour", 3600], ["minute", 60], ["second", 1]];

  function ago(date) {
    const seconds = (date.getTime() - Date.now()) / 1000;
    for (const [unit, size] of units) {
      if (Math.abs(seconds) >= size || unit === "second") {
        return relative.format(Math.round(seconds / size), unit);
      }
    }
    return "";
  }

  function localiseTimes() {
    for (const el of document.querySelectorAll("time[datetime]")) {
      const date = new Date(el.getAttribute("datetime"));
      if (Number.isNaN(date.getTime())) continue;
      el.title = el.getAttribute("datetime") + " (UTC)";
      el.textContent = absolute.format(date);
      const rel = document.createElement("span");
      rel.className = "relative";
      rel.textContent = " · " + ago(date);
      el.after(rel);
    }
  }

  // --- Inclusion proofs --------------------------------------------------------------------
  function b64decode(text) {
    const raw = atob(text);
    const out = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }

  function b64encode(bytes) {
    let raw = "";
    for (const b of bytes) raw += String.fromCharCode(b);
    return btoa(raw);
  }

  function concat(...parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.length; }
    return out;
  }

  async function sha256(bytes) {
    return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  }

  function equal(a, b) {
    return a.length === b.length && a.every((x, i) => x === b[i]);
  }

  // RFC 8785 (JCS): keys sorted by UTF-16 code units, ECMAScript number and string forms.
  function canonical(value) {
    if (value === null || typeof value !== "object") return JSON.stringify(value);
    if (Array.isArray(value)) return "[" + value.map(canonical).join(",") + "]";
    return "{" + Object.keys(value).sort().map((k) => JSON.stringify(k) + ":" + canonical(value[k])).join(",") + "}";
  }

  // RFC 9162 section 2.1.3.2: the root an inclusion path leads to, or null.
  async function rootFromPath(index, size, leaf, path) {
    if (index >= size) return null;
    let fn = index, sn = size - 1, r = leaf;
    for (const p of path) {
      if (sn === 0) return null;
      if (fn % 2 === 1 || fn === sn) {
        r = await sha256(concat(Uint8Array.of(1), p, r));
        if (fn % 2 === 0) {
          while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
        }
      } else {
        r = await sha256(concat(Uint8Array.of(1), r, p));
      }
      fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
    }
    return sn === 0 ? r : null;
  }

  class Failure extends Error {}

  // A C2SP verifier key: name+hexkeyhash+base64(0x01 || 32-byte Ed25519 key).
  async function parseVerifierKey(text) {
    const first = text.indexOf("+"), second = text.indexOf("+", first + 1);
    const name = text.slice(0, Math.max(first, 0)), hash = text.slice(first + 1, second), material = text.slice(second + 1);
    const bytes = first > 0 && second > first ? b64decode(material) : new Uint8Array(0);
    if (!name || bytes.length !== 33 || bytes[0] !== 1) throw new Failure("the published key is not an Ed25519 verifier key");
    const id = (await sha256(concat(enc.encode(name + "\n"), bytes))).slice(0, 4);
    if (Array.from(id, (b) => b.toString(16).padStart(2, "0")).join("") !== hash) {
      throw new Failure("the published key's id does not match the key");
    }
    return { name, id, key: bytes.slice(1), hash };
  }

  // A C2SP signed note: the text up to the blank line is signed; each "— name sig" line follows.
  async function checkNote(note, verifier) {
    const split = note.indexOf("\n\n");
    if (split < 0) throw new Failure("the checkpoint is not a signed note");
    const text = note.slice(0, split + 1);
    const lines = note.slice(split + 2).split("\n").filter((l) => l.length > 0);
    const key = await crypto.subtle.importKey("raw", verifier.key, { name: "Ed25519" }, false, ["verify"]);
    for (const line of lines) {
      const m = /^\u2014 (\S+) (\S+)$/.exec(line);
      if (!m || m[1] !== verifier.name) continue;
      const sig = b64decode(m[2]);
      if (sig.length !== 68 || !equal(sig.slice(0, 4), verifier.id)) continue;
      if (await crypto.subtle.verify({ name: "Ed25519" }, key, sig.slice(4), enc.encode(text))) {
        return text.split("\n");
      }
      throw new Failure("the checkpoint's signature does not verify with the published key");
    }
    throw new Failure("the checkpoint carries no signature by the published key");
  }

  async function verify(panel, status) {
    const response = await fetch(panel.dataset.proof, { credentials: "same-origin", headers: { Accept: "application/json" } });
    let body;
    try { body = await response.json(); } catch { throw new Failure("the server's answer is not a proof"); }
    if (!response.ok) throw new Failure(body.message || "the server could not prove this event");
    const event = JSON.parse(document.getElementById("event-json").textContent);
    const seq = Number(panel.dataset.seq);
    const inclusion = body.inclusion;
    if (inclusion.seq !== seq || inclusion.leafIndex !== seq - 1 || inclusion.kind !== panel.dataset.kind) {
      throw new Failure("the proof is for another log entry than this event");
    }
    const entry = '{"event":' + canonical(event) + ',"kind":"' + panel.dataset.kind + '","org":"' + body.org + '","seq":' + seq + "}";
    const leaf = await sha256(concat(Uint8Array.of(0), enc.encode(entry)));
    if (b64encode(leaf) !== inclusion.leafHash) {
      throw new Failure("the event shown does not hash to the log entry the server holds for it");
    }
    const root = await rootFromPath(inclusion.leafIndex, inclusion.treeSize, leaf, inclusion.proof.map(b64decode));
    const verifier = await parseVerifierKey(body.verifierKey);
    const [origin, size, signedRoot] = await checkNote(body.checkpoint.note, verifier);
    if (origin !== verifier.name + "/" + body.org) throw new Failure("the signed checkpoint is of another log");
    if (Number(size) !== inclusion.treeSize) throw new Failure("the proof is for another tree size than the signed checkpoint");
    if (root === null || b64encode(root) !== signedRoot) {
      throw new Failure("the inclusion proof does not lead to the signed root");
    }
    status.classList.add("verified");
    status.textContent = "Verified: this event is entry " + seq + " of the log of " + size +
      " entries whose root is signed by key " + verifier.name + "+" + verifier.hash + ". Checked in this browser.";
  }

  function checkInclusion() {
    const panel = document.getElementById("integrity");
    if (!panel) return;
    const status = document.getElementById("integrity-status");
    if (!(crypto && crypto.subtle)) {
      status.textContent = "This browser cannot check proofs here (WebCrypto needs HTTPS or localhost).";
      return;
    }
    status.textContent = "Verifying the inclusion proof…";
    verify(panel, status).catch((e) => {
      status.classList.add("failed");
      const reason = e instanceof Failure ? e.message : "the check could not run (" + e + ")";
      status.textContent = "Verification failed: " + reason + ".";
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    localiseTimes();
    checkInclusion();
  });
})();
