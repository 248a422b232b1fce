import { Global, Module } from '@nestjs/common';
import { EventsController } from './events.controller';
import { FleetEvents } from './fleet-events';

@Global()
@Module({ controllers: [EventsController], providers: [FleetEvents], exports: [FleetEvents] })
export class EventsModule {}
