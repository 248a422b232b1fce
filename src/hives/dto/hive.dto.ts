import { OmitType } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  IsBoolean,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
  NotEquals,
  ValidateNested,
} from 'class-validator';
import { ExclusiveWith, IsHost, IsLabelMap, OptionalNotNull } from '../../platform/http/validators';
import { HiveDto } from '../../fleet/dto/hive.dto';

// Patterns are written out in each decorator: the Swagger plugin copies
// literals into the OpenAPI `pattern`, not constants.
// Optional fields use OptionalNotNull, not IsOptional: `{ "port": null }` is
// refused rather than passed on to the catalog. The one meaningful null is
// PATCH `ssh: null` (remove the SSH settings).

export class CreateSshSettingsDto {
  /**
   * Login user on the hive machine.
   * @example "rbee"
   */
  @IsString()
  @Matches(/^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/, { message: 'user must be a valid login name' })
  user: string;

  /**
   * SSH port.
   * @example 22
   */
  @OptionalNotNull()
  @IsInt()
  @Min(1)
  @Max(65535)
  port?: number;

  /**
   * PEM private key. Stored encrypted, never returned.
   * @example "-----BEGIN OPENSSH PRIVATE KEY-----\n...\n-----END OPENSSH PRIVATE KEY-----"
   */
  @OptionalNotNull()
  @IsString()
  @MaxLength(16384)
  @Matches(/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/, { message: 'private_key must be a PEM private key' })
  @ExclusiveWith('password')
  private_key?: string;

  /**
   * SSH password, when no key is used. Stored encrypted, never returned.
   * @example "correct horse battery staple"
   */
  @OptionalNotNull()
  @IsString()
  @MinLength(1)
  @MaxLength(1024)
  password?: string;
}

/**
 * Like {@link CreateSshSettingsDto}, with `user` optional too: given fields replace
 * the stored ones, and a new key or password replaces the stored secret.
 */
export class PatchSshSettingsDto extends OmitType(CreateSshSettingsDto, ['user'] as const) {
  /**
   * Login user on the hive machine.
   * @example "rbee"
   */
  @OptionalNotNull()
  @IsString()
  @Matches(/^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/, { message: 'user must be a valid login name' })
  user?: string;
}

export class CreateHiveDto {
  /**
   * 1–63 characters of `a-z 0-9 . _ -`, starting with a letter or digit.
   * @example "gpu-node-01"
   */
  @IsString()
  @Matches(/^[a-z0-9][a-z0-9._-]{0,62}$/, {
    message: 'id must be 1-63 characters of a-z, 0-9, ".", "_" or "-", starting with a letter or digit',
  })
  @NotEquals('active', { message: 'id "active" is reserved' })
  id: string;

  /**
   * Address where the hive agent listens.
   * @example "10.0.0.5"
   */
  @IsString()
  @IsHost()
  host: string;

  /**
   * Port of the hive agent.
   * @example 7835
   */
  @IsInt()
  @Min(1)
  @Max(65535)
  port: number;

  /** How the queen logs in to the hive machine. */
  @OptionalNotNull()
  @IsObject()
  @ValidateNested()
  @Type(() => CreateSshSettingsDto)
  ssh?: CreateSshSettingsDto;

  /**
   * Free-form labels, matched by placements.
   * @example { "zone": "a" }
   */
  @OptionalNotNull()
  @IsLabelMap()
  labels?: Record<string, string>;
}

export class PatchHiveDto {
  /** @example "10.0.0.6" */
  @OptionalNotNull()
  @IsString()
  @IsHost()
  host?: string;

  /** @example 7835 */
  @OptionalNotNull()
  @IsInt()
  @Min(1)
  @Max(65535)
  port?: number;

  /** New SSH settings, merged into the stored ones; `null` removes them and their secret. */
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => PatchSshSettingsDto)
  ssh?: PatchSshSettingsDto | null;

  /**
   * Replaces all labels.
   * @example { "zone": "b" }
   */
  @OptionalNotNull()
  @IsLabelMap()
  labels?: Record<string, string>;

  /**
   * A cordoned hive keeps its workers but gets no new placements.
   * @example true
   */
  @OptionalNotNull()
  @IsBoolean()
  cordoned?: boolean;
}

export class CreatedHiveDto extends HiveDto {
  /**
   * The hive's heartbeat token. Shown once: only its hash is stored.
   * @example "qh_3q2F...x0"
   */
  heartbeat_token: string;
}

export class HiveTokenDto {
  /** @example "qh_3q2F...x0" */
  heartbeat_token: string;
}
