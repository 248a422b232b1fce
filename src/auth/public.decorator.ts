import { SetMetadata } from '@nestjs/common';

export const PUBLIC_ROUTE = 'queen:public-route';

/**
 * Exempts a route or controller from admin auth: health, docs, metrics, and
 * the heartbeat (which authenticates the hive by its own token).
 */
export const Public = () => SetMetadata(PUBLIC_ROUTE, true);
