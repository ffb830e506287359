/**
 * Access-token verification on Node, two ways, in one run: `webcrypto` is the hub's verification with
 * jose doing the signature through Web Crypto (what Workers do, and what Node did before), `sync` the
 * same verification with the runtime's synchronous checks (`src/runtimes/signatures.ts`, what Node,
 * Bun and Deno do now). Every token is distinct — as every subscriber of a reconnect storm brings its
 * own — and verified once, one after the other, as requests arrive: the hub caches a verified token,
 * so a repeated one would measure the cache.
 *
 * Correctness first: both ways must accept every token with the same claims, and refuse a forged copy
 * of each, or the run aborts. CPU is the process's (`process.cpuUsage`, all threads: Web Crypto runs
 * in the thread pool). The result replaces the `verify` section of bench/RESULTS.md.
 *
 * @example
 * taskset -c 0 npm run bench:verify     # ~30 s; --no-write prints without touching RESULTS.md
 */
import { constants, createHmac, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { loadIssuers } from '../src/hub/issuers.ts';
import { InvalidToken, type VerifyOptions, verifyToken } from '../src/hub/verify.ts';
import { nodeSignatures } from '../src/runtimes/signatures.ts';
import { mergeReport } from './report-sections.ts';
import { alignTable } from './report-table.ts';

const SECTION_ID = 'verify';
const RESULTS = new URL('./RESULTS.md', import.meta.url);
const RESOURCE = 'https://hub.example/.well-known/mercure';
const TOKENS = 3000;
const ROUNDS = 3;

const b64 = (text: string) => Buffer.from(text).toString('base64url');
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ed = generateKeyPairSync('ed25519');
const SECRET = 'bench-verify-secret-0123456789abcdef-0123';
const spki = (key: KeyObject) => key.export({ type: 'spki', format: 'pem' }).toString();

interface Case {
  alg: string;
  iss: string;
  /** How a key of this issuer is configured. */
  key: string;
  sign(data: string): Buffer;
}

const CASES: Case[] = [
  {
    alg: 'HS256',
    iss: 'https://hs.example',
    key: 'shared secret',
    sign: (data) => createHmac('sha256', SECRET).update(data).digest(),
  },
  {
    alg: 'RS256',
    iss: 'https://rs.example',
    key: 'RSA 2048, PEM',
    sign: (data) => sign('sha256', Buffer.from(data), rsa.privateKey),
  },
  {
    alg: 'PS256',
    iss: 'https://ps.example',
    key: 'RSA 2048, PEM',
    sign: (data) =>
      sign('sha256', Buffer.from(data), {
        key: rsa.privateKey,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: 32,
      }),
  },
  {
    alg: 'ES256',
    iss: 'https://es.example',
    key: 'P-256, JWK',
    sign: (data) => sign('sha256', Buffer.from(data), { key: p256.privateKey, dsaEncoding: 'ieee-p1363' }),
  },
  {
    alg: 'EdDSA',
    iss: 'https://ed.example',
    key: 'Ed25519, JWK set',
    sign: (data) => sign(null, Buffer.from(data), ed.privateKey),
  },
];

function token(c: Case, i: number, round: number): string {
  const header = b64(
    JSON.stringify({ alg: c.alg, typ: 'at+jwt', ...(c.alg === 'EdDSA' ? { kid: 'ed' } : {}) }),
  );
  const claims = b64(
    JSON.stringify({
      iss: c.iss,
      aud: RESOURCE,
      sub: `subscriber-${round}-${i}`,
      exp: Math.floor(Date.now() / 1000) + 3600,
      authorization_details: [
        {
          type: 'https://mercure.rocks/authorization-detail',
          actions: ['subscribe'],
          topics: [{ match: `/rooms/${i}` }],
        },
      ],
    }),
  );
  return `${header}.${claims}.${c.sign(`${header}.${claims}`).toString('base64url')}`;
}

async function main(): Promise<void> {
  const write = !process.argv.includes('--no-write');
  const started = performance.now();
  const issuers = await loadIssuers([
    { issuer: 'https://hs.example', keys: [{ secret: SECRET }] },
    { issuer: 'https://rs.example', keys: [{ pem: spki(rsa.publicKey), alg: 'RS256' }] },
    { issuer: 'https://ps.example', keys: [{ pem: spki(rsa.publicKey), alg: 'PS256' }] },
    {
      issuer: 'https://es.example',
      keys: [{ jwk: p256.publicKey.export({ format: 'jwk' }) as Record<string, string>, alg: 'ES256' }],
    },
    {
      issuer: 'https://ed.example',
      keys: [
        {
          jwks: {
            keys: [{ ...(ed.publicKey.export({ format: 'jwk' }) as object), kid: 'ed', alg: 'EdDSA' }],
          },
        },
      ],
    },
  ]);
  const base: VerifyOptions = {
    use: 'subscribe',
    resource: RESOURCE,
    defaultIssuer: 'https://hub.example',
    legacy: false,
  };
  const ways = { webcrypto: base, sync: { ...base, signatures: nodeSignatures } };

  const rows: string[][] = [];
  for (const c of CASES) {
    // Correctness: the same claims both ways, and a forged copy refused both ways.
    const sample = token(c, 0, -1);
    const [a, b] = [
      await verifyToken(sample, issuers, ways.webcrypto),
      await verifyToken(sample, issuers, ways.sync),
    ];
    if (JSON.stringify(a) !== JSON.stringify(b)) throw new Error(`${c.alg}: the two ways disagree`);
    const [h, , s] = sample.split('.');
    const forged = `${h}.${b64(JSON.stringify({ ...a.claims, sub: 'eve' }))}.${s}`;
    for (const options of Object.values(ways)) {
      const refused = await verifyToken(forged, issuers, options).then(
        () => false,
        (error) => error instanceof InvalidToken,
      );
      if (!refused) throw new Error(`${c.alg}: a forged token was not refused`);
    }
    const cpu: Record<string, number[]> = { webcrypto: [], sync: [] };
    const wall: Record<string, number[]> = { webcrypto: [], sync: [] };
    for (let round = 0; round < ROUNDS; round++) {
      // Interleaved ways, fresh tokens each time.
      for (const [way, options] of Object.entries(ways)) {
        const tokens = Array.from({ length: TOKENS }, (_, i) =>
          token(c, i, round * 2 + (way === 'sync' ? 1 : 0)),
        );
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        for (const t of tokens) await verifyToken(t, issuers, options);
        const used = process.cpuUsage(c0);
        wall[way]!.push(((performance.now() - t0) * 1000) / TOKENS);
        cpu[way]!.push((used.user + used.system) / TOKENS);
      }
    }
    const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
    const [cw, cs, ww, ws] = [
      median(cpu.webcrypto!),
      median(cpu.sync!),
      median(wall.webcrypto!),
      median(wall.sync!),
    ];
    rows.push([
      `\`${c.alg}\` (${c.key})`,
      cw.toFixed(1),
      cs.toFixed(1),
      `${(cs / cw).toFixed(2)}× (${(cw / cs).toFixed(1)}× better)`,
      ww.toFixed(1),
      ws.toFixed(1),
    ]);
    console.error(`measured ${c.alg}`);
  }

  const out = [
    `<!-- section:${SECTION_ID} -->`,
    '## Token verification: Web Crypto vs the synchronous checks (Node)',
    '',
    `- **Date:** ${new Date().toISOString()}`,
    `- **Command:** \`${process.env.npm_lifecycle_event === 'bench:verify' ? 'npm run bench:verify' : 'tsx bench/verify.ts'}\` (pinned with \`taskset -c 0\`)`,
    `- **Machine:** ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown CPU'}; Node ${process.version}; the run took ${Math.round((performance.now() - started) / 1000)} s`,
    '- **Ways:** `webcrypto` = `verifyToken` (`src/hub/verify.ts`) with jose checking the signature through Web Crypto, as on Workers and as Node did before; `sync` = the same with `nodeSignatures` (`src/runtimes/signatures.ts`), as Node, Bun and Deno do now. Everything else — decoding, `typ`, issuer and key choice, claims — is the same code.',
    `- **Method:** ${TOKENS} distinct tokens per round (a \`sub\` and a grant each, like a reconnect storm's subscribers), each verified once, one after the other; ${ROUNDS} rounds, the ways interleaved, medians shown. CPU = the whole process (user + system, every thread: Web Crypto works in the thread pool) per token. Both ways must give the same claims and refuse a forged copy of each token, or the run aborts.`,
    '',
    ...alignTable(
      [
        'algorithm (key)',
        'webcrypto CPU (µs)',
        'sync CPU (µs)',
        'sync ÷ webcrypto',
        'webcrypto wall (µs)',
        'sync wall (µs)',
      ],
      rows,
    ),
    `<!-- /section:${SECTION_ID} -->`,
  ];
  const text = out.join('\n');
  console.log(text);
  if (write) {
    let existing: string | undefined;
    try {
      existing = readFileSync(RESULTS, 'utf8');
    } catch {
      existing = undefined;
    }
    writeFileSync(RESULTS, mergeReport(existing, { section: { id: SECTION_ID, text } }));
    console.error(`wrote the ${SECTION_ID} section of ${RESULTS.pathname}`);
  }
}

await main();
