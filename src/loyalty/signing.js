'use strict';
// The signed wire format of docs/participants.md, as the C# MessageCodec writes and reads it:
//   {"body":{...},"kid":"16 hex digits","sig":"base64 of HMAC-SHA256(key, exact UTF-8 text of body)"}
// Commands are verified over the raw text of "body" (never a re-serialisation, which could differ in spacing, escapes or
// number forms), and replies are signed over exactly the text we send.

const crypto = require('node:crypto');
const { scanTopLevelObject, JsonScanError } = require('./json-scan');

const MIN_KEY_BYTES = 32;
const MAX_MESSAGE_BYTES = 64 * 1024; // the C# codec's limit (a queue message holds 64 KiB)
const COMMANDS = new Set(['Prepare', 'Commit', 'Rollback']);
const TX_ID = /^[A-Za-z0-9_-]{1,64}$/;
const MAX_BRANCHES = 64;
const TRACE_PARENT = /^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$/;

/** A key's id: the first 8 bytes of HMAC-SHA256(key, "kid") in lower-case hex; names the key without revealing it. */
function keyIdOf(key) {
  return crypto.createHmac('sha256', key).update('kid', 'ascii').digest().subarray(0, 8).toString('hex');
}

function hmac(key, bytes) {
  return crypto.createHmac('sha256', key).update(bytes).digest();
}

/** Why a message was not accepted; the server answers 401 with `detail` and changes nothing. */
class Rejected extends Error {}

/**
 * Signs replies with the current key and verifies commands against the current and previous keys (rotation: commands
 * already in flight when the coordinator switches keys stay valid until the old key is retired).
 */
class Codec {
  /** @param {Buffer} signingKey @param {Buffer[]} previousKeys */
  constructor(signingKey, previousKeys = []) {
    for (const key of [signingKey, ...previousKeys]) {
      if (key.length < MIN_KEY_BYTES) throw new Error(`a signing key must be at least ${MIN_KEY_BYTES} bytes`);
    }
    this.key = signingKey;
    this.keyId = keyIdOf(signingKey);
    this.accepted = new Map([[this.keyId, signingKey]]);
    for (const key of previousKeys) {
      const id = keyIdOf(key);
      if (!this.accepted.has(id)) this.accepted.set(id, key);
    }
  }

  /** The wire text of a reply whose body is `body` (an object; serialised once, and signed as serialised). */
  encode(body) {
    const raw = JSON.stringify(body);
    const sig = hmac(this.key, Buffer.from(raw, 'utf8')).toString('base64');
    return `{"body":${raw},"kid":"${this.keyId}","sig":"${sig}"}`;
  }

  /**
   * Verifies and reads a command addressed to `participant` from the request's bytes. Returns
   * { kind, tx, branch, operation, traceParent }, or throws Rejected saying why.
   */
  decodeCommand(bytes, participant) {
    if (bytes.length === 0 || bytes.length > MAX_MESSAGE_BYTES) throw new Rejected('empty or oversized message');
    let text;
    try {
      // fatal: invalid UTF-8 is refused instead of replaced, so the text is exactly the bytes that were signed.
      // ignoreBOM keeps a byte-order mark in the text, where it makes the JSON invalid (the codec never writes one).
      text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
    } catch {
      throw new Rejected('not valid UTF-8');
    }

    let members;
    try {
      members = scanTopLevelObject(text);
    } catch (error) {
      if (error instanceof JsonScanError) throw new Rejected(`malformed JSON: ${error.message}`);
      throw error;
    }
    const bodySpan = members.get('body');
    if (!bodySpan || text[bodySpan.start] !== '{') throw new Rejected('not a protocol message (no body object)');
    const value = (name) => (members.has(name) ? JSON.parse(text.slice(members.get(name).start, members.get(name).end)) : undefined);

    const sig = value('sig');
    if (sig === undefined) throw new Rejected('unsigned message (no signature)');
    const kid = value('kid');
    if (typeof kid !== 'string') throw new Rejected('missing key id (kid)');
    const key = this.accepted.get(kid);
    if (!key) {
      const shown = /^[0-9a-f]{1,16}$/.test(kid) ? kid : '(not a key id)';
      throw new Rejected(`signed with a key that is not accepted here (kid ${shown}): a retired key, or one never configured`);
    }
    // Standard base64 of 32 bytes is always 43 characters and one '='; anything else is not a signature of ours.
    if (typeof sig !== 'string' || !/^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/.test(sig)) throw new Rejected('invalid signature');
    const rawBody = text.slice(bodySpan.start, bodySpan.end);
    const expected = hmac(key, Buffer.from(rawBody, 'utf8'));
    if (!crypto.timingSafeEqual(expected, Buffer.from(sig, 'base64'))) throw new Rejected('invalid signature');

    // Signed by a key we hold: now the body's fields can be trusted to be what the coordinator meant; check they make sense.
    return readCommandBody(JSON.parse(rawBody), participant);
  }
}

function readCommandBody(body, participant) {
  if (body.v !== 1) throw new Rejected(typeof body.v === 'number' ? `unsupported message version ${body.v}` : 'missing version');
  if (typeof body.kind !== 'string' || !COMMANDS.has(body.kind)) {
    throw new Rejected('not a command for a participant (kind must be Prepare, Commit or Rollback)');
  }
  if (typeof body.tx !== 'string' || !TX_ID.test(body.tx)) throw new Rejected('missing or invalid transaction id');
  if (!Number.isInteger(body.branch) || body.branch < 0 || body.branch >= MAX_BRANCHES) throw new Rejected('missing or invalid branch');
  if (body.participant !== participant) {
    const named = typeof body.participant === 'string' ? `"${body.participant.slice(0, 40)}"` : 'no participant';
    throw new Rejected(`addressed to ${named}, not "${participant}"`);
  }
  const op = body.operation;
  if (op === null || typeof op !== 'object' || Array.isArray(op)) throw new Rejected('operation is not a JSON object');
  if (body.traceParent !== undefined && !(typeof body.traceParent === 'string' && TRACE_PARENT.test(body.traceParent))) {
    throw new Rejected('invalid traceParent');
  }
  return { kind: body.kind, tx: body.tx, branch: body.branch, operation: op, traceParent: body.traceParent };
}

module.exports = { Codec, Rejected, keyIdOf, MIN_KEY_BYTES, MAX_MESSAGE_BYTES };
