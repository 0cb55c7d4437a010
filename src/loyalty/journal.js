'use strict';
// The append-only journal: {dataDir}/journal.jsonl, one JSON line per state change. Each line is written and fsync'ed
// before the change is applied in memory and before the answer is sent, so an answer the coordinator has seen is never
// forgotten, whatever happens to the process afterwards (a Yes vote is a promise, I3).
//
// A crash can leave the last line torn (half written, or padded by the file system). On open such a last line is
// ignored and cut off, so that what is appended next starts on a clean line. A bad line anywhere else is not a crash
// artefact but damage, and opening refuses it rather than silently dropping history.

const fs = require('node:fs');
const path = require('node:path');

const FILE_NAME = 'journal.jsonl';

class Journal {
  constructor(filePath, fd, size) {
    this.path = filePath;
    this.fd = fd;
    this.size = size;
    this.broken = false;
  }

  /**
   * Opens (creating if missing) the journal in `directory`. Returns { journal, entries, torn }; `isEntry` says whether a
   * parsed line is a well-formed entry. Throws when a line other than the last is not one.
   */
  static open(directory, isEntry) {
    fs.mkdirSync(directory, { recursive: true });
    const filePath = path.join(directory, FILE_NAME);
    const created = !fs.existsSync(filePath);
    const fd = fs.openSync(filePath, created ? 'w+' : 'r+');
    try {
      if (created) fsyncDirectory(directory); // so that the file itself survives a crash, not only its contents
      const bytes = fs.readFileSync(fd);
      const entries = [];
      let goodEnd = 0;
      let torn = false;
      let needsNewline = false;
      let start = 0;
      let lineNumber = 0;
      while (start < bytes.length) {
        lineNumber++;
        const newline = bytes.indexOf(0x0a, start);
        const end = newline < 0 ? bytes.length : newline;
        const last = newline < 0 || newline === bytes.length - 1;
        const line = bytes.subarray(start, end).toString('utf8').trim();
        if (line.length > 0) {
          const entry = tryParse(line, isEntry);
          if (entry === undefined) {
            if (!last) {
              throw new Error(`${filePath}: line ${lineNumber} is not a journal entry, and only the last line may be torn; fix or move the file`);
            }
            torn = true;
            break;
          }
          entries.push(entry);
        }
        goodEnd = newline < 0 ? bytes.length : newline + 1;
        needsNewline = newline < 0;
        start = end + 1;
      }

      // Cut a torn line off, and end a complete last line that lost only its newline, so appends start clean.
      let size = goodEnd;
      if (torn || needsNewline) {
        fs.ftruncateSync(fd, goodEnd);
        if (needsNewline) {
          fs.writeSync(fd, '\n', goodEnd);
          size++;
        }
        fs.fsyncSync(fd);
      }
      return { journal: new Journal(filePath, fd, size), entries, torn };
    } catch (error) {
      fs.closeSync(fd);
      throw error;
    }
  }

  /** Appends `entry` as one line and fsyncs it; returns once it is durable. Throws if it could not be written. */
  append(entry) {
    if (this.broken) throw new Error(`${this.path}: an earlier append failed and could not be undone; restart the service`);
    const bytes = Buffer.from(JSON.stringify(entry) + '\n', 'utf8');
    try {
      let written = 0;
      while (written < bytes.length) {
        written += fs.writeSync(this.fd, bytes, written, bytes.length - written, this.size + written);
      }
      fs.fsyncSync(this.fd);
      this.size += bytes.length;
    } catch (error) {
      try {
        // Take the partial line back: another append after it would leave a torn line in the middle of the file.
        fs.ftruncateSync(this.fd, this.size);
        fs.fsyncSync(this.fd);
      } catch {
        this.broken = true;
      }
      throw error;
    }
  }

  close() {
    fs.closeSync(this.fd);
  }
}

function tryParse(line, isEntry) {
  try {
    const entry = JSON.parse(line);
    return isEntry(entry) ? entry : undefined;
  } catch {
    return undefined;
  }
}

function fsyncDirectory(directory) {
  const fd = fs.openSync(directory, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

module.exports = { Journal, FILE_NAME };
