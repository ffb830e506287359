/** What went wrong, as a closed set so callers can switch on it. */
export type SseErrorCode =
  /** An event field cannot be encoded (line break or NUL in `id`/`event`, bad `retry`). */
  | 'invalid_field'
  /** The subscriber fell too far behind and was closed; it resumes with `Last-Event-ID`. */
  | 'slow_subscriber';

/** The one error type of the SSE layer. */
export class SseError extends Error {
  override readonly name = 'SseError';
  readonly code: SseErrorCode;

  constructor(code: SseErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}
