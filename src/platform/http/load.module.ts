import { Global, Module } from '@nestjs/common';
import { LoadMonitor } from './load-shedding';

/** The event-loop watch that sheds load: one for the app. */
@Global()
@Module({ providers: [LoadMonitor], exports: [LoadMonitor] })
export class LoadModule {}
