import { Injectable } from '@nestjs/common';

/**
 * The baseline's whole "state": the last body per key, in a Map. Stands in
 * for the queen's registry at the cheapest possible cost.
 */
@Injectable()
export class BaselineStore {
  readonly heartbeats = new Map<string, unknown>();
}
