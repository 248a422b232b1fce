import { ArgumentMetadata, Injectable, PipeTransform, ValidationPipe } from '@nestjs/common';
import { QueenValidationPipe, VALIDATION_OPTIONS } from '../../../src/platform/http/validation';
import { HeartbeatDto } from './heartbeat.dto';

/**
 * The queen's validation pipe, except for the heartbeat DTO, which it runs
 * through Nest's standard ValidationPipe with the same options and unknown
 * fields dropped (as heartbeats allow): class-validator's floor for the route.
 */
@Injectable()
export class BaselinePipe implements PipeTransform {
  private readonly queen = new QueenValidationPipe();
  private readonly heartbeats = new ValidationPipe({ ...VALIDATION_OPTIONS, forbidNonWhitelisted: false });

  transform(value: unknown, metadata: ArgumentMetadata): unknown {
    return metadata.metatype === HeartbeatDto ? this.heartbeats.transform(value, metadata) : this.queen.transform(value, metadata);
  }
}
