import { CanActivate, ExecutionContext, HttpStatus, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { ProblemException } from '../common/problem';
import { QueenConfig } from '../config/queen-config';
import { bearerToken, secretsEqual } from '../security/tokens';
import { PUBLIC_ROUTE } from './public.decorator';

/**
 * Admin routes need `Authorization: Bearer <QUEEN_API_TOKEN>` when that token
 * is configured. Without one, the queen only listens on loopback (see config).
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
    const isPublic = this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, [context.getHandler(), context.getClass()]);
    if (isPublic) return true;
    const presented = bearerToken(context.switchToHttp().getRequest<Request>().headers.authorization);
    if (presented && secretsEqual(presented, expected)) return true;
    throw new ProblemException(
      HttpStatus.UNAUTHORIZED,
      'unauthorized',
      presented ? 'the admin token is not valid' : 'this route needs Authorization: Bearer <QUEEN_API_TOKEN>',
    );
  }
}
