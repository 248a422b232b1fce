import type { HiveCapabilities, HiveStatus } from '../domain/fleet';
import type { HiveEntity } from './hive.entity';

export interface SshSettingsInput {
  user?: string;
  port?: number;
  privateKey?: string;
  password?: string;
}

export interface NewHive {
  id: string;
  host: string;
  port: number;
  ssh?: SshSettingsInput;
  labels?: Record<string, string>;
}

/** A partial update; `ssh: null` removes the SSH settings and their secret. */
export interface HivePatch {
  host?: string;
  port?: number;
  ssh?: SshSettingsInput | null;
  labels?: Record<string, string>;
  cordoned?: boolean;
}

/** A catalog hive as the rest of the app sees it: read-only, secrets left out. */
export type CatalogHive = Readonly<Omit<HiveEntity, 'sshSecret' | 'tokenHash'>> & {
  readonly sshCredentialsSet: boolean;
};

/** A change the heartbeat path hands the catalog for one hive. */
export interface HiveChange {
  status?: HiveStatus;
  lastHeartbeatAt?: Date;
  capabilities?: HiveCapabilities;
}

export type HiveAuthResult = 'ok' | 'unknown_hive' | 'missing_token' | 'invalid_token' | 'token_of_another_hive';
