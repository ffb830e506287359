/**
 * The slice of the Workers runtime API that `cloudflare.ts` uses, typed here so that the project
 * needs no `@cloudflare/workers-types` (whose globals clash with the DOM library the core is checked
 * against). See https://developers.cloudflare.com/durable-objects/api/ for the full surface.
 */
declare module 'cloudflare:workers' {
  /** Base class of a Durable Object (RPC-capable); `ctx` and `env` are set by its constructor. */
  export abstract class DurableObject<Env = unknown> {
    protected readonly ctx: DurableObjectState;
    protected readonly env: Env;
    constructor(ctx: DurableObjectState, env: Env);
    fetch?(request: Request): Response | Promise<Response>;
  }

  export interface DurableObjectState {
    readonly id: DurableObjectId;
    readonly storage: {
      /** SQLite storage (only for classes created with `new_sqlite_classes`). Synchronous. */
      readonly sql: {
        exec(query: string, ...bindings: unknown[]): { toArray(): Record<string, unknown>[] };
      };
      /** Runs `fn` in one transaction, rolled back if it throws. */
      transactionSync<T>(fn: () => T): T;
    };
    waitUntil(promise: Promise<unknown>): void;
    /** Resets the object: its in-memory state and every request it holds end (tests use it as an eviction). */
    abort(reason?: string): void;
    /** Holds every incoming request until `callback` settles (used during start-up). */
    blockConcurrencyWhile<T>(callback: () => Promise<T>): Promise<T>;
  }

  export interface DurableObjectId {
    toString(): string;
    /** The name the id was made from (`idFromName`), also inside the object. */
    readonly name?: string;
  }

  /** A Durable Object binding (`env.HUB`). */
  export interface DurableObjectNamespace {
    idFromName(name: string): DurableObjectId;
    get(id: DurableObjectId): { fetch(request: Request): Promise<Response> };
  }

  /** The Worker's per-request context. */
  export interface ExecutionContext {
    waitUntil(promise: Promise<unknown>): void;
  }
}
