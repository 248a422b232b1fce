import { createHash } from 'node:crypto';
import { HttpStatus, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { IdempotencyRecords, RecordedAnswer } from '../catalog/idempotency-records';
import { Clock } from '../platform/clock/clock';
import { ProblemException } from '../platform/http/problem';

/** How long a first answer is kept for repeats of its key (API.md: 24 h). */
export const IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60 * 1000;
/** How often answers older than the window are deleted. */
const SWEEP_EVERY_MS = 60 * 60 * 1000;

/** A first answer, and the error it came from when it was one (rethrown so the error filter answers it). */
export interface FirstAnswer {
  answer: RecordedAnswer;
  error?: unknown;
}

export interface IdempotentOutcome extends FirstAnswer {
  replayed: boolean;
}

/**
 * Answers that started nothing and may be worth another try are not kept: an invalid request (400,
 * fixed and resent under the same key), a missing token, a refusal under load, and any 5xx.
 */
const NOT_KEPT = new Set([HttpStatus.BAD_REQUEST, HttpStatus.UNAUTHORIZED, HttpStatus.FORBIDDEN, HttpStatus.TOO_MANY_REQUESTS]);
export const isKept = (status: number) => status < 500 && !NOT_KEPT.has(status);

/** JSON with object keys sorted, so that two bodies that differ only in key order count as the same request. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.keys(value)
      .sort()
      .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
      .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export const requestHashOf = (body: unknown) => createHash('sha256').update(canonicalJson(body ?? null)).digest('hex');

/**
 * `Idempotency-Key` (API.md): the first request under a key runs; a repeat within 24 h with the same
 * body gets the first answer again and runs nothing; a repeat with another body is refused (422).
 * Requests under one key run one after the other, so a repeat sent while the first still runs waits for
 * its answer instead of running beside it. Answers are kept in the database: a restarted queen replays
 * them too.
 */
@Injectable()
export class IdempotencyService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(IdempotencyService.name);
  /** Per scope and key, the request under way (and those queued behind it). */
  private readonly turns = new Map<string, Promise<IdempotentOutcome>>();
  private sweeper: NodeJS.Timeout | undefined;

  constructor(
    private readonly records: IdempotencyRecords,
    private readonly clock: Clock,
  ) {}

  onModuleInit(): void {
    this.sweeper = setInterval(() => void this.forgetExpired(), SWEEP_EVERY_MS);
    this.sweeper.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.sweeper);
  }

  /** Runs `run` for the first request under `key` in `scope`, or answers as the first did. */
  once(scope: string, key: string, requestHash: string, run: () => Promise<FirstAnswer>): Promise<IdempotentOutcome> {
    const id = `${scope}\n${key}`;
    const previous = this.turns.get(id);
    const turn = (previous ?? Promise.resolve()).catch(() => undefined).then(() => this.answer(scope, key, requestHash, run));
    this.turns.set(id, turn);
    const forget = () => {
      if (this.turns.get(id) === turn) this.turns.delete(id);
    };
    turn.then(forget, forget);
    return turn;
  }

  private async answer(scope: string, key: string, requestHash: string, run: () => Promise<FirstAnswer>): Promise<IdempotentOutcome> {
    const kept = await this.records.find(scope, key, new Date(this.clock.now() - IDEMPOTENCY_WINDOW_MS));
    if (kept) {
      if (kept.requestHash !== requestHash) {
        throw new ProblemException(
          HttpStatus.UNPROCESSABLE_ENTITY,
          'idempotency-key-reused',
          `Idempotency-Key "${key}" was used for a request with another body; use a new key for a new request`,
        );
      }
      return { answer: kept, replayed: true };
    }
    const first = await run();
    if (isKept(first.answer.status)) {
      try {
        await this.records.save(scope, key, { requestHash, ...first.answer }, new Date(this.clock.now()));
      } catch (error) {
        // What was done is done and is answered; only a later repeat of this key could not be recognised.
        this.logger.error(`could not keep the answer to Idempotency-Key "${key}" (${scope}): ${(error as Error).message}`);
      }
    }
    return { ...first, replayed: false };
  }

  private async forgetExpired(): Promise<void> {
    try {
      const forgotten = await this.records.deleteRecordedBefore(new Date(this.clock.now() - IDEMPOTENCY_WINDOW_MS));
      if (forgotten > 0) this.logger.log(`forgot ${forgotten} idempotency key(s) older than 24 h`);
    } catch (error) {
      this.logger.warn(`could not forget expired idempotency keys: ${(error as Error).message}`);
    }
  }
}
