/** Why a URL pattern was refused. */
export type UrlPatternErrorCode = 'malformed' | 'unsupported' | 'too-long' | 'too-complex';

/**
 * Thrown for a malformed, unsupported or too-long pattern; `message` is safe to show to clients
 * (it only ever quotes the client's own pattern).
 *
 * @example
 * try { compileUrlPattern(query.get('match_urlpattern')!, hubURL); }
 * catch (err) { if (err instanceof UrlPatternError) return new Response(err.message, { status: 400 }); throw err; }
 */
export class UrlPatternError extends Error {
  override readonly name = 'UrlPatternError';
  readonly code: UrlPatternErrorCode;

  constructor(message: string, code: UrlPatternErrorCode = 'malformed', options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}
