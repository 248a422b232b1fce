import type { PlacementDto, PlacementRequestDto } from './dto/placement.dto';
import type { Placement, PlacementRequest } from './placement';

export function toPlacementRequest(body: PlacementRequestDto): PlacementRequest {
  return {
    modelId: body.model_id,
    vramBytes: body.vram_bytes,
    ramBytes: body.ram_bytes ?? 0,
    backend: body.backend,
    strategy: body.strategy ?? 'binpack',
    hiveId: body.hive_id,
    labels: body.labels,
  };
}

export function toPlacementDto(placement: Placement): PlacementDto {
  return {
    hive_id: placement.hiveId,
    device: placement.device,
    backend: placement.backend,
    device_id: placement.deviceId,
    score: placement.score,
  };
}
