/**
 * The hub's URL for a request: what relative topics, relative URL patterns (subscriptions and token
 * grants) and the default `iss`/`aud` of tokens resolve against. It must come from configuration
 * whenever configuration names the hub: the request's `Host` is chosen by the client, so a hub that
 * trusted it would let a token granted `/books/:id` read `https://any-host.example/books/1` by
 * forging `Host: any-host.example`.
 *
 * In order: `--public-url`; else the origin of `--resource` when it is an http(s) URL (the resource
 * identifier is, by default, the hub's URL); only when neither is set, the request's own origin — then
 * the default `aud` and `iss` come from that origin too, so a forged `Host` only gets the tokens
 * refused, never a wider grant.
 */
import { ConfigError } from '../config/index.ts';

/** The settings that name the hub. */
export interface HubUrlSettings {
  publicUrl?: string | undefined;
  resource?: string | undefined;
}

/**
 * The hub URL configuration names, or undefined when only the request can tell.
 * @throws {ConfigError} for a public URL that is not an http(s) URL, or a resource identifier that is
 *   not one while no public URL is set (nothing would then say which origin relative topics are on).
 * @example configuredHubUrl({ resource: 'https://hub.example/.well-known/mercure' }, HUB_PATH)?.href
 *   // 'https://hub.example/.well-known/mercure'
 */
export function configuredHubUrl(settings: HubUrlSettings, hubPath: string): URL | undefined {
  if (settings.publicUrl !== undefined) {
    const url = httpUrl(settings.publicUrl);
    if (!url) {
      throw new ConfigError(
        `SSEHUB_PUBLIC_URL must be an http(s) URL such as https://hub.example.com, got ${JSON.stringify(settings.publicUrl)}`,
      );
    }
    return new URL(hubPath, url.origin);
  }
  if (settings.resource !== undefined) {
    const url = httpUrl(settings.resource);
    if (!url) {
      throw new ConfigError(
        `SSEHUB_RESOURCE ${JSON.stringify(settings.resource)} is not an http(s) URL, so it cannot tell ` +
          'which origin relative topics belong to: set SSEHUB_PUBLIC_URL (--public-url) to the hub origin',
      );
    }
    return new URL(hubPath, url.origin);
  }
  return undefined;
}

/** Decides the hub URL of requests, once per hub; see the module comment. */
export interface HubUrls {
  /**
   * The trusted hub URL for this request: resolve relative topics and patterns against it, and take
   * the default `iss` and `aud` from it. The same URL for every request when configuration names the hub.
   */
  of(request: Request): URL;
  /**
   * Where the client reached the hub (`--public-url`, else the request's origin): only for addresses
   * handed back to that same client to call next (a rooms join answer's `hub`), never to resolve
   * topics or check tokens.
   */
  reachedBy(request: Request): URL;
}

/**
 * Builds the hub URL decision from the settings.
 * @throws {ConfigError} as {@link configuredHubUrl}.
 */
export function hubUrls(settings: HubUrlSettings, hubPath: string): HubUrls {
  const configured = configuredHubUrl(settings, hubPath);
  // One URL per origin the hub is reached on (they are few), not one parse per request.
  const byOrigin = new Map<string, URL>();
  const fromRequest = (request: Request) => {
    const url = request.url;
    const origin = url.slice(0, url.indexOf('/', url.indexOf('//') + 2) >>> 0);
    let hubUrl = byOrigin.get(origin);
    if (!hubUrl) {
      hubUrl = new URL(hubPath, url);
      if (byOrigin.size >= 64) byOrigin.clear();
      byOrigin.set(origin, hubUrl);
    }
    return hubUrl;
  };
  const publicUrl = settings.publicUrl === undefined ? undefined : configured;
  return {
    of: configured ? () => configured : fromRequest,
    reachedBy: publicUrl ? () => publicUrl : fromRequest,
  };
}

function httpUrl(value: string): URL | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  return url.protocol === 'https:' || url.protocol === 'http:' ? url : undefined;
}
