/**
 * Workers: the admin API's denylist lives in the hub Durable Object's SQLite storage, like its
 * history, so a revoked token stays refused after the object restarts.
 */
import type { Miniflare } from 'miniflare';
import { afterAll, expect, it } from 'vitest';
import { fixtureEnv } from '../conformance/target.ts';
import { bearer, detail, draft } from '../conformance/tokens.ts';
import { persistDir } from '../helpers/runtimes.ts';
import { bundleWorker, startMiniflare } from '../helpers/workerd-bundle.ts';

const HUB = 'http://hub.test/.well-known/mercure';
const vars = { ...fixtureEnv, SSEHUB_ADMIN_KEY: 'workers-admin-key' };

let mf: Miniflare | undefined;
const dir = persistDir();
afterAll(async () => {
  await mf?.dispose();
  await (await dir).remove();
});

it('keeps revocations across a restart of the hub object', async () => {
  const { code } = await bundleWorker();
  const path = (await dir).path;
  mf = startMiniflare(code, vars, path);
  const token = await draft([detail(['subscribe'], [{ match: '*' }])], {}, { sub: 'revoked-on-workers' });
  const status = async () => {
    const response = await mf!.dispatchFetch(`${HUB}?match=%2Fw`, { headers: bearer(token) });
    await response.body?.cancel();
    return response.status;
  };
  expect(await status()).toBe(200);
  const revoked = await mf.dispatchFetch('http://hub.test/admin/revoke', {
    method: 'POST',
    headers: { authorization: 'Bearer workers-admin-key', 'content-type': 'application/json' },
    body: JSON.stringify({ sub: 'revoked-on-workers', ttl: 600 }),
  });
  expect(revoked.status).toBe(200);
  await revoked.body?.cancel();
  expect(await status()).toBe(401);

  await mf.dispose();
  mf = startMiniflare(code, vars, path);
  expect(await status()).toBe(401);
});
