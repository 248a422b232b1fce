import { Global, Module } from '@nestjs/common';
import { EventsController } from './events.controller';
import { EventStream } from './event-stream';
import { FleetEvents } from './fleet-events';

/** The in-process event bus, and its public side: the `/v1/events` stream. */
@Global()
@Module({ controllers: [EventsController], providers: [FleetEvents, EventStream], exports: [FleetEvents] })
export class EventsModule {}
