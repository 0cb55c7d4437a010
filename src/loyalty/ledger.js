'use strict';
// Loyalty points as a TCC participant: the decision table of docs/participants.md ("The participant's rules", the C#
// ParticipantProtocol) applied to an "award" operation.
//   Try (Prepare):      pending += n, vote Yes; or vote No, reserving nothing.
//   Confirm (Commit):   points += n, pending -= n.
//   Cancel (Rollback):  pending -= n.
// Each command's whole effect (the branch's new record and the balance deltas) is one journal line, so the record and
// the balances can never disagree after a crash, and a duplicate finds the record and changes nothing (I5).

const PARTICIPANT = 'loyalty';
const ROLLED_BACK_BEFORE_PREPARE = 'the branch was rolled back before it was prepared';
const MAX_CUSTOMER_LENGTH = 200;

/** The result of a command: an HTTP status and either a reply body to sign, or a problem's detail. */
const reply = (status, body) => ({ status, reply: body });
const contradiction = (detail) => ({ status: 409, problem: detail });

class Ledger {
  constructor(journal) {
    this.journal = journal;
    this.branches = new Map(); // "tx/branch" -> { phase, vote, reason, customer, points }
    this.balances = new Map(); // customer -> { points, pending }
  }

  /** Whether a parsed journal line is one this ledger wrote (anything else on the last line counts as torn). */
  static isEntry(entry) {
    return entry !== null && typeof entry === 'object' && typeof entry.tx === 'string' && Number.isInteger(entry.branch)
      && entry.record !== null && typeof entry.record === 'object' && typeof entry.record.phase === 'string'
      && Array.isArray(entry.deltas);
  }

  /** Replays the journal's entries in order, at start. */
  replay(entries) {
    for (const entry of entries) this.apply(entry);
  }

  balance(customer) {
    const b = this.balances.get(customer);
    return { customer, points: b ? b.points : 0, pending: b ? b.pending : 0 };
  }

  /**
   * Carries out one verified command and returns { status, reply } or { status, problem }. Synchronous on purpose:
   * the check, the journal write and the update run without yielding to the event loop, so commands are handled one
   * at a time and two concurrent duplicates cannot both find "no record" and both apply. Keep it free of awaits.
   */
  handle(command) {
    const key = `${command.tx}/${command.branch}`;
    const record = this.branches.get(key);
    switch (command.kind) {
      case 'Prepare': return this.prepare(command, key, record);
      case 'Commit': return this.commit(command, key, record);
      default: return this.rollback(command, key, record);
    }
  }

  prepare(command, key, record) {
    if (record) {
      // Answer as the first time: a rollback that came first left no vote, and then the answer is No (I6).
      return record.vote ? this.vote(command, record.vote, record.reason) : this.vote(command, 'No', ROLLED_BACK_BEFORE_PREPARE);
    }
    const award = readAward(command.operation);
    if (award.refusal) {
      this.record(command, key, { phase: 'Refused', vote: 'No', reason: award.refusal }, []);
      return this.vote(command, 'No', award.refusal);
    }
    const current = this.balance(award.customer);
    if (!Number.isSafeInteger(current.points + current.pending + award.points)) {
      const reason = "the award would take the customer's points past the largest total this service keeps";
      this.record(command, key, { phase: 'Refused', vote: 'No', reason }, []);
      return this.vote(command, 'No', reason);
    }
    this.record(command, key, { phase: 'Prepared', vote: 'Yes', customer: award.customer, points: award.points },
      [{ customer: award.customer, points: 0, pending: award.points }]);
    return this.vote(command, 'Yes');
  }

  commit(command, key, record) {
    if (record && record.phase === 'Committed') return this.ack(command, 'Committed');
    if (!record || record.phase !== 'Prepared') {
      const was = record ? record.phase.replace('Refused', 'refused (voted No)').replace('RolledBack', 'rolled back') : 'unknown here';
      return contradiction(`Commit of branch ${command.branch} of transaction ${command.tx} contradicts its record: the branch is ${was}`);
    }
    // Confirm what was reserved: the record, not the command's copy of the operation, says what that was.
    this.record(command, key, { ...record, phase: 'Committed' },
      [{ customer: record.customer, points: record.points, pending: -record.points }]);
    return this.ack(command, 'Committed');
  }

  rollback(command, key, record) {
    if (!record) {
      // Cancel before any Try: remember it, so that a Try arriving late votes No and reserves nothing (I6).
      this.record(command, key, { phase: 'RolledBack', vote: null }, []);
    } else if (record.phase === 'Prepared') {
      this.record(command, key, { ...record, phase: 'RolledBack' },
        [{ customer: record.customer, points: 0, pending: -record.points }]);
    } else if (record.phase === 'Committed') {
      return contradiction(`Rollback of branch ${command.branch} of transaction ${command.tx} contradicts its record: the branch is committed`);
    }
    return this.ack(command, 'RolledBack');
  }

  /** Makes the change durable (one fsync'ed journal line), then applies it. */
  record(command, key, record, deltas) {
    const entry = { tx: command.tx, branch: command.branch, record, deltas };
    this.journal.append(entry);
    this.apply(entry);
  }

  apply(entry) {
    this.branches.set(`${entry.tx}/${entry.branch}`, entry.record);
    for (const d of entry.deltas) {
      const b = this.balances.get(d.customer) || { points: 0, pending: 0 };
      this.balances.set(d.customer, { points: b.points + d.points, pending: b.pending + d.pending });
    }
  }

  vote(command, vote, reason) {
    const body = { v: 1, kind: 'Vote', tx: command.tx, branch: command.branch, participant: PARTICIPANT, vote };
    if (reason) body.reason = reason;
    return reply(vote === 'No' ? 409 : 200, body);
  }

  ack(command, outcome) {
    return reply(200, { v: 1, kind: 'Ack', tx: command.tx, branch: command.branch, participant: PARTICIPANT, outcome });
  }
}

/** Reads an award operation: { customer, points }, or { refusal } with the reason of the No vote. */
function readAward(op) {
  if (op.type !== 'award') {
    return { refusal: `loyalty only takes operations of type "award", not ${typeof op.type === 'string' ? `"${op.type.slice(0, 40)}"` : 'none'}` };
  }
  if (typeof op.customer !== 'string' || op.customer.trim().length === 0) return { refusal: 'the award names no customer' };
  if (op.customer.length > MAX_CUSTOMER_LENGTH) return { refusal: `the customer id is longer than ${MAX_CUSTOMER_LENGTH} characters` };
  // Above 2^53 a JavaScript number no longer counts every integer: refuse rather than award a rounded amount.
  if (typeof op.points !== 'number' || !Number.isSafeInteger(op.points)) {
    return { refusal: `points must be a whole number (at most ${Number.MAX_SAFE_INTEGER})` };
  }
  if (op.points <= 0) return { refusal: `points must be more than 0, not ${op.points}` };
  return { customer: op.customer, points: op.points };
}

module.exports = { Ledger, PARTICIPANT, ROLLED_BACK_BEFORE_PREPARE };
