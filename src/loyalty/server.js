#!/usr/bin/env node
'use strict';
// loyalty: an HTTP participant (kind tcc) of the two-phase-commit coordinator, in Node with the standard library only.
//   POST /tx                the signed command (docs/participants.md) -> the signed reply
//   GET  /points/{customer} {"customer","points","pending"}, zeros for a customer never seen
//   GET  /health            {"status":"ok"}
// Settings (environment): PARTICIPANT_LOYALTY_SIGNING_KEY (required, >= 32 bytes), PARTICIPANT_LOYALTY_SIGNING_KEYS_PREVIOUS
// (comma-separated, accepted during a rotation), LOYALTY_PORT or --port N (default 7074), LOYALTY_DATA_DIR (default
// ./.loyalty-data). It listens on 127.0.0.1 only.

const http = require('node:http');
const path = require('node:path');
const { Codec, Rejected, MIN_KEY_BYTES, MAX_MESSAGE_BYTES } = require('./signing');
const { Journal } = require('./journal');
const { Ledger, PARTICIPANT } = require('./ledger');

const DEFAULT_PORT = 7074;
const HOST = '127.0.0.1';

function main() {
  let config;
  try {
    config = readConfig(process.argv.slice(2), process.env);
  } catch (error) {
    return fail(error.message);
  }

  let opened;
  try {
    opened = Journal.open(config.dataDir, Ledger.isEntry);
  } catch (error) {
    return fail(`cannot open the journal in ${config.dataDir}: ${error.message}`);
  }
  const ledger = new Ledger(opened.journal);
  ledger.replay(opened.entries);
  if (opened.torn) log(`journal ${opened.journal.path}: its last line was torn (a crash mid-write); ignored and cut off`);

  const server = http.createServer((req, res) => {
    try {
      route(req, res, ledger, config.codec);
    } catch (error) {
      internalError(res, error);
    }
  });
  server.on('error', (error) => {
    // EADDRINUSE's message reads "listen EADDRINUSE: address already in use 127.0.0.1:7074".
    fail(`cannot listen on http://${HOST}:${config.port}: ${error.message}`);
  });
  server.listen(config.port, HOST, () => {
    log(`listening on http://${HOST}:${config.port}; data in ${config.dataDir} (${opened.entries.length} journal entries replayed); `
      + `signing key id ${config.codec.keyId}, ${config.codec.accepted.size} key(s) accepted`);
  });

  // Every answer was fsync'ed before it was sent, so stopping needs no flush: just stop listening.
  for (const signal of ['SIGTERM', 'SIGINT']) {
    process.on(signal, () => {
      server.close();
      opened.journal.close();
      process.exit(0);
    });
  }
}

/** Reads and checks the settings; throws with a message for the operator (never showing a key). */
function readConfig(args, env) {
  let port = env.LOYALTY_PORT ? parsePort(env.LOYALTY_PORT, 'LOYALTY_PORT') : DEFAULT_PORT;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--port' && i + 1 < args.length) port = parsePort(args[++i], '--port');
    else if (args[i].startsWith('--port=')) port = parsePort(args[i].slice('--port='.length), '--port');
    else throw new Error(`unknown argument "${args[i]}" (usage: node server.js [--port N])`);
  }

  const name = 'PARTICIPANT_LOYALTY_SIGNING_KEY';
  const current = env[name];
  if (!current) {
    throw new Error(`${name} is not set: loyalty needs its own signing key (at least ${MIN_KEY_BYTES} bytes) `
      + 'to verify commands and sign replies');
  }
  const key = Buffer.from(current, 'utf8');
  if (key.length < MIN_KEY_BYTES) throw new Error(`${name} is too short: ${key.length} bytes, at least ${MIN_KEY_BYTES} needed`);

  // Comma-separated, entries trimmed and empty ones skipped, as the coordinator reads its own list of previous keys.
  const previousName = 'PARTICIPANT_LOYALTY_SIGNING_KEYS_PREVIOUS';
  const previousTexts = (env[previousName] || '').split(',').map((k) => k.trim()).filter((k) => k.length > 0);
  const previous = previousTexts.map((text, i) => {
    const bytes = Buffer.from(text, 'utf8');
    if (bytes.length < MIN_KEY_BYTES) {
      throw new Error(`${previousName}: key ${i + 1} is too short: ${bytes.length} bytes, at least ${MIN_KEY_BYTES} needed`);
    }
    return bytes;
  });

  const dataDir = path.resolve(env.LOYALTY_DATA_DIR || '.loyalty-data');
  return { port, dataDir, codec: new Codec(key, previous) };
}

function parsePort(text, source) {
  const port = Number(text);
  if (!/^[0-9]+$/.test(text) || port < 1 || port > 65535) throw new Error(`${source}: "${text}" is not a port (1-65535)`);
  return port;
}

function route(req, res, ledger, codec) {
  const url = new URL(req.url, `http://${HOST}`);
  const pathname = url.pathname;
  if (pathname === '/tx') {
    if (req.method !== 'POST') return methodNotAllowed(req, res, 'POST');
    return readBody(req, (bytes) => {
      try {
        handleCommand(bytes, res, ledger, codec);
      } catch (error) {
        internalError(res, error);
      }
    });
  }
  if (pathname === '/health') {
    if (req.method !== 'GET') return methodNotAllowed(req, res, 'GET');
    return sendJson(res, 200, { status: 'ok' });
  }
  const points = /^\/points\/([^/]+)$/.exec(pathname);
  if (points) {
    if (req.method !== 'GET') return methodNotAllowed(req, res, 'GET');
    let customer;
    try {
      customer = decodeURIComponent(points[1]);
    } catch {
      return sendProblem(res, 400, 'the customer id in the path is not valid percent-encoding');
    }
    return sendJson(res, 200, ledger.balance(customer));
  }
  return sendProblem(res, 404, `no route ${req.method} ${pathname}`);
}

function handleCommand(bytes, res, ledger, codec) {
  let command;
  try {
    command = bytes === null ? failOversized() : codec.decodeCommand(bytes, PARTICIPANT);
  } catch (error) {
    if (!(error instanceof Rejected)) throw error;
    log(`POST /tx -> 401 rejected: ${error.message}`);
    return sendProblem(res, 401, error.message);
  }

  const what = `tx=${command.tx} branch=${command.branch} ${command.kind}`;
  let result;
  try {
    result = ledger.handle(command);
  } catch (error) {
    // Nothing was applied (the journal write comes first); the coordinator asks again later.
    log(`${what} -> 503 the journal could not be written: ${error.message}`);
    return sendProblem(res, 503, `the change could not be made durable: ${error.message}`);
  }

  if (result.problem) {
    log(`${what} -> ${result.status} refused, contradicts the branch's record`);
    return sendProblem(res, result.status, result.problem);
  }
  const r = result.reply;
  const said = r.kind === 'Vote' ? `Vote ${r.vote}${r.reason ? ` (${r.reason})` : ''}` : `Ack ${r.outcome}`;
  log(`${what} -> ${result.status} ${said}`);
  return send(res, result.status, 'application/json', codec.encode(r));
}

function failOversized() {
  throw new Rejected('empty or oversized message');
}

/** Collects the request's bytes, up to the message limit; calls `done(null)` for a larger one (read to its end, dropped). */
function readBody(req, done) {
  const chunks = [];
  let size = 0;
  req.on('data', (chunk) => {
    size += chunk.length;
    if (size <= MAX_MESSAGE_BYTES) chunks.push(chunk);
  });
  req.on('end', () => done(size <= MAX_MESSAGE_BYTES ? Buffer.concat(chunks) : null));
  req.on('error', () => {}); // the client went away; there is no one to answer
}

function methodNotAllowed(req, res, allowed) {
  res.setHeader('Allow', allowed);
  return sendProblem(res, 405, `${req.method} is not allowed here; use ${allowed}`);
}

const TITLES = {
  400: 'Bad Request', 401: 'Unauthorized', 404: 'Not Found', 405: 'Method Not Allowed', 409: 'Conflict', 500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** An RFC 9457 problem document. */
function sendProblem(res, status, detail) {
  const body = { type: 'about:blank', title: TITLES[status] || 'Error', status, detail };
  return send(res, status, 'application/problem+json', JSON.stringify(body));
}

function sendJson(res, status, value) {
  return send(res, status, 'application/json', JSON.stringify(value));
}

function send(res, status, contentType, text) {
  const body = Buffer.from(text, 'utf8');
  res.writeHead(status, { 'Content-Type': `${contentType}; charset=utf-8`, 'Content-Length': body.length, 'Cache-Control': 'no-store' });
  res.end(body);
}

/** A bug, not a bad request: say so, and keep serving (the command changed nothing unless its journal line was written). */
function internalError(res, error) {
  process.stderr.write(`loyalty: internal error: ${error && error.stack ? error.stack : error}\n`);
  if (!res.headersSent) sendProblem(res, 500, 'internal error');
}

/** One line on stdout; control characters from a message's text are shown escaped so a line stays one line. */
function log(line) {
  process.stdout.write(`loyalty: ${line.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)}\n`);
}

function fail(message) {
  process.stderr.write(`loyalty: ${message}\n`);
  process.exit(1);
}

main();
