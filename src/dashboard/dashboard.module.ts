import { Module } from '@nestjs/common';
import { DashboardController } from './dashboard.controller';

/** The fleet dashboard at `GET /` (static files; data comes from the API). */
@Module({ controllers: [DashboardController] })
export class DashboardModule {}
