/**
 * How a server is spoken to: where a subscriber subscribes to a topic and what a publish request
 * looks like. The hub, the baseline and the calibration servers speak Mercure (a form POST of
 * `topic` and `data`); Nchan publishes the raw request body to the channel its location names.
 * Subscribing is a GET that wants `text/event-stream` everywhere, and the load generator keys events
 * by the sequence number in their data (payload.ts), never by a server's `id:`, so that both
 * dialects are counted by one ledger.
 */

/** One server's dialect. */
export interface Wire {
  /** The request target (path and query) of a subscription to `topic`. */
  subscribePath(topic: string): string;
  /**
   * The request target and body of a publish to `topic`; the body is `bodyPrefix` followed by the
   * payload, which is URL-safe ASCII (payload.ts) and needs no escaping in either dialect.
   */
  publish(topic: string): { path: string; contentType: string; bodyPrefix: string };
  /** Whether a publish answered with `status` was accepted (its event must reach every subscriber). */
  accepted(status: number): boolean;
}

const HUB_PATH = '/.well-known/mercure';

/**
 * Mercure: `GET /.well-known/mercure?match=<topic>`, `POST /.well-known/mercure` with the form
 * fields `topic` and `data`, 200 with the update id.
 */
export const MERCURE: Wire = {
  subscribePath: (topic) => `${HUB_PATH}?match=${encodeURIComponent(topic)}`,
  publish: (topic) => ({
    path: HUB_PATH,
    contentType: 'application/x-www-form-urlencoded',
    bodyPrefix: `topic=${encodeURIComponent(topic)}&data=`,
  }),
  accepted: (status) => status === 200,
};

/**
 * Nchan's pub/sub location (`nchan_pubsub`, channel id `$arg_match`, see nchan.ts): the same GET as
 * Mercure's, and a POST to the same URL whose whole body is the message. Nchan answers 201 when the
 * channel had subscribers and 202 when it had none (the message is buffered either way).
 */
export const NCHAN: Wire = {
  subscribePath: MERCURE.subscribePath,
  publish: (topic) => ({
    path: MERCURE.subscribePath(topic),
    contentType: 'text/plain',
    bodyPrefix: '',
  }),
  accepted: (status) => status === 201 || status === 202,
};
