import { Controller, Get } from '@nestjs/common';

/** Readiness for the bench launcher; the same path as the queen's. */
@Controller('health')
export class HealthBaselineController {
  @Get('ready')
  ready(): { status: string } {
    return { status: 'ok' };
  }
}
