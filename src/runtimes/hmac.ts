/**
 * HMAC through `node:crypto`, which Node, Bun and Deno all provide: computed synchronously, it spares
 * each HMAC-signed token a Web Crypto job (on Node, a round trip through the thread pool and a promise
 * — most of what a new subscription cost). The hub compares the MAC itself (`hub/verify.ts`).
 */
import { createHmac } from 'node:crypto';
import type { Hmac } from '../hub/index.ts';

export const nodeHmac: Hmac = (hash, secret, data) =>
  createHmac(hash, secret).update(data, 'latin1').digest();
