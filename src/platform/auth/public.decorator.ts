import { SetMetadata } from '@nestjs/common';

export const PUBLIC_ROUTE = 'queen:public-route';
export const QUERY_TOKEN_ROUTE = 'queen:query-token-route';

/**
 * Exempts a route or controller from admin auth: health, docs, metrics, and
 * the heartbeat (which authenticates the hive by its own token).
 */
export const Public = () => SetMetadata(PUBLIC_ROUTE, true);

/**
 * Lets a route take the admin token as `?access_token=` when no Authorization
 * header is sent. Only for routes a browser opens without being able to set
 * headers (EventSource on GET /v1/events); the token then sits in a URL, so
 * the request log redacts it (see LoggingModule).
 */
export const AllowQueryToken = () => SetMetadata(QUERY_TOKEN_ROUTE, true);
