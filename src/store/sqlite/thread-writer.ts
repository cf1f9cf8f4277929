import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker, type MessagePort } from 'node:worker_threads';
import { BridgeError, ERRORS, type ErrorCode } from '../../errors.js';
import type { Writer, WriterOptions } from './connection-writer.js';
import type { WriteName, WriteRequest, WriteResult, Writes } from './named-writes.js';
import { createWriteGatherer } from './write-gatherer.js';

/**
 * The writer in a thread of its own, on its own connection to the file: the
 * serving process's event loop never runs a commit's statements, its WAL
 * writes or SQLite's checkpoints, and goes on parsing and verifying webhooks
 * meanwhile. Writes asked for during one turn travel as one message and their
 * answers come back the same way, so the group commit on the far side still
 * sees every concurrent webhook of the turn.
 */

interface Call {
  readonly id: number;
  readonly request: WriteRequest;
}
/** An error as it crosses the thread: a store error keeps its code. */
interface WireError {
  readonly message: string;
  readonly code?: ErrorCode;
}
type Answer = { readonly id: number; readonly value: unknown } | { readonly id: number; readonly error: WireError };

function toWire(err: unknown): WireError {
  const message = err instanceof Error ? err.message : String(err);
  return err instanceof BridgeError ? { message, code: err.code } : { message };
}

function fromWire(wire: WireError): Error {
  if (wire.code === undefined || !(wire.code in ERRORS)) return new Error(wire.message);
  return new BridgeError(wire.code, wire.message);
}

/**
 * Writes per message to the writer thread, at most. Under a burst the thread
 * commits the first ones while the event loop still parses the rest, and the
 * groups stay large enough to share one sync; one write per message means more,
 * smaller groups and more syncs (measured in docs/benchmarks.md).
 */
const WRITES_PER_MESSAGE = 16;

/**
 * Gathers what it is given during one turn of the event loop and posts it as
 * one message; with `max`, also posts as soon as it holds that many.
 */
function batcher<T>(post: (batch: T[]) => void, max = Number.POSITIVE_INFINITY): (item: T) => void {
  let batch: T[] = [];
  let scheduled = false;
  const send = () => {
    const sent = batch;
    batch = [];
    post(sent);
  };
  return (item) => {
    if (!scheduled) {
      scheduled = true;
      setImmediate(() => {
        scheduled = false;
        if (batch.length > 0) send();
      });
    }
    batch.push(item);
    if (batch.length >= max) send();
  };
}

/** The thread's side: answers the calls arriving on `port` with `writer`; `close` is the last call. */
export function serveWriter(port: MessagePort, writer: Writer, close: () => Promise<void>): void {
  const answer = batcher<Answer>((batch) => port.postMessage(batch));
  const inFlight = new Set<Promise<unknown>>();
  port.on('message', (calls: Call[] | 'close') => {
    if (calls === 'close') {
      // Every call received is answered (its batch posted) before the thread lets go of the file.
      void Promise.allSettled(inFlight)
        .then(() => new Promise((resolve) => setImmediate(resolve)))
        .then(close)
        .finally(() => port.postMessage('closed'));
      return;
    }
    for (const call of calls) {
      const { name, args } = call.request;
      const done = (writer.write as (name: WriteName, ...args: readonly unknown[]) => Promise<unknown>)(name, ...args).then(
        (value) => answer({ id: call.id, value }),
        (err: unknown) => answer({ id: call.id, error: toWire(err) }),
      );
      inFlight.add(done);
      void done.finally(() => inFlight.delete(done));
    }
  });
}

/**
 * The thread's script, compiled beside this module. Run from the sources (the
 * test suite), this module has no compiled neighbour: the build's copy is used
 * (`npm test` builds first).
 */
function threadScript(): URL {
  const here = new URL('./thread-writer-entry.js', import.meta.url);
  if (existsSync(fileURLToPath(here))) return here;
  return new URL('../../../dist/src/store/sqlite/thread-writer-entry.js', import.meta.url);
}

/**
 * How calls reach `thread`: gathered into messages of at most WRITES_PER_MESSAGE; those asked for while others
 * are unanswered wait for their answers, at most `windowMs` (write-gatherer.ts). `answered` is told of each answer.
 */
function postingTo(thread: Worker, windowMs: number): { post: (call: Call) => void; answered: (count: number) => void; flush: () => void } {
  let unanswered = 0;
  const gatherer = createWriteGatherer<Call>(
    (batch) => {
      unanswered += batch.length;
      thread.postMessage(batch);
    },
    { max: WRITES_PER_MESSAGE, windowMs, busy: () => unanswered > 0 },
  );
  return {
    post: (call) => gatherer.add(call),
    flush: () => gatherer.flush(),
    answered(count) {
      unanswered -= count;
      if (unanswered <= 0) gatherer.idle();
    },
  };
}

/**
 * Starts the writer thread on the file and answers with its writer. A thread
 * that stops unexpectedly fails its writes in flight with STORE_UNAVAILABLE;
 * the next write starts a new one.
 */
export function startThreadWriter(options: WriterOptions): Writer {
  const waiting = new Map<number, { resolve(value: unknown): void; reject(err: unknown): void }>();
  let nextId = 0;
  let worker: Worker | undefined;
  let send: ((call: Call) => void) | undefined;
  /** Posts the writes the commit window holds, ahead of a close. */
  let flushHeld: (() => void) | undefined;
  let closed: Promise<void> | undefined;

  function start(): { worker: Worker; send: (call: Call) => void } {
    const thread = new Worker(threadScript(), { workerData: options });
    // A long turn (a burst of webhooks) sends its writes in parts, so the thread commits the first ones while
    // the event loop still parses the rest; they still travel in groups, so the thread's groups stay large.
    const { post, answered, flush } = postingTo(thread, options.commitWindowMs ?? 0);
    // Only writes in flight keep the process alive, as a writer in the caller's thread would.
    thread.unref();
    thread.on('message', (answers: Answer[] | 'closed') => {
      if (answers === 'closed') return;
      answered(answers.length);
      for (const answer of answers) {
        const call = waiting.get(answer.id);
        if (!call) continue;
        waiting.delete(answer.id);
        if ('error' in answer) call.reject(fromWire(answer.error));
        else call.resolve(answer.value);
      }
      if (waiting.size === 0) thread.unref();
    });
    const stopped = (reason: string) => {
      if (worker !== thread) return;
      worker = undefined;
      send = undefined;
      const err = new BridgeError('STORE_UNAVAILABLE', `the SQLite writer thread stopped (${reason}); the next write starts it again`);
      for (const call of waiting.values()) call.reject(err);
      waiting.clear();
    };
    thread.on('error', (err) => stopped(err.message));
    thread.on('exit', (code) => stopped(`exit code ${code}`));
    worker = thread;
    send = post;
    flushHeld = flush;
    return { worker: thread, send: post };
  }

  return {
    thread: () => worker,
    write<K extends WriteName>(name: K, ...args: Parameters<Writes[K]>): Promise<WriteResult<K>> {
      if (closed) return Promise.reject(new BridgeError('STORE_UNAVAILABLE', 'the SQLite store is closed'));
      const thread = worker && send ? { worker, send } : start();
      const id = nextId++;
      if (waiting.size === 0) thread.worker.ref();
      return new Promise<WriteResult<K>>((resolve, reject) => {
        waiting.set(id, { resolve: resolve as (value: unknown) => void, reject });
        thread.send({ id, request: { name, args } as WriteRequest });
      });
    },
    close() {
      closed ??= (async () => {
        const thread = worker;
        if (!thread) return;
        // Writes already sent (or about to be, this turn) are answered before the thread lets go of the file.
        await new Promise((resolve) => setImmediate(resolve));
        flushHeld?.();
        thread.ref();
        await new Promise<void>((resolve) => {
          thread.on('message', (message: unknown) => message === 'closed' && resolve());
          thread.on('exit', () => resolve());
          thread.postMessage('close');
        });
        worker = undefined;
        await thread.terminate();
      })();
      return closed;
    },
  };
}
