/** Time source. Injected everywhere time matters so tests move time instead of sleeping. */
export abstract class Clock {
  /** Epoch milliseconds. */
  abstract now(): number;
}

export class SystemClock extends Clock {
  now(): number {
    return Date.now();
  }
}

/** A clock that only moves when told to. For tests and simulations. */
export class ManualClock extends Clock {
  constructor(private current = Date.parse('2026-01-01T00:00:00.000Z')) {
    super();
  }

  now(): number {
    return this.current;
  }

  advance(ms: number): void {
    this.current += ms;
  }

  set(epochMs: number): void {
    this.current = epochMs;
  }
}
