import { DATABASE_KINDS } from '../support/databases';
import { TestQueen } from '../support/queen';

/** Stored times are instants: restarting the queen in another time zone must not shift them. */
describe.each(DATABASE_KINDS)('catalog times across time zones (%s)', (database) => {
  const originalTz = process.env.TZ;
  afterEach(() => {
    process.env.TZ = originalTz;
  });

  it('reads back the same instants after a restart in another time zone', async () => {
    process.env.TZ = 'America/New_York';
    const first = await TestQueen.start({ database });
    await first.http().post('/v1/hives').send({ id: 'tz-hive', host: '127.0.0.1', port: 7835 }).expect(201);
    const before = (await first.http().get('/v1/hives/tz-hive').expect(200)).body;
    await first.close();

    process.env.TZ = 'UTC';
    const second = await TestQueen.start({ databaseUrl: first.databaseUrl, dataDir: first.config.dataDir });
    try {
      const after = (await second.http().get('/v1/hives/tz-hive').expect(200)).body;
      expect(after.created_at).toBe('2026-11-27T10:00:00.000Z');
      expect(after).toEqual(before);
    } finally {
      await second.close();
      await first.destroy();
    }
  });
});
