/**
 * The reference server: nginx with the Nchan module, as Debian ships them
 * (`apt-get install -y nginx-light libnginx-mod-nchan`), started as a private instance — its own
 * configuration, error log and pid file in a temporary directory, its own port — never the
 * system's nginx. One worker process, so that it runs on the one core the harness gives a server.
 *
 * What it serves is what the load generator speaks (wire.ts, `NCHAN`): one location that is both
 * the EventSource subscriber endpoint and the publisher endpoint, the channel named by the `match`
 * query argument. There is no token check: Nchan has no JWT verification of its own (it would take
 * an `nchan_authorize_request` subrequest to an application), so the tokens the bench sends are
 * ignored, while the hub verifies every one.
 */

export const NGINX = '/usr/sbin/nginx';
export const NCHAN_MODULE = '/usr/lib/nginx/modules/ngx_nchan_module.so';

/** Messages kept per channel for `Last-Event-ID` resumption: as many as the hub's history (1000). */
export const NCHAN_BUFFER_LENGTH = 1000;

/**
 * The nginx.conf of the bench's Nchan server.
 *
 * @param o.port where it listens (127.0.0.1 only)
 * @param o.dir its private directory: error log, pid file and temp paths go there
 * @param o.connections the connections it may hold (the open-file limit it runs with, less a margin):
 *   every subscriber, publisher and probe connection counts
 *
 * @example
 * writeFileSync(join(dir, 'nginx.conf'), nchanConfig({ port: 8080, dir, connections: 20_000 }));
 */
export function nchanConfig(o: { port: number | string; dir: string; connections: number }): string {
  return `# Written by bench/nchan.ts for one run; nginx -p ${o.dir} -c ${o.dir}/nginx.conf
load_module ${NCHAN_MODULE};

worker_processes 1;
error_log ${o.dir}/error.log warn;
pid ${o.dir}/nginx.pid;

events {
  # Every subscriber is a connection, and the open-file limit (from the harness's ulimit -n) bounds
  # them. nginx starts closing reusable connections — idle subscribers among them — once fewer than
  # 1/16 of worker_connections are free ("worker_connections are not enough, reusing connections"),
  # so it is set a tenth above that limit.
  worker_connections ${Math.ceil(o.connections * 1.1)};
}

http {
  access_log off;
  client_body_temp_path ${o.dir}/body;
  proxy_temp_path ${o.dir}/proxy;
  fastcgi_temp_path ${o.dir}/fastcgi;
  uwsgi_temp_path ${o.dir}/uwsgi;
  scgi_temp_path ${o.dir}/scgi;
  # Publish bodies (512 B) stay in memory.
  client_body_buffer_size 64k;
  # The publisher keeps its connections (nginx closes one after 1000 requests by default; Node
  # servers do not).
  keepalive_requests 1000000;
  # Channels and their buffered messages live in this shared memory zone; pages count in RSS only
  # once used.
  nchan_shared_memory_size 256m;

  server {
    listen 127.0.0.1:${o.port};

    location = /.well-known/mercure {
      # GET with Accept: text/event-stream subscribes (EventSource); POST publishes its body.
      nchan_pubsub;
      nchan_channel_id $arg_match;
      # Buffered messages, for Last-Event-ID resumption: as many as the hub's history keeps.
      nchan_message_buffer_length ${NCHAN_BUFFER_LENGTH};
      nchan_message_timeout 1h;
      # A new subscriber without Last-Event-ID gets what is published from now on, as on the hub
      # (Nchan's default, oldest, would first replay the buffer).
      nchan_subscriber_first_message newest;
      # Keep-alive comments every 15 s, the hub's default heartbeat.
      nchan_eventsource_ping_interval 15;
    }

    location = /healthz {
      return 200 "ok\\n";
    }
  }
}
`;
}
