/**
 * The conformance suite: one black-box HTTP suite, written once against a base URL, run against every
 * runtime by a few-line spawner (`node.test.ts`, …).
 */
import { afterAll, beforeAll, describe } from 'vitest';
import { setEventIdView } from '../helpers/sse.ts';
import { authTests } from './auth.ts';
import { updateIdOf } from './client.ts';
import { configuredTests } from './configured.ts';
import { corsTests } from './cors.ts';
import { costTests } from './costs.ts';
import { fuzzTests } from './fuzz.ts';
import { surfaceFuzzTests } from './fuzz-surface.ts';
import { headersTests } from './headers.ts';
import { idTests } from './ids.ts';
import { legacyTests } from './legacy.ts';
import { lifecycleTests } from './lifecycle.ts';
import { limitsTests } from './limits.ts';
import { operationsTests } from './operations.ts';
import { presenceTests } from './presence.ts';
import { privateTests } from './private.ts';
import { publishTests } from './publish.ts';
import { reconcileTests } from './reconcile.ts';
import { rewindTests } from './rewind.ts';
import { subscribeTests } from './subscribe.ts';
import type { Capabilities, Start, Target } from './target.ts';

export function conformance(runtime: string, start: Start, caps: Capabilities) {
  describe(`conformance: ${runtime}`, () => {
    let target: Target | undefined;
    const current = () => {
      if (!target) throw new Error(`${runtime} hub did not start`);
      return target;
    };
    beforeAll(async () => {
      setEventIdView(caps.compositeIds ? updateIdOf : undefined);
      target = await start();
    });
    afterAll(async () => {
      setEventIdView(undefined);
      await target?.stop();
    });
    // Reconciliation first: its first test needs a hub with empty history.
    describe('reconciliation', () => reconcileTests(current));
    describe('rewind (extension)', () => rewindTests(current, start));
    describe('publish', () => publishTests(current));
    describe('ids in headers', () => idTests(current, caps));
    describe('subscribe', () => subscribeTests(current));
    describe('lifecycle', () => lifecycleTests(current, start, caps));
    describe('authorization', () => authTests(current));
    describe('private updates', () => privateTests(current, start));
    describe('fuzzed tokens and headers', () => fuzzTests(current));
    describe('fuzzed patterns, ids, types and data', () => surfaceFuzzTests(current));
    describe('CORS and discovery', () => corsTests(current));
    describe('security headers', () => headersTests(current));
    describe('active subscriptions', () => presenceTests(current, caps));
    describe('connection limits', () => limitsTests(start, caps));
    describe('operator controls', () => operationsTests(start, caps));
    describe('costs and bounds', () => costTests(current, start, caps));
    describe('configured resource, cookie and JWKS URL', () => configuredTests(start));
    describe('legacy mode', () => legacyTests(current, start));
  });
}
