'use strict';
// A strict JSON scanner for signed messages. JSON.parse is not enough on its own:
//  - the signature covers the exact text of the top-level "body" value, so we need where that text starts and ends;
//  - JSON.parse takes the last of two properties with the same name, while another reader may take the first, so a
//    duplicate could make this service act on something other than what a verifier checked: we refuse any duplicate,
//    at every depth, as the C# codec does;
//  - an escaped lone surrogate ("\ud800") is not Unicode text; the C# codec refuses it, and so do we.
// The scanner only validates and measures; values come from JSON.parse of the text once it has passed.

const MAX_DEPTH = 64;

class JsonScanError extends Error {}

/**
 * Scans `text` as one JSON value that must be an object. Returns its top-level members as a Map from name to
 * { start, end } (indices into `text`, end exclusive). Throws JsonScanError with a short reason otherwise.
 */
function scanTopLevelObject(text) {
  const scanner = new Scanner(text);
  scanner.skipWhitespace();
  if (text[scanner.pos] !== '{') throw new JsonScanError('not a JSON object');
  const members = scanner.object(0, true);
  scanner.skipWhitespace();
  if (scanner.pos !== text.length) throw new JsonScanError(`unexpected text after the JSON value at ${scanner.pos}`);
  return members;
}

class Scanner {
  constructor(text) {
    this.text = text;
    this.pos = 0;
  }

  fail(what) {
    throw new JsonScanError(`${what} at ${this.pos}`);
  }

  skipWhitespace() {
    while (this.pos < this.text.length) {
      const c = this.text[this.pos];
      if (c !== ' ' && c !== '\t' && c !== '\n' && c !== '\r') return;
      this.pos++;
    }
  }

  value(depth) {
    this.skipWhitespace();
    const c = this.text[this.pos];
    if (c === '{') return void this.object(depth + 1, false);
    if (c === '[') return void this.array(depth + 1);
    if (c === '"') return void this.string();
    if (c === '-' || (c >= '0' && c <= '9')) return void this.number();
    for (const word of ['true', 'false', 'null']) {
      if (this.text.startsWith(word, this.pos)) {
        this.pos += word.length;
        return;
      }
    }
    this.fail('expected a JSON value');
  }

  // Returns the members' spans only when asked (the top level); nested objects are only checked.
  object(depth, keepSpans) {
    if (depth > MAX_DEPTH) this.fail('nested too deeply');
    this.pos++; // '{'
    const names = new Set();
    const spans = keepSpans ? new Map() : null;
    this.skipWhitespace();
    if (this.text[this.pos] === '}') {
      this.pos++;
      return spans;
    }
    for (;;) {
      this.skipWhitespace();
      if (this.text[this.pos] !== '"') this.fail('expected a property name');
      const nameStart = this.pos;
      this.string();
      // Compare names as decoded: "b\u006fdy" is "body".
      const name = JSON.parse(this.text.slice(nameStart, this.pos));
      if (names.has(name)) this.fail(`duplicate property "${name.slice(0, 40)}"`);
      names.add(name);
      this.skipWhitespace();
      if (this.text[this.pos] !== ':') this.fail("expected ':'");
      this.pos++;
      this.skipWhitespace();
      const start = this.pos;
      this.value(depth);
      if (spans) spans.set(name, { start, end: this.pos });
      this.skipWhitespace();
      const c = this.text[this.pos++];
      if (c === '}') return spans;
      if (c !== ',') this.fail("expected ',' or '}'");
    }
  }

  array(depth) {
    if (depth > MAX_DEPTH) this.fail('nested too deeply');
    this.pos++; // '['
    this.skipWhitespace();
    if (this.text[this.pos] === ']') {
      this.pos++;
      return;
    }
    for (;;) {
      this.value(depth);
      this.skipWhitespace();
      const c = this.text[this.pos++];
      if (c === ']') return;
      if (c !== ',') this.fail("expected ',' or ']'");
    }
  }

  string() {
    this.pos++; // opening quote
    let pendingHigh = false; // an escaped high surrogate that needs an escaped low one next
    for (;;) {
      if (this.pos >= this.text.length) this.fail('unterminated string');
      const c = this.text[this.pos];
      const code = c.charCodeAt(0);
      if (c === '\\') {
        const e = this.text[this.pos + 1];
        if (e === 'u') {
          const hex = this.text.slice(this.pos + 2, this.pos + 6);
          if (!/^[0-9A-Fa-f]{4}$/.test(hex)) this.fail('invalid \\u escape');
          const unit = parseInt(hex, 16);
          const high = unit >= 0xd800 && unit <= 0xdbff;
          const low = unit >= 0xdc00 && unit <= 0xdfff;
          if (pendingHigh !== low) this.fail('escaped lone surrogate');
          pendingHigh = high;
          this.pos += 6;
          continue;
        }
        if (!'"\\/bfnrt'.includes(e) || e === undefined) this.fail('invalid escape');
        if (pendingHigh) this.fail('escaped lone surrogate');
        this.pos += 2;
        continue;
      }
      if (pendingHigh) this.fail('escaped lone surrogate');
      if (c === '"') {
        this.pos++;
        return;
      }
      if (code < 0x20) this.fail('control character in a string');
      this.pos++;
    }
  }

  number() {
    const match = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(this.text.slice(this.pos, this.pos + 400));
    if (!match || match[0].length === 0 || match[0] === '-') this.fail('invalid number');
    this.pos += match[0].length;
  }
}

module.exports = { scanTopLevelObject, JsonScanError };
