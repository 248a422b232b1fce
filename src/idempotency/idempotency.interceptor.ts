import { createHash } from 'node:crypto';
import { CallHandler, ExecutionContext, HttpException, HttpStatus, Injectable, NestInterceptor } from '@nestjs/common';
import { HTTP_CODE_METADATA } from '@nestjs/common/constants';
import { Reflector } from '@nestjs/core';
import type { Request, Response } from 'express';
import { from, lastValueFrom, Observable } from 'rxjs';
import type { RecordedAnswer } from '../catalog/idempotency-records';
import { PROBLEM_CONTENT_TYPE, ProblemException, serializeProblem } from '../platform/http/problem';
import { fromHttpException } from '../platform/http/problem.filter';
import { bearerToken } from '../platform/security/tokens';
import { FirstAnswer, IdempotencyService, requestHashOf } from './idempotency.service';

/** RFC 9110 token characters would be stricter; any visible ASCII, as clients generate UUIDs, ULIDs or their own. */
const KEY = /^[\x21-\x7e]{1,255}$/;
export const IDEMPOTENCY_KEY_HEADER = 'Idempotency-Key';

/** Who is asking, for the key's scope: a hash of the bearer token, never the token. */
function callerOf(req: Request): string {
  const token = bearerToken(req.headers.authorization);
  return token === null ? 'anonymous' : createHash('sha256').update(token).digest('hex').slice(0, 32);
}

/**
 * Makes a route honour `Idempotency-Key` (see IdempotencyService). Runs inside the guards, so only an
 * authorised caller's request is kept, and around the validation pipe, whose refusals are not kept.
 */
@Injectable()
export class IdempotencyInterceptor implements NestInterceptor {
  constructor(
    private readonly idempotency: IdempotencyService,
    private readonly reflector: Reflector,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const http = context.switchToHttp();
    const req = http.getRequest<Request>();
    const res = http.getResponse<Response>();
    const key = req.headers['idempotency-key'];
    if (key === undefined) return next.handle();
    if (typeof key !== 'string' || !KEY.test(key)) {
      throw new ProblemException(HttpStatus.BAD_REQUEST, 'invalid-idempotency-key', `${IDEMPOTENCY_KEY_HEADER} must be 1 to 255 visible ASCII characters`);
    }
    const successStatus = this.reflector.get<number | undefined>(HTTP_CODE_METADATA, context.getHandler()) ?? HttpStatus.CREATED;
    const scope = `${req.method} ${req.baseUrl}${(req.route as { path: string }).path} ${callerOf(req)}`;
    const run = async (): Promise<FirstAnswer> => {
      try {
        const body = await lastValueFrom(next.handle());
        const location = res.getHeader('location');
        return {
          answer: { status: successStatus, contentType: 'application/json', body: JSON.stringify(body), location: typeof location === 'string' ? location : null },
        };
      } catch (error) {
        if (!(error instanceof HttpException)) throw error;
        const problem = fromHttpException(error, req);
        return { answer: { status: problem.status, contentType: PROBLEM_CONTENT_TYPE, body: serializeProblem(problem), location: null }, error };
      }
    };
    return from(
      this.idempotency.once(scope, key, requestHashOf(req.body), run).then(({ answer, error, replayed }) => {
        if (!replayed) {
          if (error !== undefined) throw error;
          return JSON.parse(answer.body) as unknown;
        }
        res.setHeader('Idempotent-Replayed', 'true');
        return replay(answer, res);
      }),
    );
  }
}

/** The first answer again: a success as the route sends it, an error as problem JSON (the filter writes it unchanged). */
function replay(answer: RecordedAnswer, res: Response): unknown {
  const body = JSON.parse(answer.body) as unknown;
  if (answer.status >= 400) throw new HttpException(body as Record<string, unknown>, answer.status);
  if (answer.location !== null) res.setHeader('Location', answer.location);
  return body;
}
