import { CanActivate, ExecutionContext, HttpStatus, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { ProblemException } from '../http/problem';
import { QueenConfig } from '../config/queen-config';
import { bearerToken, secretsEqual } from '../security/tokens';
import { PUBLIC_ROUTE, QUERY_TOKEN_ROUTE } from './public.decorator';

/** The `?access_token=` of a request: one non-empty string, else null (repeated or nested values do not count). */
function queryToken(request: Request): string | null {
  const value: unknown = request.query?.access_token;
  return typeof value === 'string' && value.length > 0 ? value : null;
}

/**
 * Admin routes need `Authorization: Bearer <QUEEN_API_TOKEN>` when that token
 * is configured. Without one, the queen only listens on loopback (see config).
 * Routes marked {@link AllowQueryToken} also take `?access_token=<token>`.
 */
@Injectable()
export class AdminAuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly config: QueenConfig,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const expected = this.config.apiToken;
    if (!expected) return true;
    const targets = [context.getHandler(), context.getClass()];
    const isPublic = this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, targets);
    if (isPublic) return true;
    const request = context.switchToHttp().getRequest<Request>();
    const allowsQuery = this.reflector.getAllAndOverride<boolean>(QUERY_TOKEN_ROUTE, targets) === true;
    const presented = bearerToken(request.headers.authorization) ?? (allowsQuery ? queryToken(request) : null);
    if (presented && secretsEqual(presented, expected)) return true;
    throw new ProblemException(
      HttpStatus.UNAUTHORIZED,
      'unauthorized',
      presented
        ? 'the admin token is not valid'
        : `this route needs Authorization: Bearer <QUEEN_API_TOKEN>${allowsQuery ? ' or ?access_token=<QUEEN_API_TOKEN>' : ''}`,
    );
  }
}
