import { Body, Controller, Delete, HttpCode, HttpStatus, Param, Post, Res, UseInterceptors } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBearerAuth, ApiBody, ApiHeader, ApiParam, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { IDEMPOTENCY_KEY_HEADER, IdempotencyInterceptor } from '../idempotency/idempotency.interceptor';
import { Clock } from '../platform/clock/clock';
import { ApiAdminProblems, ApiBodyProblems, ApiProblem } from '../platform/docs/problem-responses';
import { notFound } from '../platform/http/problem';
import { ProblemDto } from '../platform/http/problem.dto';
import { HiveRegistry } from '../registry/hive-registry';
import { PLACEMENT_REQUEST_EXAMPLES, PlacementRejectedDto } from './dto/placement.dto';
import { StartWorkerDto, WorkerStartedDto, WorkerStoppingDto } from './dto/worker.dto';
import { toPlacementRequest } from './scheduling.mapping';
import { WorkerSpawner } from './worker-spawner';

@ApiTags('workers')
@ApiBearerAuth()
@ApiAdminProblems()
@Controller('v1/workers')
export class WorkersController {
  constructor(
    private readonly spawner: WorkerSpawner,
    private readonly registry: HiveRegistry,
    private readonly clock: Clock,
  ) {}

  /**
   * Start a worker
   * @remarks Places the worker, holds its capacity and asks the chosen hive to start it; if that hive
   * refuses, the next best is tried. A hive whose answer never came may have started it, so that id is
   * not tried again elsewhere. With `Idempotency-Key`, a retry of the same request within 24 h gets the
   * first answer (the same worker) and starts nothing.
   */
  @Post()
  @HttpCode(HttpStatus.ACCEPTED)
  @UseInterceptors(IdempotencyInterceptor)
  @ApiHeader({
    name: IDEMPOTENCY_KEY_HEADER,
    required: false,
    description: 'Any unique string (a UUID): a repeat with the same key and body within 24 h gets the first answer and starts nothing',
    schema: { type: 'string', minLength: 1, maxLength: 255, example: '2f1c0d7e-4a7b-4c1e-9d7a-0b6c5e4f3a21' },
  })
  @ApiBody({ type: StartWorkerDto, examples: PLACEMENT_REQUEST_EXAMPLES })
  @ApiAcceptedResponse({
    type: WorkerStartedDto,
    description: 'A hive is starting the worker; its capacity is held',
    headers: { Location: { description: 'The new worker: /v1/workers/{worker_id}', schema: { type: 'string' } } },
  })
  @ApiProblem(422, 'The `Idempotency-Key` was used for a request with another body')
  @ApiProblem(409, 'No hive can take the worker (`rejections` says why per hive), or a worker with the chosen `worker_id` exists', [
    PlacementRejectedDto,
    ProblemDto,
  ])
  @ApiProblem(404, 'The pinned hive does not exist')
  @ApiProblem(503, 'Hives that could take it all failed to start it; `tried` gives each hive\'s own answer')
  @ApiBodyProblems()
  async start(@Body() body: StartWorkerDto, @Res({ passthrough: true }) res: Response): Promise<WorkerStartedDto> {
    const started = await this.spawner.startWorker(toPlacementRequest(body), { workerId: body.worker_id });
    res.location(`/v1/workers/${encodeURIComponent(started.workerId)}`);
    return {
      worker_id: started.workerId,
      hive_id: started.hiveId,
      device: started.device,
      reservation_id: started.reservationId,
      state: 'starting',
    };
  }

  /**
   * Stop a worker
   * @remarks Asks the worker's hive to stop it and releases the capacity held for it.
   */
  @Delete(':id')
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiParam({ name: 'id', description: 'Worker id', example: 'w-3f2a9c' })
  @ApiAcceptedResponse({
    type: WorkerStoppingDto,
    description: 'The hive is stopping the worker',
    headers: { Location: { description: 'The worker, to follow until it is gone: /v1/workers/{id}', schema: { type: 'string' } } },
  })
  @ApiProblem(404, 'No such worker')
  @ApiProblem(503, 'The hive could not be reached')
  async stop(@Param('id') id: string, @Res({ passthrough: true }) res: Response): Promise<WorkerStoppingDto> {
    const reported = this.registry.findWorker(id);
    const reservation = this.registry.reservationOfWorker(id, this.clock.now());
    const hiveId = reported?.hiveId ?? reservation?.hiveId;
    if (hiveId === undefined) throw notFound('worker', id);
    await this.spawner.stopWorker(id, hiveId, reservation?.id ?? null);
    res.location(`/v1/workers/${encodeURIComponent(id)}`);
    return { worker_id: id, hive_id: hiveId, state: 'stopping' };
  }
}
